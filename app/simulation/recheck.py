"""The goal checker over transcripts made anywhere: `python -m app.simulate --check FILE --out DIR`.

FILE is a simulation run's `transcripts.jsonl` (one dialogue a line with its run), an evaluation run's
`transcripts.jsonl` (one transcript a line, its test dialogue in `meta`), a saved dialogue (one transcript, as the
page downloads it), or the corpus itself (`test_mwz21/test.json`: each human dialogue is replayed through the
tools in its goal's world, with the human's own replies; see `crosscheck`). Every dialogue with a goal gets a
verdict from its own tool answers; the same metrics.json / verdicts.csv / rates.png as a simulation are written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from app.dialogue.goals import Goal, load_goals
from app.dialogue.transcript import Transcript
from app.evaluation import data
from app.evaluation.provenance import provenance
from app.evaluation.venues import VenueDatabase
from app.settings import Settings
from app.simulation import crosscheck as corpus
from app.simulation.checker import GoalChecker
from app.simulation.crosscheck import Checkable
from app.simulation.report import report, write_outputs
from app.simulation.users.alignment import alignment
from app.tools.toolbox import Toolbox


class NotTranscripts(ValueError):
    """A file that holds no transcripts the checker can read; the message says what it expected."""


def is_corpus(path: Path) -> bool:
    """Whether the file is the MultiWOZ corpus itself (dialogues with a `log` and a `goal`), not transcripts."""
    try:
        with path.open() as handle:
            start = handle.read(4096).lstrip()
    except OSError as error:
        raise NotTranscripts(f"cannot read {path}: {error.strerror or error}") from error
    return start.startswith("{") and '"goal"' in start and '"log"' in start and '"events"' not in start


def checkables(path: Path, goals: dict[str, Goal]) -> tuple[list[Checkable], list[str]]:
    """The dialogues in a transcripts file, each with its goal (its own, or its test dialogue's), and the ids of
    those without one (skipped)."""
    found, skipped = [], []
    for index, (record, run) in enumerate(_records(path)):
        try:
            transcript = Transcript.from_data(record)
        except ValueError as error:
            raise NotTranscripts(f"{path}, dialogue {index + 1}, is not a transcript: {str(error)[:300]}") from None
        goal = transcript.goal or goals.get(str(transcript.meta.get("test_dialogue", "")))
        if goal is None:
            skipped.append(transcript.id)
        else:
            found.append(Checkable(transcript, goal, run))
    return found, skipped


def _records(path: Path) -> Iterator[tuple[dict[str, Any], int]]:
    text = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):  # one saved dialogue (the page's download may wrap it with its ratings)
        yield whole.get("transcript", whole), 0
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(text.splitlines()):
                continue  # a last line cut short by a crash
            raise NotTranscripts(f"{path}, line {number}, is not JSON: expected one transcript (or one simulated "
                                 "dialogue with its transcript) a line") from None
        if not isinstance(record, dict):
            raise NotTranscripts(f"{path}, line {number}, is not a transcript")
        yield (record["transcript"], int(record.get("run", 0))) if "transcript" in record else (record, 0)


def check_all(items: list[Checkable], checker: GoalChecker) -> list[dict[str, Any]]:
    """A record per dialogue, as a simulation writes them: the verdict from the dialogue's own tool answers."""
    records = []
    for item in items:
        verdict = checker.check(item.goal, item.transcript)
        records.append({"goal": item.goal.id, "run": item.run, "turns": len(item.transcript.turns()),
                        "corpus_turns": item.goal.corpus_turns, "verdict": verdict.summary(),
                        "alignment": round(alignment(item.goal, item.transcript), 4),
                        "transcript": item.transcript.to_data()})
    return records


def run_check(path: Path, out: Path, folder: Path, settings: Settings, workers: int = 1,
              progress: Callable[[Any, int], Any] | None = None, only: set[str] | None = None) -> dict[str, Any]:
    """Check every dialogue of `path` (see the module docstring; `only` these goals, when given) and write the
    reports into `out`; the metrics (with the cross-check against mwzeval when `path` is the corpus)."""
    goals = {goal.id: goal for goal in load_goals(folder)}
    the_corpus = is_corpus(path)
    items, skipped = ([], []) if the_corpus else checkables(path, goals)  # a bad file is refused before the database
    toolbox = Toolbox.open(settings)
    checker = GoalChecker(toolbox)
    crosscheck = None
    if the_corpus:
        ids = {key.removesuffix(".json").lower() for key in json.loads(path.read_text())} & (only or set(goals))
        tests = [test for test in data.load(folder) if test.id in ids]
        items = corpus.corpus_transcripts(tests, goals, settings, toolbox, workers, progress)
        records = check_all(items, checker)
        mwzeval = corpus.mwzeval_verdicts(tests, VenueDatabase.from_engine(toolbox.catalogue.engine))
        crosscheck = corpus.crosscheck_table(records, mwzeval)
        pd.DataFrame([{"goal": r["goal"], "checker_success": r["verdict"]["success"],
                       "mwzeval_success": mwzeval[r["goal"]]["success"],
                       "category": corpus.disagreement(r, mwzeval[r["goal"]])} for r in records]
                     ).to_csv(out / "crosscheck.csv", index=False)
    else:
        records = check_all([item for item in items if only is None or item.goal.id in only], checker)
    if not records:
        raise NotTranscripts(f"{path} holds no dialogue with a goal to check" + (
            f" ({len(skipped)} without one)" if skipped else ""))
    first = records[0]["transcript"].get("meta", {})
    meta = {"system": first.get("system") or first.get("backend") or "?", "user": first.get("user", "?"),
            "format": first.get("format", "?"), "checked": str(path), "skipped_without_goal": skipped}
    metrics = report(records, max(r["run"] for r in records) + 1, meta)
    if crosscheck is not None:
        metrics["crosscheck"] = crosscheck
    checked = {"check_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "only": sorted(only or [])}
    metrics["provenance"] = provenance(settings, toolbox.catalogue.engine, model=None, seed=None, flags=checked,
                                       test_files=(data.GOALS_FILE,))
    write_outputs(records, metrics, out)
    with (out / "checked.jsonl").open("w", encoding="utf-8") as sink:
        sink.writelines(json.dumps(record) + "\n" for record in records)
    return metrics
