"""Dialogues and the ratings annotators give them: saved at once, exported with pandas."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.dialogue.transcript import Transcript
from app.workbench.exports import MODEL_CALL_COLUMNS, cost_columns, model_call_rows, whole_counts, write_csv
from app.workbench.questions import FLAGS
from app.workbench.tables import create_workbench_tables, person_name
from db.engine import exclusive
from db.schema import DialogueRating, DialogueRecord, MessageRating, _now

TaskCompleted = Literal["yes", "partly", "no"]
MESSAGE_FEEDBACK = ("like", "dislike", *(flag.lower() for flag in FLAGS))  # the chat control's choices, as stored


@dataclass(frozen=True)
class ExportFiles:
    """The files an export wrote: the dialogues as JSONL and CSV, and the ratings as CSV."""

    dialogues_jsonl: Path
    ratings_csv: Path
    dialogues_csv: Path
    model_calls_csv: Path  # one row per model call (tokens, times); dialogues.csv has each dialogue's totals


class AnnotationStore:
    """The saved dialogues and the chat's ratings of them, in the app's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_workbench_tables(engine)  # and stores made before ratings were one per annotator are brought up to date

    def save_transcript(self, transcript: Transcript) -> None:
        """Save the transcript (replacing an earlier save of it)."""
        self.save_dialogue(transcript.id, transcript.to_data(), dict(transcript.meta))

    def transcript(self, dialogue_id: str) -> Transcript | None:
        """A saved dialogue as a transcript (those saved in the first format are converted)."""
        with Session(self.engine) as session:
            record = session.get(DialogueRecord, dialogue_id)
            return None if record is None else Transcript.from_data(record.data)

    def save_dialogue(self, dialogue_id: str, data: dict[str, Any], meta: dict[str, Any]) -> None:
        """Save a dialogue's data and meta under its id, replacing what was saved before."""
        # A read-then-write: under the dialogue's write lock, so two saves at once neither clash on the key
        # (PostgreSQL) nor deadlock upgrading a read to a write (SQLite's "database is locked").
        with exclusive(self.engine, "dialogue", dialogue_id) as connection, Session(bind=connection) as session:
            record = session.get(DialogueRecord, dialogue_id)
            if record is None:
                session.add(DialogueRecord(id=dialogue_id, data=data, meta=meta))
            else:
                record.data, record.meta = data, meta
            session.flush()

    def rate_message(self, dialogue_id: str, event_id: str, turn: int, message: str, feedback: str,
                     annotator: str) -> str | None:
        """The annotator's current rating of one reply (the transcript event `event_id`; its turn and the text
        shown are kept too, so a rating reads on its own): `feedback` (like, dislike or a flag, as the chat's
        control offers one choice per reply) replaces their earlier one, the same again changes nothing, and ""
        takes it back. Returns the feedback it replaced (None if none); a ValueError for an unknown feedback or
        a missing or overlong name."""
        annotator = person_name(annotator)
        if feedback and feedback not in MESSAGE_FEEDBACK:
            raise ValueError(f"a rating is one of {', '.join(MESSAGE_FEEDBACK)}, not {feedback!r}")
        # Read-then-write under the rating's lock; the unique index would refuse a second row in any case.
        with exclusive(self.engine, "rating", dialogue_id, event_id, annotator) as connection, \
                Session(bind=connection) as session:
            row = session.scalar(select(MessageRating).where(MessageRating.dialogue_id == dialogue_id,
                                                             MessageRating.event_id == event_id,
                                                             MessageRating.annotator == annotator))
            before = row.feedback if row is not None else None
            if not feedback:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(MessageRating(dialogue_id=dialogue_id, event_id=event_id, turn=turn, message=message,
                                          feedback=feedback, annotator=annotator))
            elif row.feedback != feedback:
                row.feedback, row.turn, row.message, row.created_at = feedback, turn, message, _now()
            session.flush()
        return before

    def rate_dialogue(self, dialogue_id: str, task_completed: TaskCompleted, naturalness: int, comment: str,
                      annotator: str) -> bool:
        """The annotator's current rating of the whole dialogue (saving again replaces it); True when it replaced
        one. A ValueError for values off the scales or a missing or overlong name."""
        if task_completed not in ("yes", "partly", "no") or not 1 <= naturalness <= 5:
            raise ValueError("task completed must be yes, partly or no, and naturalness 1 to 5")
        annotator = person_name(annotator)
        with exclusive(self.engine, "rating", dialogue_id, annotator) as connection, \
                Session(bind=connection) as session:
            row = session.scalar(select(DialogueRating).where(DialogueRating.dialogue_id == dialogue_id,
                                                              DialogueRating.annotator == annotator))
            if row is None:
                session.add(DialogueRating(dialogue_id=dialogue_id, task_completed=task_completed,
                                           naturalness=naturalness, comment=comment, annotator=annotator))
            else:
                row.task_completed, row.naturalness, row.comment, row.created_at = (
                    task_completed, naturalness, comment, _now())
            session.flush()
        return row is not None

    def ratings(self, dialogue_id: str) -> dict[str, list[dict[str, Any]]]:
        """The dialogue's ratings, oldest first: of its messages, and of the whole dialogue."""
        with Session(self.engine) as session:
            messages = session.scalars(select(MessageRating).where(MessageRating.dialogue_id == dialogue_id)
                                       .order_by(MessageRating.id))
            dialogue = session.scalars(select(DialogueRating).where(DialogueRating.dialogue_id == dialogue_id)
                                       .order_by(DialogueRating.id))
            return {"messages": [_row(r) for r in messages], "dialogue": [_row(r) for r in dialogue]}

    def export(self, folder: Path) -> ExportFiles:
        """Every dialogue with its ratings as JSONL, every rating as one CSV row, one CSV row per dialogue."""
        folder.mkdir(parents=True, exist_ok=True)
        with self.engine.connect() as connection:
            dialogues = pd.read_sql(select(DialogueRecord), connection)
            messages = pd.read_sql(select(MessageRating), connection)
            verdicts = pd.read_sql(select(DialogueRating), connection)
        files = ExportFiles(folder / "dialogues.jsonl", folder / "ratings.csv", folder / "dialogues.csv",
                            folder / "model_calls.csv")
        ratings = pd.concat([messages.assign(kind="message"), verdicts.assign(kind="dialogue")], ignore_index=True)
        ratings = ratings.astype({"turn": "Int64", "naturalness": "Int64"})  # blanks where a kind has none
        write_csv(ratings.drop(columns=["id"]).sort_values("created_at"), files.ratings_csv)
        nested = [{"id": row.id, "created_at": row.created_at, "updated_at": row.updated_at, "meta": row.meta,
                   "dialogue": row.data,
                   "message_ratings": _records(messages[messages.dialogue_id == row.id]),
                   "dialogue_ratings": _records(verdicts[verdicts.dialogue_id == row.id])}
                  for row in dialogues.itertuples()]
        pd.DataFrame(nested).to_json(files.dialogues_jsonl, orient="records", lines=True, date_format="iso")
        write_csv(whole_counts(pd.DataFrame([_summary(row) for row in dialogues.itertuples()])), files.dialogues_csv)
        calls = model_call_rows(t for row in dialogues.itertuples() if (t := _transcript(row.data)) is not None)
        write_csv(whole_counts(pd.DataFrame(calls, columns=MODEL_CALL_COLUMNS)), files.model_calls_csv)
        return files


def _transcript(data: Any) -> Transcript | None:
    """The stored record as a transcript; None for one that is not (dialogues.csv says why)."""
    try:
        return Transcript.from_data(data)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def _summary(row: Any) -> dict[str, Any]:
    """One dialogue's line in dialogues.csv; a record that is no transcript (a malformed import) says why
    instead of stopping the export for everyone."""
    try:
        transcript = Transcript.from_data(row.data)
        counts: dict[str, Any] = {"turns": len(transcript.turns()), "bookings": len(transcript.bookings()),
                                  "problem": "; ".join(transcript.problems()), **cost_columns(transcript)}
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        counts = {"turns": None, "bookings": None, "problem": f"not a transcript: {str(error)[:200]}"}
    return {"id": row.id, "created_at": row.created_at, **counts, **_flat(row.meta)}


def _row(record: Any) -> dict[str, Any]:
    return {c.name: getattr(record, c.name) for c in record.__table__.columns if c.name != "id"}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.drop(columns=["id", "dialogue_id"]).to_json(orient="records", date_format="iso"))


def _flat(meta: Any) -> dict[str, Any]:
    return {f"meta_{k}": v for k, v in (meta or {}).items() if isinstance(v, str | int | float | bool)}
