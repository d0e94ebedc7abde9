"""Fresh databases for tests, on SQLite and on PostgreSQL: empty ones, and copies of one imported template.

The MultiWOZ import runs once per backend and session; each test then gets its own copy (a file copy on
SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL), so no test sees another's bookings or ratings.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from db.engine import make_engine
from db.importer import LocalFolder, ensure_imported

PG_URL_VARIABLE = "WOZ_TEST_PG_URL"
REQUIRE_PG_VARIABLE = "WOZ_REQUIRE_PG"


def postgres_problem(url: str | None) -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    if not url:
        return f"no PostgreSQL server: set {PG_URL_VARIABLE}=postgresql+psycopg://user@host:port/db (.ci/run does)"
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except (SQLAlchemyError, ImportError) as error:
        return f"PostgreSQL at {make_url(url).render_as_string()} is unusable: {str(error).splitlines()[0]}"
    return None


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_PG_VARIABLE, "") not in ("", "0")


class SqliteDatabases:
    def __init__(self, folder: Path, raw_db_dir: Path) -> None:
        self.folder = folder
        self.raw_db_dir = raw_db_dir
        self._template: Path | None = None

    def empty(self) -> str:
        return f"sqlite:///{self.folder / f'{uuid.uuid4().hex}.sqlite3'}"

    def imported(self) -> str:
        if self._template is None:
            template = self.folder / "template.sqlite3"
            engine = make_engine(f"sqlite:///{template}")
            ensure_imported(engine, [LocalFolder(self.raw_db_dir)])
            engine.dispose()  # closing the last connection folds the WAL into the file
            self._template = template
        copy = self.folder / f"{uuid.uuid4().hex}.sqlite3"
        shutil.copyfile(self._template, copy)
        return f"sqlite:///{copy}"

    def drop(self, url: str) -> None:
        path = Path(make_url(url).database)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)

    def close(self) -> None:
        pass


class PostgresDatabases:
    """Databases created on one server through an admin connection; dropped after each test."""

    def __init__(self, url: str, raw_db_dir: Path) -> None:
        self.url = make_url(url)
        self.raw_db_dir = raw_db_dir
        self.admin: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.prefix = f"woz_test_{uuid.uuid4().hex[:8]}"
        self._template: str | None = None

    def _create(self, template: str = "template0") -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            # FILE_COPY: a few MB copied as files is faster than WAL-logging every block (PostgreSQL 15+).
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def empty(self) -> str:
        return self._create()

    def imported(self) -> str:
        if self._template is None:
            url = self._create()
            engine = make_engine(url)
            ensure_imported(engine, [LocalFolder(self.raw_db_dir)])
            engine.dispose()  # a template may have no open connections
            self._template = make_url(url).database
        return self._create(self._template)

    def drop(self, url: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))

    def close(self) -> None:
        if self._template:
            self.drop(self.url.set(database=self._template).render_as_string(hide_password=False))
        self.admin.dispose()
