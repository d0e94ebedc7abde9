"""Throughput and numbers of the goal harness: the agenda user against the rule-based system (the honest
ceiling), the goal oracle (a plumbing check), its two wrong variants, a scripted model that never helps, and (with
--tiny DIR) a tiny random transformers model.

    python -m benchmarks.simulate_goals [--goals 1000] [--runs 4] [--workers 2] [--tiny /tmp/tiny-model]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from app.simulation.cli import main as simulate

NEVER_HELPS = "System: I am sorry, I cannot help with that."


def run(name: str, flags: list[str], goals: int, workers: int, folder: Path, runs: int = 1) -> None:
    out = folder / name
    started = time.perf_counter()
    code = simulate([*flags, "--goals", str(goals), "--runs", str(runs), "--workers", str(workers), "--out", str(out)])
    elapsed = time.perf_counter() - started
    if code:
        raise SystemExit(code)
    metrics = json.loads((out / "metrics.json").read_text())
    rates = metrics["rates"]
    shown = ", ".join(f"{rate} {rates[rate]['value']} [{rates[rate]['low']}-{rates[rate]['high']}]" for rate in rates)
    print(f"{name:<20} {metrics['dialogues']:>5} dialogues in {elapsed:6.1f} s "
          f"({1000 * elapsed / metrics['dialogues']:.0f} ms each, {metrics['mean_turns']} user turns, the corpus "
          f"{metrics['corpus_turns']}, alignment {metrics['user_alignment']}%): {shown}; blame {metrics['blame']}; "
          f"pass^k {metrics['pass_hat_k']}; smallest real difference {metrics['smallest_real_difference']} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--goals", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=4, help="runs per goal of the rule-based system (seeds 0..runs-1)")
    parser.add_argument("--tiny", type=Path, help="a tiny transformers model folder (tests/tiny_model.py builds one)")
    parser.add_argument("--tiny-goals", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        script = base / "never_helps.json"
        script.write_text(json.dumps([NEVER_HELPS] * (20 * args.goals)))
        run("rules", ["--backend", "rules"], args.goals, args.workers, base, args.runs)
        for backend in ("oracle", "oracle-wrong-venue", "oracle-wrong-day"):
            run(backend, ["--backend", backend], args.goals, args.workers, base)
        run("scripted-apology", ["--backend", "scripted", "--script", str(script)], args.goals, args.workers, base)
        if args.tiny:
            os.environ.setdefault("WOZ_MAX_NEW_TOKENS", "24")  # noise either way: keep each step short
            run("tiny-model", ["--backend", "transformers", "--model", str(args.tiny), "--max-turns", "6"],
                args.tiny_goals, 1, base)


if __name__ == "__main__":
    main()
