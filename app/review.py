"""`python -m app.review`, the command users know: the review queue (app.workbench.review_cli)."""

import sys

from app.settings import exit_on_bad_settings
from app.workbench.review_cli import main

if __name__ == "__main__":
    sys.exit(exit_on_bad_settings(main))
