"""`python -m app.evaluate`, the command users know: turn-level MultiWOZ evaluation (app.evaluation.cli)."""

import sys

from app.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
