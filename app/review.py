"""`python -m app.review`, the command users know: the review queue (app.workbench.review_cli)."""

import sys

from app.workbench.review_cli import main

if __name__ == "__main__":
    sys.exit(main())
