"""`python -m app.evaluation` (also `python -m app.evaluate`)."""

import sys

from app.evaluation.cli import main

sys.exit(main())
