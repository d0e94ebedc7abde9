"""Run a backend over the MultiWOZ test set and score it: `python -m app.evaluate --backend gold --out runs/gold`;
or score a predictions file made anywhere: `python -m app.evaluate --score predictions.json --out runs/theirs`.

Outputs in --out: results.jsonl (resumable; runs only), predictions.json (the standard evaluator's input
format), metrics.json, dialogues.csv and per-domain charts (PNG). Both paths score through one function."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from app.assembly import SystemUnderTest, add_model_flags, assemble, settings_from
from app.evaluation import data
from app.evaluation.gold import GoldBackend
from app.evaluation.metrics import DONTCARE_CONVENTIONS
from app.evaluation.runner import AgentFactory, predictions, read_results, run_all
from app.evaluation.scoring import BadPredictions, ScoreOptions, load_predictions, score_predictions
from app.evaluation.venues import VenueDatabase
from app.settings import REPO_ROOT, Settings
from app.tools.toolbox import Toolbox

DEFAULT_TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"


def main(argv: list[str] | None = None) -> int:
    """Run a backend over the test set, or score a predictions file, and write the reports; the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    gold = args.backend == "gold"
    settings = settings_from(argparse.Namespace(**{**vars(args), "backend": "scripted" if gold else args.backend}),
                             db_url=f"sqlite:///{args.out / 'eval.sqlite3'}", max_steps=args.max_steps)
    try:
        folder = data.locate(args.test_dir, settings.home / "multiwoz-test")
        tests = data.load(folder)
        toolbox = Toolbox.open(settings)
        if args.score:
            return _report(_score(args.score, tests, toolbox, args), args, source=args.score)
        tests = _select(tests, args)
        system = _system(settings, toolbox, tests, gold, args.labels)
        run = _run(tests, system.agent, toolbox, args)
    except (data.TestDataUnavailable, BadPredictions) as error:
        print(error, file=sys.stderr)
        return 2
    run[0].update(backend=system.name, format=settings.format)
    return _report(run, args)


def _score(path: Path, tests: list[data.TestDialogue], toolbox: Toolbox, args: argparse.Namespace):  # noqa: ANN202
    found = load_predictions(path)
    metrics, rows = score_predictions({t.id: t for t in tests}, found, _options(args), _venues(toolbox, args))
    metrics.update(backend=path.stem, format="predictions file")
    if metrics["missing_dialogues"]:
        missing = metrics["missing_dialogues"]
        print(f"{len(missing)} test dialogue(s) are not in {path} (scored over the {len(found)} given): "
              f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}", file=sys.stderr)
    return metrics, rows


def _run(tests: list[data.TestDialogue], make_agent: AgentFactory, toolbox: Toolbox, args: argparse.Namespace):  # noqa: ANN202
    """Run the agent, write predictions.json, then score that file like any other."""
    from tqdm import tqdm

    run_all(tests, make_agent, args.out / "results.jsonl", args.workers,
            progress=lambda items, total: tqdm(items, total=total, unit="dialogue", desc="evaluating"))
    wanted = {t.id for t in tests}
    records = [r for r in read_results(args.out / "results.jsonl") if r["id"] in wanted]
    (args.out / "predictions.json").write_text(json.dumps(predictions(records), indent=1))
    scored = load_predictions(args.out / "predictions.json")
    metrics, rows = score_predictions({t.id: t for t in tests}, scored, _options(args), _venues(toolbox, args))
    metrics["missing_dialogues"] = []  # a run covers the dialogues it was asked for
    stats = {r["id"]: run_stats(r) for r in records}
    return metrics, [{**row, **stats[row["id"]]} for row in rows]


def run_stats(record: dict[str, Any]) -> dict[str, Any]:
    """What a run adds to a dialogue's row: API calls and errors, failed turns, mean latency."""
    turns = record["turns"]
    calls = [c for t in turns for c in t["calls"]]
    return {"api_calls": len(calls), "api_errors": sum(not c["ok"] for c in calls),
            "turn_errors": sum(t["status"] == "error" for t in turns),
            "mean_turn_ms": round(sum(t["latency_ms"] for t in turns) / len(turns), 2) if turns else 0.0}


def _options(args: argparse.Namespace) -> ScoreOptions:
    return ScoreOptions(labels=args.labels, dontcare=args.dontcare, corrected=args.fix_mwzeval)


def _venues(toolbox: Toolbox, args: argparse.Namespace) -> VenueDatabase:
    return VenueDatabase.from_engine(toolbox.catalogue.engine, corrected=args.fix_mwzeval)


def _report(scored: tuple[dict[str, Any], list[dict[str, Any]]], args: argparse.Namespace,
            source: Path | None = None) -> int:
    metrics, rows = scored
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    pd.DataFrame(rows).to_csv(args.out / "dialogues.csv", index=False)
    _charts(metrics, args.out)
    state = metrics["state"]
    jga = f"JGA {state['jga']} (slot F1 {state['slot_f1']}, dontcare: {state['dontcare']})" if state else "no states"
    print(f"{metrics['dialogues']} dialogues{f' from {source}' if source else ''}, labels MultiWOZ {args.labels}: "
          f"{jga}, Inform {metrics['inform']}, Success {metrics['success']}, BLEU {metrics['bleu']}. "
          f"Written to {args.out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(parser, extra_backends=("gold",))
    parser.add_argument("--score", type=Path, metavar="PREDICTIONS.json",
                        help="score this file (mwzeval's input format) instead of running a model")
    parser.add_argument("--labels", choices=["2.4", "2.1"], default="2.4", help="belief labels JGA is scored on")
    parser.add_argument("--dontcare", choices=sorted(DONTCARE_CONVENTIONS), default="value",
                        help="; ".join(f"{k}: {v}" for k, v in DONTCARE_CONVENTIONS.items()))
    parser.add_argument("--fix-mwzeval", action="store_true",
                        help="read mwzeval's known mistakes correctly (e.g. its 'the junction' alias); "
                             "the default follows mwzeval, so numbers compare with published ones")
    parser.add_argument("--limit", type=int, help="only the first N test dialogues")
    parser.add_argument("--dialogues", nargs="+", help="only these dialogue ids (e.g. SNG0073 PMUL4648)")
    parser.add_argument("--workers", type=int, default=1, help="dialogues at once (a server or a local model's batch)")
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


def _system(settings: Settings, toolbox: Toolbox, tests: list[data.TestDialogue], gold: bool,
            labels: data.LabelVersion) -> SystemUnderTest:
    """The system under test: the configured model (one for every dialogue), or a fresh gold oracle per dialogue
    reading its test dialogue (named in the transcript's meta) and transcript."""
    if not gold:
        return assemble(settings, toolbox)
    by_id = {test.id: test for test in tests}
    return assemble(settings, toolbox, name="gold", backend_for=lambda transcript: GoldBackend(
        by_id[str(transcript.meta["test_dialogue"])], labels, settings.format, transcript))

def _charts(metrics: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(metrics["per_domain"]).T[["inform", "success", "jga"]].astype(float)
    axes = frame.dropna(axis=1, how="all").plot.bar(
        figsize=(8, 4), ylim=(0, 100), rot=0,
        title=f"{metrics['backend']} ({metrics['format']}), MultiWOZ {metrics['labels']} labels")
    axes.set_ylabel("%")
    plt.tight_layout()
    plt.savefig(out / "per_domain.png", dpi=120)
    plt.close()


if __name__ == "__main__":
    sys.exit(main())
