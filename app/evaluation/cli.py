"""Run a backend over the MultiWOZ test set and score it: `python -m app.evaluate --backend gold --out runs/gold`;
or score a predictions file made anywhere: `python -m app.evaluate --score predictions.json --out runs/theirs`.

Outputs in --out: results.jsonl (resumable; runs only), predictions.json (the standard evaluator's input
format), metrics.json, dialogues.csv and per-domain charts (PNG). Both paths score through one function."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from app.assembly import (
    CommandParser,
    SystemUnderTest,
    add_model_flags,
    assemble,
    check_choices,
    positive_int,
    settings_from,
)
from app.backends import BackendError, make_backend
from app.backends.base import Backend
from app.dialogue.costs import dialogue_costs, run_costs, turn_rows
from app.dialogue.transcript import Transcript
from app.evaluation import data
from app.evaluation.gold import GoldBackend
from app.evaluation.metrics import DONTCARE_CONVENTIONS
from app.evaluation.provenance import provenance
from app.evaluation.run_folder import RunFolder, RunRefused, StopSignals
from app.evaluation.runner import RESULTS, TRANSCRIPTS, predictions, read_results, run_all
from app.evaluation.scoring import (
    BadPredictions,
    Predictions,
    ScoreOptions,
    check_coverage,
    load_predictions,
    score_predictions,
)
from app.evaluation.venues import VenueDatabase
from app.settings import BadSetting, Settings
from app.tools.toolbox import Toolbox
from db.importer import DataUnavailable

Scored = tuple[dict[str, Any], list[dict[str, Any]]]


def main(argv: list[str] | None = None) -> int:
    """Run a backend over the test set, or score a predictions file, and write the reports; the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    gold = args.backend == "gold"
    try:
        settings = settings_from(argparse.Namespace(**{**vars(args), "backend": "scripted" if gold else args.backend}),
                                 db_url=f"sqlite:///{args.out / 'eval.sqlite3'}", max_steps=args.max_steps)
        tests = data.load(data.locate(args.test_dir or settings.test_dir, settings.home / "multiwoz-test",
                                      settings.download_timeout_s))
        if args.score:
            found = load_predictions(args.score)  # before the folder is made: a bad file leaves nothing behind
            check_coverage({t.id: t for t in tests}, found)
            with RunFolder(args.out) as folder:
                return _score_file(args, tests, found, settings, folder)
        tests = _select(tests, args)  # before the folder is made: a wrong id leaves nothing behind
        with RunFolder(args.out) as folder:
            return _run(args, tests, settings, folder, gold)
    except (data.TestDataUnavailable, DataUnavailable, BadPredictions, BadSetting, BackendError, RunRefused) as error:
        print(error, file=sys.stderr)
        return 2


def _score_file(args: argparse.Namespace, tests: list[data.TestDialogue], found: Predictions, settings: Settings,
                folder: RunFolder) -> int:
    """--score: check the folder, then score the file's predictions like a run's own."""
    folder.resume({"command": "score", "predictions": str(args.score.resolve()), "labels": args.labels},
                  _earlier_setup)
    toolbox = Toolbox.open(settings)
    metrics, rows = score_predictions({t.id: t for t in tests}, found, _options(args), _venues(toolbox, args))
    metrics.update(backend=args.score.stem, format="predictions file")
    flags = {**vars(args), "score_sha256": hashlib.sha256(args.score.read_bytes()).hexdigest()}  # by content
    metrics["provenance"] = provenance(settings, toolbox.catalogue.engine, model=None, seed=None, flags=flags,
                                       test_files=tuple(data.SOURCES))
    if metrics["missing_dialogues"]:
        missing = metrics["missing_dialogues"]
        print(f"{len(missing)} test dialogue(s) are not in {args.score} (scored over the {len(found)} given): "
              f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}", file=sys.stderr)
    return _report((metrics, rows), args, source=args.score)


def _run(args: argparse.Namespace, tests: list[data.TestDialogue], settings: Settings, folder: RunFolder,
         gold: bool) -> int:
    """Run the system over the tests into the folder (resuming what it holds), then score its predictions."""
    check_choices(settings)
    backend = None if gold else make_backend(settings)  # nothing loads yet; its label names the system
    folder.resume({"command": "evaluate", "system": "gold" if backend is None else backend.label,
                   "format": settings.format, "labels": args.labels}, _earlier_setup)
    toolbox = Toolbox.open(settings)  # after the check: a refused run leaves no database in another run's folder
    system = _system(settings, toolbox, tests, backend, args.labels)
    with StopSignals() as signals:
        finished = run_all(tests, system.agent, folder, signals.stop, args.workers)
    if signals.signal_name:
        print(f"Stopped by {signals.signal_name}: {finished} more dialogue(s) finished and are kept in "
              f"{args.out / RESULTS}; the same command resumes the run", file=sys.stderr)
        return signals.exit_status
    metrics, rows = _scored_run(tests, toolbox, args)
    metrics.update(backend=system.name, format=settings.format)
    metrics["provenance"] = provenance(settings, toolbox.catalogue.engine, model="gold" if gold else settings.model,
                                       seed=None, flags=vars(args), test_files=tuple(data.SOURCES))
    return _report((metrics, rows), args)


