"""Fill the review queue from the command line, and print its progress and agreement.

    python -m app.review add runs/gold/transcripts.jsonl --backend gold  # evaluation/simulation runs
    python -m app.review add saved/dlg-1.json                             # transcript files
    python -m app.review recorded                                         # saved live/arena dialogues people shared
    python -m app.review status                                           # items, raters, alpha per question
    python -m app.review restore [ID ...]                                 # hand set-aside items out again

`add` reads every record on its own: one that is not a sound transcript (or names no system, or reuses another
dialogue's id) is reported with its file and line and the rest still go in; the exit status is 1 when any
record or file was refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.workbench.agreement import agreement_table
from app.workbench.review_store import ReviewStore, checked_transcript
from db.engine import make_engine


@dataclass(frozen=True)
class Record:
    """One dialogue as a file holds it: where (file, line), and its data or why it could not be read."""

    where: str
    data: dict[str, Any] | None
    problem: str | None = None


@dataclass
class AddReport:
    """What `add` did: new items, dialogues that were items already, and a message per refused record or file."""

    added: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)


def records_in(path: Path) -> Iterator[Record]:
    """The records a file holds: one JSON transcript (or old-format dialogue), or JSON lines with one per line,
    bare or under a `transcript` or `dialogue` key (the evaluation's results.jsonl). Each comes with where it
    is, or with why it is not a record (a list, a number, unreadable JSON, nesting too deep)."""
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        yield Record(str(path), None, "the file is empty")
        return
    try:
        yield _record(str(path), json.loads(text))
        return
    except json.JSONDecodeError:
        pass  # JSON lines, not one document
    except RecursionError:
        yield Record(str(path), None, "nested too deeply to be a transcript")
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield _record(where, json.loads(line))
        except json.JSONDecodeError as error:
            yield Record(where, None, f"not JSON ({error.msg} at column {error.colno})")
        except RecursionError:
            yield Record(where, None, "nested too deeply to be a transcript")


def _record(where: str, value: Any) -> Record:
    if isinstance(value, dict):
        for key in ("transcript", "dialogue"):
            if isinstance(value.get(key), dict):
                return Record(where, value[key])
        return Record(where, value)
    kind = "null" if value is None else type(value).__name__
    return Record(where, None, f"a JSON {kind}, not a transcript object")


def source_of(path: Path, meta: dict[str, Any]) -> str:
    """Where a transcript came from: its meta's `source`, else an evaluation run (JSONL) or a file."""
    return str(meta.get("source") or ("evaluate" if path.suffix == ".jsonl" else "file"))


def add_files(store: ReviewStore, paths: list[Path], system: dict[str, str] | None = None) -> AddReport:
    """Enqueue every sound transcript in the files (`system` fills in backend/model/format where a run's
    transcripts do not say), each record on its own; the report says what went in and what did not, and why."""
    report = AddReport()
    for path in paths:
        try:
            records = list(records_in(path))
        except (OSError, UnicodeDecodeError) as error:
            report.problems.append(f"{path}: cannot be read ({type(error).__name__}: {error})")
            continue
        for record in records:
            if record.data is None:
                report.problems.append(f"{record.where}: {record.problem}")
                continue
            try:
                transcript = checked_transcript(record.data)
                meta = {**(system or {}), **transcript.meta}
                if store.enqueue(transcript.id, transcript.to_data(), meta, source_of(path, meta)):
                    report.added += 1
                else:
                    report.already += 1
            except ValueError as error:
                report.problems.append(f"{record.where}: {error}")
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m app.review`: add files to the queue, queue the shared recorded dialogues, or print the status."""
    parser = argparse.ArgumentParser(prog="python -m app.review", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="enqueue transcript files")
    add.add_argument("files", nargs="+", type=Path)
    for flag in ("backend", "model", "format"):
        add.add_argument(f"--{flag}", help=f"the system's {flag}, where the transcripts do not name it")
    commands.add_parser("recorded", help="enqueue every saved dialogue its person shared, not queued yet")
    commands.add_parser("status", help="progress and agreement")
    restore = commands.add_parser("restore", help="hand set-aside items out again (they are checked again)")
    restore.add_argument("items", nargs="*", help="the items to restore (default: all)")
    args = parser.parse_args(argv)
    settings = Settings()
    store = ReviewStore(make_engine(settings.database_url), settings.raters_per_item)
    if args.command == "add":
        system = {k: v for k in ("backend", "model", "format") if (v := getattr(args, k))}
        report = add_files(store, args.files, system)
        print(f"{report.added} new item(s) in the review queue, {report.already} already there, "
              f"{len(report.problems)} refused")
        for problem in report.problems:
            print(problem, file=sys.stderr)
        return 1 if report.problems else 0
    if args.command == "recorded":
        print(f"{store.enqueue_recorded()} new item(s) in the review queue")
        return 0
    if args.command == "restore":
        print(f"{store.restore(args.items or None)} item(s) handed out again")
        return 0
    progress = store.progress("")
    print(f"{progress.items} items, {progress.needing_raters} still need raters "
          f"({settings.raters_per_item} per item), {progress.set_aside} set aside")
    for item, reason in store.set_aside_items().items():
        print(f"set aside {item}: {reason}")
    print(agreement_table(store.answers()).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
