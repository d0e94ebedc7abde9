"""Tables of the annotation workbench: review items, answers, claims, adjudications, arena matches and votes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import DateTime, Engine, Index, Table, UniqueConstraint, func
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.settings import Settings
from db.engine import exclusive
from db.schema import (
    Base,
    CleanString,
    CleanText,
    DialogueRating,
    DialogueRecord,
    MessageRating,
    _now,
    create_all,
    storable,
)

NAME_LIMIT = 100  # characters in a rater's, voter's or lead's name (the columns hold 200)


class ReviewItem(Base):
    """A recorded dialogue waiting for raters; `system` (backend, format, model) is never shown to them."""

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(CleanString(200), primary_key=True)  # the dialogue's id
    source: Mapped[str] = mapped_column(CleanString(40))  # live, evaluate, simulate, file, arena
    system: Mapped[str] = mapped_column(CleanString(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class ReviewAnswer(Base):
    """One rater's answer to one question about an item; unique, so a repeated click replaces it."""

    __tablename__ = "review_answers"
    __table_args__ = (UniqueConstraint("item_id", "rater", "question", "target", name="uq_review_answer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(CleanString(200), index=True)
    rater: Mapped[str] = mapped_column(CleanString(200), index=True)
    question: Mapped[str] = mapped_column(CleanString(60))
    target: Mapped[str] = mapped_column(CleanString(200), default="")  # "" = the dialogue, else a reply's event id
    value: Mapped[str] = mapped_column(CleanString(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewClaim(Base):
    """One of an item's N rater slots, held by a rater: open while they rate, kept once they have rated
    (an open one expires). Unique slots make handing out the last slot atomic on any database."""

    __tablename__ = "review_claims"
    __table_args__ = (UniqueConstraint("item_id", "rater", name="uq_review_claim"),
                      UniqueConstraint("item_id", "slot", name="uq_review_slot"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(CleanString(200), index=True)
    rater: Mapped[str] = mapped_column(CleanString(200))
    slot: Mapped[int]
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Adjudication(Base):
    """The lead's final label for one answer unit (item, question, target), with a note."""

    __tablename__ = "review_adjudications"
    __table_args__ = (UniqueConstraint("item_id", "question", "target", name="uq_adjudication"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(CleanString(200))
    question: Mapped[str] = mapped_column(CleanString(60))
    target: Mapped[str] = mapped_column(CleanString(200), default="")
    label: Mapped[str] = mapped_column(CleanString(60))
    lead: Mapped[str] = mapped_column(CleanString(200))
    note: Mapped[str] = mapped_column(CleanText, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ArenaMatch(Base):
    """One side-by-side dialogue: the same user messages went to two systems, shown as A and B."""

    __tablename__ = "arena_matches"

    id: Mapped[str] = mapped_column(CleanString(200), primary_key=True)
    system_a: Mapped[str] = mapped_column(CleanString(300))
    system_b: Mapped[str] = mapped_column(CleanString(300))
    dialogue_a: Mapped[str] = mapped_column(CleanString(200))
    dialogue_b: Mapped[str] = mapped_column(CleanString(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewSetAside(Base):
    """An item the queue no longer hands out because it cannot be shown (its transcript is malformed), and why."""

    __tablename__ = "review_set_aside"

    item_id: Mapped[str] = mapped_column(CleanString(200), primary_key=True)
    reason: Mapped[str] = mapped_column(CleanText)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ArenaVote(Base):
    """A voter's current vote on an arena match: on one turn, or on the whole dialogue (one per voter and turn:
    voting again replaces it)."""

    __tablename__ = "arena_votes"
    __table_args__ = (Index("ix_arena_votes_match", "match_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[str] = mapped_column(CleanString(200))
    turn: Mapped[int | None]  # None: a vote on the whole dialogue
    winner: Mapped[str] = mapped_column(CleanString(10))  # a, b, tie, bothbad
    voter: Mapped[str] = mapped_column(CleanString(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# One current vote per voter, match and turn; a vote on the whole dialogue (turn NULL) counts as turn -1 here, as
# NULLs never clash in a unique index.
Index("uq_arena_vote", ArenaVote.match_id, ArenaVote.voter, func.coalesce(ArenaVote.turn, -1), unique=True)

WORKBENCH_TABLES: list[Table] = [cast(Table, t.__table__) for t in (
    DialogueRecord, MessageRating, DialogueRating,  # the chat's ratings: results read them too
    ReviewItem, ReviewAnswer, ReviewClaim, ReviewSetAside, Adjudication, ArenaMatch, ArenaVote)]


@contextmanager
def writing(engine: Engine, *lock: object) -> Iterator[Session]:
    """A session whose transaction holds the write lock `lock` from its first read to its commit (BEGIN
    IMMEDIATE on SQLite, an advisory lock on PostgreSQL): a read-then-write is never overtaken by another."""
    with exclusive(engine, "workbench", *lock) as connection, Session(bind=connection) as session:
        yield session
        session.flush()


def create_workbench_tables(engine: Engine) -> None:
    """Create the workbench's tables (and the chat's, which results read) where they are missing, and bring
    older stores up to date (under the schema lock: see `db.schema.create_all`)."""
    create_all(engine, WORKBENCH_TABLES)


SYSTEM_LIMIT = 300  # characters of a system's name (its column's width)


def system_of(meta: dict[str, Any]) -> str | None:
    """The name a dialogue's system goes by in results: the run's own name for it (`system`, as simulation runs
    record it) or backend and model, with the prompt format; None when the meta names no system."""
    parts = [str(meta["system"])] if meta.get("system") else [str(meta[k]) for k in ("backend", "model") if meta.get(k)]
    if not parts:
        return None
    name = " ".join(parts)
    name = f"{name} ({meta['format']})" if meta.get("format") else name
    return storable(name if len(name) <= SYSTEM_LIMIT else name[:SYSTEM_LIMIT - 1] + "…")


def system_meta(settings: Settings) -> dict[str, str]:
    """What a dialogue records about the system that ran it: backend, prompt format and model. A scripted backend
    runs no model, only its script: unless a model name was given for it, the script's file name stands in (the
    model setting's default would credit the script's replies to CoALM)."""
    unnamed = settings.backend == "scripted" and settings.script and "model" not in settings.model_fields_set
    model = f"script {settings.script.name}" if unnamed and settings.script else settings.model
    return {"backend": settings.backend, "format": settings.format, "model": model}


def person_name(name: str | None, what: str = "your name") -> str:
    """A rater's, voter's or lead's name as stored: stripped; a ValueError saying what to do when it is empty
    (answers are counted per person) or longer than NAME_LIMIT."""
    name = storable((name or "").strip())
    if not name:
        raise ValueError(f"Please enter {what} first: answers are counted per person.")
    if len(name) > NAME_LIMIT:
        raise ValueError(f"That name is {len(name)} characters long; use at most {NAME_LIMIT}.")
    return name