def _scored_run(tests: list[data.TestDialogue], toolbox: Toolbox, args: argparse.Namespace) -> Scored:
    """Write predictions.json from the run's results, then score that file like any other."""
    wanted = {t.id for t in tests}
    records = [r for r in read_results(args.out / RESULTS) if r["id"] in wanted]
    (args.out / "predictions.json").write_text(json.dumps(predictions(records), indent=1))
    scored = load_predictions(args.out / "predictions.json")
    metrics, rows = score_predictions({t.id: t for t in tests}, scored, _options(args), _venues(toolbox, args))
    metrics["missing_dialogues"] = []  # a run covers the dialogues it was asked for
    transcripts = {str(t.meta.get("test_dialogue")): t for t in read_transcripts(args.out / TRANSCRIPTS)
                   if t.meta.get("test_dialogue") in wanted}
    metrics["costs"] = run_costs(transcripts.values()).as_dict()
    _whole_counts(pd.DataFrame(turn_rows(transcripts.values()))).to_csv(args.out / "turn_costs.csv", index=False)
    stats = {r["id"]: {**run_stats(r), **(dialogue_costs(transcripts[r["id"]]).columns() if r["id"] in transcripts
                                          else {})}
             for r in records}
    return metrics, [{**row, **stats[row["id"]]} for row in rows]


def _whole_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Token counts as whole numbers, blank where none were reported (pandas would write 12.0 beside NaN)."""
    return frame.astype({c: "Int64" for c in frame.columns if str(c).endswith("_tokens")})


def read_transcripts(path: Path) -> list[Transcript]:
    """The transcripts of a run's transcripts.jsonl (a line cut short by a crash is skipped)."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            found.append(Transcript.from_json(line))
        except ValueError:  # a cut line (pydantic's ValidationError is a ValueError too)
            continue
    return found


def _earlier_setup(out: Path) -> dict[str, Any] | None:
    """The setup of an evaluation run made before run.json existed, read from its metrics.json."""
    try:
        metrics = json.loads((out / "metrics.json").read_text())
        made = {"command": "evaluate", "system": metrics["backend"], "format": metrics["format"],
                "labels": metrics["labels"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return made if (out / RESULTS).exists() and made["format"] != "predictions file" else None


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


def _report(scored: Scored, args: argparse.Namespace,
            source: Path | None = None) -> int:
    metrics, rows = scored
    _whole_counts(pd.DataFrame(rows)).to_csv(args.out / "dialogues.csv", index=False)
    _charts(metrics, args.out)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))  # last: it says the reports are complete
    state = metrics["state"]
    jga = f"JGA {state['jga']} (slot F1 {state['slot_f1']}, dontcare: {state['dontcare']})" if state else "no states"
    print(f"{metrics['dialogues']} dialogues{f' from {source}' if source else ''}, labels MultiWOZ {args.labels}: "
          f"{jga}, Inform {metrics['inform']}, Success {metrics['success']}, BLEU {metrics['bleu']}. "
          f"Written to {args.out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="python -m app.evaluate", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(parser, extra_backends=("gold",))
    parser.add_argument("--score", type=Path, metavar="PREDICTIONS.json",
                        help="score this file (mwzeval's input format) instead of running a model")
    parser.add_argument("--labels", choices=["2.4", "2.1"], default="2.4", help="belief labels JGA is scored on")
    parser.add_argument("--dontcare", choices=sorted(DONTCARE_CONVENTIONS), default="value",
                        help="; ".join(f"{k}: {v}" for k, v in DONTCARE_CONVENTIONS.items()))
    parser.add_argument("--fix-mwzeval", action="store_true",
                        help="read mwzeval's known mistakes correctly (e.g. its 'the junction' alias); "
                             "the default follows mwzeval, so numbers compare with published ones")
    parser.add_argument("--limit", type=positive_int, help="only the first N test dialogues")
    parser.add_argument("--dialogues", nargs="+", help="only these dialogue ids (e.g. SNG0073 PMUL4648)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="dialogues at once (a server or a local model's batch)")
    parser.add_argument("--test-dir", type=Path,
                        help="folder with test_mwz21/test.json and test_mwz24/original.json (WOZ_TEST_DIR; "
                             "without one they are downloaded)")
    parser.add_argument("--max-steps", type=int, default=4, help="model calls per agent turn (1 to 20)")
    parser.add_argument("--out", type=Path, default=Path("runs/latest"))
    return parser


def _select(tests: list[data.TestDialogue], args: argparse.Namespace) -> list[data.TestDialogue]:
    if args.dialogues:
        wanted = dialogue_ids(args.dialogues, {test.id for test in tests})
        tests = [test for test in tests if test.id in wanted]
    return tests[:args.limit] if args.limit else tests


def dialogue_ids(given: list[str], known: set[str]) -> set[str]:
    """The test dialogue ids --dialogues names, as the test set writes them; RunRefused naming any it lacks."""
    wanted = {name.lower().removesuffix(".json"): name for name in given}
    if unknown := [name for key, name in wanted.items() if key not in known]:
        raise RunRefused(f"--dialogues: {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''} "
                         f"{'is not a test dialogue' if len(unknown) == 1 else 'are not test dialogues'} "
                         "(ids look like SNG0073 or PMUL4648)")
    return set(wanted)


def _system(settings: Settings, toolbox: Toolbox, tests: list[data.TestDialogue], backend: Backend | None,
            labels: data.LabelVersion) -> SystemUnderTest:
    """The system under test: the configured model `backend` (one for every dialogue), or without one a fresh gold
    oracle per dialogue reading its test dialogue (named in the transcript's meta) and transcript."""
    if backend is not None:
        return assemble(settings, toolbox, backend=backend)
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
