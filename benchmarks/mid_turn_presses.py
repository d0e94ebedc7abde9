"""New dialogue, the trash icon and Stop pressed mid-turn against a slow streaming server: how many of N tries
leave a usable page (see tests/midturn.py for what usable means). Needs Debian's chromium and playwright.

    python -m benchmarks.mid_turn_presses [--tries 20]

Each try is a new browser context at 1440x900 or 390x844 (alternating), pressing 0.25-3 s into the reply (a
different moment each try, so races at every point of a turn get their chance)."""

from __future__ import annotations

import argparse
import tempfile
import time

from app.settings import SIBLING_MULTIWOZ_DB
from tests.backends.test_backends import RawServer
from tests.browser_helpers import chromium, running_app, slow_stream
from tests.midturn import PRESSES, press_mid_turn

SIZES = ({"width": 1440, "height": 900}, {"width": 390, "height": 844})


def main() -> None:
    """Print, per press, how many tries left a usable page, and what was wrong with the others."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    model = RawServer(slow_stream)
    env = {"WOZ_HOME": tempfile.mkdtemp(), "WOZ_DATA_DIR": str(SIBLING_MULTIWOZ_DB)}
    with running_app(["--backend", "openai", "--base-url", model.url, "--model", "m"], env) as url, \
            chromium() as browser:
        for press in PRESSES:
            started, problems = time.monotonic(), []
            for attempt in range(args.tries):
                after_s = 0.25 + (attempt % 12) * 0.25
                if problem := press_mid_turn(browser, url, press, SIZES[attempt % 2], after_s):
                    problems.append(f"  try {attempt + 1} ({after_s:.2f} s in): {problem}")
            usable = args.tries - len(problems)
            print(f"{press}: {usable}/{args.tries} tries left a usable page ({time.monotonic() - started:.0f} s)")
            print("\n".join(problems), flush=True)
    model.close()


if __name__ == "__main__":
    main()
