"""What the page may say about the server: folder names, never absolute paths (they reveal the machine); and
whether ratings would be lost at a restart (a Space without persistent storage)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from app import settings as app_settings
from app.settings import Settings

# An absolute POSIX or Windows path, up to the next space or separator dot.
_PATH = re.compile(r"(?<![\w.:/])(?:[A-Za-z]:\\|/)(?:[^\s·,/\\]+[/\\])*([^\s·,/\\]+)[/\\]?")


def without_paths(text: str) -> str:
    """`text` with each absolute path shortened to its last part: "/srv/app/multiwoz/db" -> "…/db"."""
    return _PATH.sub(lambda match: f"…/{match[1]}", text)


def storage_warning(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """On a Hugging Face Space, what to say when ratings would be lost at the next restart: the database is a
    SQLite file on the container's own disk (wiped at every restart) rather than in persistent storage or on a
    database server. None elsewhere, and where they are safe."""
    environ = os.environ if environ is None else environ
    if not environ.get("SPACE_ID"):
        return None
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        return None  # a database server outlives the Space's container
    if url.database not in (None, "", ":memory:"):
        folder = Path(url.database).resolve()
        storage = app_settings.SPACE_STORAGE.resolve()
        if folder == storage or storage in folder.parents:
            return None
    return ("⚠️ **Ratings are lost when this Space restarts:** they are kept on the container's own disk. Turn on "
            f"persistent storage in the Space's settings (it is mounted at {app_settings.SPACE_STORAGE}), or set "
            "`WOZ_DB_URL` to a PostgreSQL database.")
