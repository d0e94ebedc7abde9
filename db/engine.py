"""Engine factory: SQLite by default, any SQLAlchemy URL (PostgreSQL for shared annotation) works."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 1.0
BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for another (a first import takes a few seconds)
_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    """An engine for the URL. SQLite gets its folder made, one connection shared by threads when in memory,
    and its pragmas, explicit transactions and checkpoints when on disk."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    in_memory = parsed.database in (None, "", ":memory:")
    if not in_memory and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        # Gradio runs handlers on worker threads; one in-memory database must be shared by all of them.
        connect_args={"check_same_thread": False},
        poolclass=StaticPool if in_memory else None,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    if not in_memory:  # (an in-memory database lives in one process: a thread lock is all `exclusive` needs)
        event.listen(engine, "connect", _sqlite_explicit_transactions)
        event.listen(engine, "begin", _sqlite_begin)
        _start_checkpointer(engine)
    return engine


def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = connection.cursor()
    # Waiting comes first: switching a new file to WAL needs a lock another starting process may hold.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # WAL with synchronous=NORMAL commits without an fsync per booking and lets readers run during writes.
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoints (which fsync) run on a background thread instead of inside some unlucky booking's commit.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _switch_to_wal(cursor) -> None:  # noqa: ANN001 - a DB-API cursor
    """`PRAGMA journal_mode=WAL`, waiting for the other connections that switch a new file at the same moment:
    SQLite answers "database is locked" at once there, without calling the busy handler (six pools opening one
    new file together hit it about once in ten tries), so the switch is tried again for up to BUSY_TIMEOUT_MS."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_explicit_transactions(connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    # The driver's implicit BEGIN is switched off and SQLAlchemy's "begin" says BEGIN itself, so a writer can
    # ask for BEGIN IMMEDIATE (the pysqlite recipe in SQLAlchemy's documentation).
    connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def exclusive(engine: Engine, *name: object) -> Iterator[Connection]:
    """A transaction holding the lock called `name` until it ends, across threads and processes: what a
    check-then-write (is the table there? is a room free?) needs to stay true until its write commits.

    PostgreSQL: a transaction-scoped advisory lock on a hash of the name, so unrelated names run in parallel.
    SQLite has one writer at a time anyway: BEGIN IMMEDIATE takes the write lock before the first read
    (a per-engine thread lock first, so threads queue here rather than in SQLite's busy loop).
    """
    if engine.dialect.name == "sqlite":
        with _WRITERS.setdefault(engine, threading.Lock()), \
                engine.connect().execution_options(sqlite_immediate=True) as connection, connection.begin():
            yield connection
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(lock_id(*name))))
        yield connection


def lock_id(*name: object) -> int:
    """A signed 64-bit number naming a lock, the same in every process (two names sharing one only wait)."""
    digest = hashlib.blake2b("\x1f".join(map(str, name)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _start_checkpointer(engine: Engine) -> None:
    stop = threading.Event()

    def checkpoint_forever() -> None:
        while not stop.wait(CHECKPOINT_EVERY_S):
            try:
                connection = engine.raw_connection()  # outside any transaction, which a checkpoint needs
                try:
                    connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    connection.close()
            except (SQLAlchemyError, sqlite3.Error) as error:  # a busy or vanished database: next round
                log.debug("WAL checkpoint skipped: %s", error)

    threading.Thread(target=checkpoint_forever, name="sqlite-checkpoint", daemon=True).start()
    # Disposing the engine (tests make many) ends its thread.
    event.listen(engine, "engine_disposed", lambda _engine: stop.set())
