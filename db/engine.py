"""Engine factory: SQLite by default, any SQLAlchemy URL (PostgreSQL for shared annotation) works."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 1.0
BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for another (a first import takes a few seconds)
_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    in_memory = parsed.database in (None, "", ":memory:")
    if not in_memory:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        # Gradio runs handlers on worker threads; one in-memory database must be shared by all of them.
        connect_args={"check_same_thread": False},
        poolclass=StaticPool if in_memory else None,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    if not in_memory:
        _start_checkpointer(engine)
    return engine


def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = connection.cursor()
    # Waiting comes first: switching a new file to WAL needs a lock another starting process may hold.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # WAL with synchronous=NORMAL commits without an fsync per booking and lets readers run during writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoints (which fsync) run on a background thread instead of inside some unlucky booking's commit.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


@contextmanager
def exclusive(engine: Engine, *name: object) -> Iterator[Connection]:
    """A transaction holding the lock called `name` until it ends, across threads and processes: what a
    check-then-write (is the table there? is a room free?) needs to stay true until its write commits.

    PostgreSQL: a transaction-scoped advisory lock on a hash of the name, so unrelated names run in parallel.
    SQLite has one writer at a time anyway: BEGIN IMMEDIATE takes the write lock before the first read
    (a per-engine thread lock first, so threads queue here rather than in SQLite's busy loop).
    """
    if engine.dialect.name == "sqlite":
        with _WRITERS.setdefault(engine, threading.Lock()), _immediate(engine) as connection:
            yield connection
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(lock_id(*name))))
        yield connection


@contextmanager
def _immediate(engine: Engine) -> Iterator[Connection]:
    """The driver's implicit transactions are switched off (AUTOCOMMIT) on this connection only, so that it can
    say BEGIN IMMEDIATE itself; the caller must not commit, this does."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")


def lock_id(*name: object) -> int:
    """A signed 64-bit number naming a lock, the same in every process (two names sharing one only wait)."""
    digest = hashlib.blake2b("\x1f".join(map(str, name)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _start_checkpointer(engine: Engine) -> None:
    stop = threading.Event()

    def checkpoint_forever() -> None:
        while not stop.wait(CHECKPOINT_EVERY_S):
            try:
                with engine.connect() as connection:
                    connection.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
            except SQLAlchemyError as error:  # a busy or vanished database: try again next round
                log.debug("WAL checkpoint skipped: %s", error)

    threading.Thread(target=checkpoint_forever, name="sqlite-checkpoint", daemon=True).start()
    # Disposing the engine (tests make many) ends its thread.
    event.listen(engine, "engine_disposed", lambda _engine: stop.set())
