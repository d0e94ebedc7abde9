"""Run a backend over the MultiWOZ test set and score it: `python -m app.evaluate --backend gold --out runs/gold`.

Outputs in --out: results.jsonl (resumable), predictions.json (the standard evaluator's input format),
metrics.json, dialogues.csv and per-domain charts (PNG)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from app.agent import Agent, Limits
from app.evaluation import data
from app.evaluation.gold import GoldBackend
from app.evaluation.runner import AgentFactory, VenueLookup, predictions, read_results, run_all, score
from app.formats import make_format
from app.runtime import add_model_flags, build_agent, settings_from
from app.settings import REPO_ROOT, Settings
from app.tools import Toolbox

DEFAULT_TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    gold = args.backend == "gold"
    settings = settings_from(argparse.Namespace(**{**vars(args), "backend": "scripted" if gold else args.backend}),
                             db_url=f"sqlite:///{args.out / 'eval.sqlite3'}", max_steps=args.max_steps)
    try:
        folder = data.locate(args.test_dir, settings.home / "multiwoz-test")
    except data.TestDataUnavailable as error:
        print(error, file=sys.stderr)
        return 2
    tests = _select(data.load(folder), args)
    toolbox = Toolbox.open(settings)
    make_agent = _factory(settings, toolbox, gold, args.labels)
    from tqdm import tqdm

    run_all(tests, make_agent, args.out / "results.jsonl", args.workers,
            progress=lambda items, total: tqdm(items, total=total, unit="dialogue", desc="evaluating"))
    wanted = {t.id for t in tests}
    records = [r for r in read_results(args.out / "results.jsonl") if r["id"] in wanted]
    metrics, rows = score({t.id: t for t in tests}, records, args.labels, VenueLookup(toolbox))
    metrics["backend"] = "gold" if gold else build_agent(settings, toolbox).backend.label
    metrics["format"] = settings.format
    (args.out / "predictions.json").write_text(json.dumps(predictions(records), indent=1))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    pd.DataFrame(rows).to_csv(args.out / "dialogues.csv", index=False)
    _charts(metrics, args.out)
    state = metrics["state"]
    print(f"{metrics['dialogues']} dialogues, labels MultiWOZ {args.labels}: JGA {state['jga']} "
          f"(slot F1 {state['slot_f1']}), Inform {metrics['inform']}, Success {metrics['success']}, "
          f"BLEU {metrics['bleu']}. Written to {args.out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    add_model_flags(parser, extra_backends=("gold",))
    parser.add_argument("--labels", choices=["2.4", "2.1"], default="2.4", help="belief labels JGA is scored on")
    parser.add_argument("--limit", type=int, help="only the first N test dialogues")
    parser.add_argument("--dialogues", nargs="+", help="only these dialogue ids (e.g. SNG0073 PMUL4648)")
    parser.add_argument("--workers", type=int, default=1, help="dialogues at once (useful for remote servers)")
    parser.add_argument("--test-dir", type=Path, default=DEFAULT_TEST_DIR,
                        help="folder with test_mwz21/test.json and test_mwz24/original.json")
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("runs/latest"))
    return parser


def _select(tests: list[data.TestDialogue], args: argparse.Namespace) -> list[data.TestDialogue]:
    if args.dialogues:
        wanted = {d.lower().removesuffix(".json") for d in args.dialogues}
        tests = [t for t in tests if t.id in wanted]
    return tests[:args.limit] if args.limit else tests


def _factory(settings: Settings, toolbox: Toolbox, gold: bool, labels: data.LabelVersion) -> AgentFactory:
    limits = Limits.of(settings)
    if gold:  # a fresh oracle per dialogue, reading its test dialogue and transcript
        prompt_format = make_format(settings.format, toolbox.tools)
        return lambda test, transcript: Agent(GoldBackend(test, labels, settings.format, transcript), prompt_format,
                                              toolbox, limits)
    shared = build_agent(settings, toolbox)  # one model for every dialogue
    return lambda test, transcript: Agent(shared.backend, shared.format, toolbox, shared.limits)


def _charts(metrics: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(metrics["per_domain"]).T[["inform", "success", "jga"]]
    axes = frame.plot.bar(figsize=(8, 4), ylim=(0, 100), rot=0,
                          title=f"{metrics['backend']} ({metrics['format']}), MultiWOZ {metrics['labels']} labels")
    axes.set_ylabel("%")
    plt.tight_layout()
    plt.savefig(out / "per_domain.png", dpi=120)
    plt.close()


if __name__ == "__main__":
    sys.exit(main())
