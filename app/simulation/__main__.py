"""`python -m app.simulation` (also `python -m app.simulate`)."""

import sys

from app.simulation.cli import main

sys.exit(main())
