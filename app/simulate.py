"""`python -m app.simulate`, the command users know: goal-driven dialogues (app.simulation.cli)."""

import sys

from app.simulation.cli import main

if __name__ == "__main__":
    sys.exit(main())
