"""Tables: one per domain (derived from its declaration), imported-file records, and bookings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.engine import exclusive
from domains import all_domains
from domains.base import Domain, Slot
from domains.values import minutes


class Base(DeclarativeBase):
    """The declarative base of every ORM table here and in the workbench."""
    pass


def _now() -> datetime:
    return datetime.now(UTC)


SCHEMA_LOCK = "schema"  # every CREATE and ALTER runs under it (see `create_all`)


def storable(value: str) -> str:
    """Text as every database keeps it: NUL becomes U+FFFD (PostgreSQL's text refuses NUL, SQLite keeps it, so
    the two stores would differ) and lone surrogates too (no UTF-8 encoder takes them)."""
    value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


class CleanString(TypeDecorator[str]):
    """A VARCHAR whose values are made `storable` on the way in, the same on SQLite and PostgreSQL."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable(value)


class CleanText(CleanString):
    """A TEXT column whose values are made `storable` on the way in."""

    impl = Text
    cache_ok = True


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


def create_all(engine: Engine, tables: list[Table] | None = None) -> None:
    """Create the tables that are missing (every table, the domain tables included, unless `tables` names some)
    and bring older stores up to date: columns added since, and unique indexes (older rows that the index would
    refuse are folded into the latest one first).

    Under one database lock: processes starting at once on an empty PostgreSQL database otherwise collide in
    its catalogue (`duplicate key ... pg_type_typname_nsp_index`), and two migrations would race."""
    for domain in all_domains():
        domain_table(domain)
    chosen = tables if tables is not None else list(Base.metadata.sorted_tables)
    with exclusive(engine, SCHEMA_LOCK) as connection:
        for table in chosen:
            _add_missing_columns(connection, table)
        Base.metadata.create_all(connection, tables=chosen)
        for table in chosen:
            for index in table.indexes:
                if index.unique and not _has_index(connection, table.name, str(index.name)):
                    _keep_latest(connection, table, index)
                    index.create(connection)


def _add_missing_columns(connection: Connection, table: Table) -> None:
    """Nullable columns added to a table after stores were made with it (rows made before keep them empty)."""
    inspector = inspect(connection)
    if not inspector.has_table(table.name):
        return
    present = {column["name"] for column in inspector.get_columns(table.name)}
    for column in table.columns:
        if column.name not in present and column.nullable:
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))


def _has_index(connection: Connection, table: str, name: str) -> bool:
    if connection.dialect.name == "sqlite":  # (its reflection skips indexes on expressions, with a warning)
        found = connection.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :name"),
                                   {"name": name}).first()
        return found is not None
    return connection.dialect.has_index(connection, table, name)


def _keep_latest(connection: Connection, table: Table, index: Index) -> None:
    """Before a unique index is added to an older table: of rows that share its key, keep the latest."""
    keys = list(index.expressions)
    complete = and_(*(key.isnot(None) for key in keys if isinstance(key, Column)))  # NULLs never clash
    latest = select(func.max(table.c.id)).where(complete).group_by(*keys)
    connection.execute(delete(table).where(complete, table.c.id.not_in(latest)))


class DialogueRecord(Base):
    """A dialogue as last saved (after every turn), so ratings always point at what the annotator saw."""

    __tablename__ = "dialogues"

    id: Mapped[str] = mapped_column(CleanString(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class MessageRating(Base):
    """An annotator's current rating of one reply (like, dislike, or a flag), with the turn and the text shown.

    One per annotator and reply, as the chat's feedback control shows one choice per reply: a new choice
    replaces it and taking the choice back removes it (the unique index makes a repeated click a no-op)."""

    __tablename__ = "message_ratings"
    __table_args__ = (Index("uq_message_rating", "dialogue_id", "event_id", "annotator", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[str] = mapped_column(CleanString(200), index=True)
    # The transcript event rated (its reply); None in rows saved before events had ids.
    event_id: Mapped[str | None] = mapped_column(CleanString(40), default=None)
    turn: Mapped[int]
    message: Mapped[str] = mapped_column(CleanText)
    feedback: Mapped[str] = mapped_column(CleanString(100))  # like, dislike, or a flag such as "wrong api call"
    annotator: Mapped[str] = mapped_column(CleanString(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)  # when last given


class DialogueRating(Base):
    """An annotator's current rating of a whole dialogue: task completed, naturalness from 1 to 5, and a comment
    (one per annotator and dialogue: saving again replaces it)."""

    __tablename__ = "dialogue_ratings"
    __table_args__ = (Index("uq_dialogue_rating", "dialogue_id", "annotator", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[str] = mapped_column(CleanString(200), index=True)
    task_completed: Mapped[str] = mapped_column(CleanString(10))  # yes, partly, no
    naturalness: Mapped[int]
    comment: Mapped[str] = mapped_column(CleanText, default="")
    annotator: Mapped[str] = mapped_column(CleanString(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)  # when last given
