"""What the page may say about the server: folder names, never absolute paths (they reveal the machine)."""

from __future__ import annotations

import re

# An absolute POSIX or Windows path, up to the next space or separator dot.
_PATH = re.compile(r"(?<![\w.:/])(?:[A-Za-z]:\\|/)(?:[^\s·,/\\]+[/\\])*([^\s·,/\\]+)[/\\]?")


def without_paths(text: str) -> str:
    """`text` with each absolute path shortened to its last part: "/srv/app/multiwoz/db" -> "…/db"."""
    return _PATH.sub(lambda match: f"…/{match[1]}", text)
