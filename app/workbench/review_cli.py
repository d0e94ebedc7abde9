"""Fill the review queue from the command line, and print its progress and agreement.

    python -m app.review add runs/gold/transcripts.jsonl --backend gold  # evaluation/simulation runs
    python -m app.review add saved/dlg-1.json                             # transcript files
    python -m app.review recorded                                         # every saved live/arena dialogue
    python -m app.review status                                           # items, raters, alpha per question
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.dialogue.transcript import Transcript
from app.settings import Settings
from app.workbench.agreement import agreement_table
from app.workbench.review_store import ReviewStore
from db.engine import make_engine


def transcripts_in(path: Path) -> Iterator[Transcript]:
    """The transcripts a file holds: one JSON transcript (or old-format dialogue), or JSONL with one per line,
    bare or under a `transcript` or `dialogue` key (the evaluation's results.jsonl)."""
    text = path.read_text(encoding="utf-8")
    try:
        records = [json.loads(text)]
    except json.JSONDecodeError:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    for record in records:
        yield Transcript.from_data(_unwrap(record))


def _unwrap(record: dict[str, Any]) -> dict[str, Any]:
    for key in ("transcript", "dialogue"):
        if isinstance(record.get(key), dict):
            return record[key]
    return record


def source_of(path: Path, transcript: Transcript) -> str:
    """Where a transcript came from: its meta's `source`, else an evaluation run (JSONL) or a file."""
    return str(transcript.meta.get("source") or ("evaluate" if path.suffix == ".jsonl" else "file"))


def add_files(store: ReviewStore, paths: list[Path], system: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Enqueue every transcript in the files (`system` fills in backend/model/format where a run's transcripts
    do not say); returns how many were new and a message per unreadable file."""
    added, problems = 0, []
    for path in paths:
        try:
            for transcript in transcripts_in(path):
                meta = {**(system or {}), **transcript.meta}
                added += store.enqueue(transcript.id, transcript.to_data(), meta, source_of(path, transcript))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError, KeyError, TypeError) as error:
            problems.append(f"{path}: not a transcript file ({type(error).__name__}: {str(error)[:200]})")
    return added, problems


def main(argv: list[str] | None = None) -> int:
    """`python -m app.review`: add files to the queue, queue the recorded dialogues, or print the status."""
    parser = argparse.ArgumentParser(prog="python -m app.review", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="enqueue transcript files")
    add.add_argument("files", nargs="+", type=Path)
    for flag in ("backend", "model", "format"):
        add.add_argument(f"--{flag}", help=f"the system's {flag}, where the transcripts do not name it")
    commands.add_parser("recorded", help="enqueue every saved dialogue not queued yet")
    commands.add_parser("status", help="progress and agreement")
    args = parser.parse_args(argv)
    settings = Settings()
    store = ReviewStore(make_engine(settings.database_url), settings.raters_per_item)
    if args.command == "add":
        system = {k: v for k in ("backend", "model", "format") if (v := getattr(args, k))}
        added, problems = add_files(store, args.files, system)
        print(f"{added} new item(s) in the review queue")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if args.command == "recorded":
        print(f"{store.enqueue_recorded()} new item(s) in the review queue")
        return 0
    progress = store.progress("")
    print(f"{progress.items} items, {progress.needing_raters} still need raters "
          f"({settings.raters_per_item} per item)")
    print(agreement_table(store.answers()).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
