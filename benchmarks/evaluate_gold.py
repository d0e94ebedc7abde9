"""Throughput of the evaluation harness itself, with the gold oracle over all 1000 test dialogues, and of
`--score` on the predictions it wrote; prints the oracle's Inform / Success too.

    python -m benchmarks.evaluate_gold [--workers 1] [--labels 2.4]   (target: under 2 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from app.evaluation.cli import main as evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--labels", default="2.4")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "gold"
        started = time.perf_counter()
        code = evaluate(["--backend", "gold", "--labels", args.labels, "--workers", str(args.workers),
                         "--out", str(out)])
        elapsed = time.perf_counter() - started
        if code:
            raise SystemExit(code)
        started = time.perf_counter()
        evaluate(["--score", str(out / "predictions.json"), "--labels", args.labels, "--out", str(out / "scored")])
        scoring = time.perf_counter() - started
        metrics = json.loads((out / "metrics.json").read_text())
    turns = metrics["state"]["turns"]
    print(f"gold oracle, {metrics['dialogues']} dialogues ({turns} labelled turns), {args.workers} worker(s): "
          f"{elapsed:.1f} s, {1000 * elapsed / metrics['dialogues']:.1f} ms per dialogue "
          f"(target < 120 s): {'PASS' if elapsed < 120 else 'FAIL'}; --score alone {scoring:.1f} s")
    print(f"MultiWOZ {args.labels}: Inform {metrics['inform']}, Success {metrics['success']}, "
          f"JGA {metrics['state']['jga']}, BLEU {metrics['bleu']}")


if __name__ == "__main__":
    main()
