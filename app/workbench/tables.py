"""Tables of the annotation workbench: review items, answers, claims, adjudications, arena matches and votes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import DateTime, Engine, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.engine import exclusive
from db.schema import Base, DialogueRating, DialogueRecord, MessageRating, _now


class ReviewItem(Base):
    """A recorded dialogue waiting for raters; `system` (backend, format, model) is never shown to them."""

    __tablename__ = "review_items"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the dialogue's id
    source: Mapped[str] = mapped_column(String(40))  # live, evaluate, simulate, file, arena
    system: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class ReviewAnswer(Base):
    """One rater's answer to one question about an item; unique, so a repeated click replaces it."""

    __tablename__ = "review_answers"
    __table_args__ = (UniqueConstraint("item_id", "rater", "question", "target", name="uq_review_answer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200), index=True)
    rater: Mapped[str] = mapped_column(String(200), index=True)
    question: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200), default="")  # "" = the dialogue, else a reply's event id
    value: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewClaim(Base):
    """One of an item's N rater slots, held by a rater: open while they rate, kept once they have rated
    (an open one expires). Unique slots make handing out the last slot atomic on any database."""

    __tablename__ = "review_claims"
    __table_args__ = (UniqueConstraint("item_id", "rater", name="uq_review_claim"),
                      UniqueConstraint("item_id", "slot", name="uq_review_slot"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200), index=True)
    rater: Mapped[str] = mapped_column(String(200))
    slot: Mapped[int]
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Adjudication(Base):
    """The lead's final label for one answer unit (item, question, target), with a note."""

    __tablename__ = "review_adjudications"
    __table_args__ = (UniqueConstraint("item_id", "question", "target", name="uq_adjudication"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200), default="")
    label: Mapped[str] = mapped_column(String(60))
    lead: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ArenaMatch(Base):
    """One side-by-side dialogue: the same user messages went to two systems, shown as A and B."""

    __tablename__ = "arena_matches"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    system_a: Mapped[str] = mapped_column(String(300))
    system_b: Mapped[str] = mapped_column(String(300))
    dialogue_a: Mapped[str] = mapped_column(String(200))
    dialogue_b: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ArenaVote(Base):
    """One vote on an arena match: on one turn, or on the whole dialogue."""

    __tablename__ = "arena_votes"
    __table_args__ = (Index("ix_arena_votes_match", "match_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[str] = mapped_column(String(200))
    turn: Mapped[int | None]  # None: a vote on the whole dialogue
    winner: Mapped[str] = mapped_column(String(10))  # a, b, tie, bothbad
    voter: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


WORKBENCH_TABLES: list[Table] = [cast(Table, t.__table__) for t in (
    DialogueRecord, MessageRating, DialogueRating,  # the chat's ratings: results read them too
    ReviewItem, ReviewAnswer, ReviewClaim, Adjudication, ArenaMatch, ArenaVote)]


@contextmanager
def writing(engine: Engine, *lock: object) -> Iterator[Session]:
    """A session whose transaction holds the write lock `lock` from its first read to its commit (BEGIN
    IMMEDIATE on SQLite, an advisory lock on PostgreSQL): a read-then-write is never overtaken by another."""
    with exclusive(engine, "workbench", *lock) as connection, Session(bind=connection) as session:
        yield session
        session.flush()


def create_workbench_tables(engine: Engine) -> None:
    """Create the workbench's tables (and the chat's, which results read) where they are missing."""
    Base.metadata.create_all(engine, tables=WORKBENCH_TABLES)


def system_of(meta: dict[str, Any]) -> str:
    """The name a dialogue's system goes by in results: backend, model and prompt format."""
    parts = [str(meta[k]) for k in ("backend", "model") if meta.get(k)]
    name = " ".join(parts) or "unknown"
    return f"{name} ({meta['format']})" if meta.get("format") else name

