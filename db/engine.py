"""Engine factory: SQLite by default, any SQLAlchemy URL (PostgreSQL for shared annotation) works."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 1.0


def make_engine(url: str) -> Engine:
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
    if not in_memory:
        _start_checkpointer(engine)
    return engine


def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = connection.cursor()
    # WAL with synchronous=NORMAL commits without an fsync per booking and lets readers run during writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Checkpoints (which fsync) run on a background thread instead of inside some unlucky booking's commit.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


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
