"""Tables: one per domain (derived from its declaration), imported-file records, and bookings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, DateTime, Engine, Index, Integer, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domains import all_domains
from domains.base import Domain, Slot
from domains.values import minutes


class Base(DeclarativeBase):
    """The declarative base of every ORM table here and in the workbench."""
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class Booking(Base):
    """One stored booking: its unique reference, the dialogue that made it, the booked entity and the details."""

    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_dialogue_entity", "dialogue_id", "domain", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(8), unique=True)
    dialogue_id: Mapped[str] = mapped_column(String(200), index=True)
    domain: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ImportedFile(Base):
    """Which MultiWOZ file filled a domain's table: the importer's record of work already done."""

    __tablename__ = "imported_files"

    domain: Mapped[str] = mapped_column(String(40), primary_key=True)
    file: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300))
    rows: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


def domain_table(domain: Domain) -> Table:
    """The domain's table: its key, one indexed column per searchable slot, and the whole record."""
    existing = Base.metadata.tables.get(domain.name)
    if existing is not None:
        return existing
    return Table(
        domain.name,
        Base.metadata,
        Column("row", Integer, primary_key=True, autoincrement=False),  # position in the MultiWOZ file
        Column("key", String(200), unique=True, nullable=False),
        *(Column(s.name, Integer if s.kind == "time" else String(200), index=True) for s in domain.searchable),
        Column("record", JSON, nullable=False),
    )


def column_value(slot: Slot, raw: object) -> int | str | None:
    """A record's value as stored for searching: times as minutes, everything else lowercase text."""
    if raw is None:
        return None
    text = " ".join(str(raw).lower().split())
    return minutes(text) if slot.kind == "time" and text != "?" else text


def create_all(bind: Engine | Connection) -> None:
    """Create every table that is missing, the domain tables included."""
    for domain in all_domains():
        domain_table(domain)
    Base.metadata.create_all(bind)


class DialogueRecord(Base):
    """A dialogue as last saved (after every turn), so ratings always point at what the annotator saw."""

    __tablename__ = "dialogues"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class MessageRating(Base):
    """A rating of one message in a dialogue (like, dislike, or a flag), with the turn and the text shown."""

    __tablename__ = "message_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[str] = mapped_column(String(200), index=True)
    # The transcript event rated (its reply, a tool call); None in rows saved before events had ids.
    event_id: Mapped[str | None] = mapped_column(String(40), default=None)
    turn: Mapped[int]
    message: Mapped[str] = mapped_column(Text)
    feedback: Mapped[str] = mapped_column(String(100))  # like, dislike, or a flag such as "wrong api call"
    annotator: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DialogueRating(Base):
    """A rating of a whole dialogue: task completed, naturalness from 1 to 5, and a comment."""

    __tablename__ = "dialogue_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[str] = mapped_column(String(200), index=True)
    task_completed: Mapped[str] = mapped_column(String(10))  # yes, partly, no
    naturalness: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    annotator: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
