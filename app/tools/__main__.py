"""`python -m app.tools`: the JSON-lines door (app.tools.door)."""

import sys

from app.tools.door import main

sys.exit(main())
