"""Where a run's numbers came from, recorded in its metrics.json: the project's git commit, a hash of the prompts
and of the settings, the model, the data's checksums and the seed, with one `provenance_hash` over them all.

Two runs with the same hash ran the same code (by its commit) with the same prompts, settings, model, data and
seed, so their numbers may differ only by what is not deterministic (a sampling server, timing). What only says
where a run happened (its --out folder, the home folder, a server's address, secrets, how many workers) is kept
out of the settings hash, so a rerun elsewhere gets the same hash. Outside a git checkout (a Space built without
.git) the commit is None, never an error.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from app.evaluation.data import SOURCES
from app.settings import REPO_ROOT, Settings
from db.importer import imported_checksums

PROMPTS = REPO_ROOT / "app" / "agent" / "prompts"
# Settings that say where or how fast a run happened, or hold a secret: they do not change its dialogues.
PLACE_SETTINGS = frozenset({"home", "db_url", "data_dir", "test_dir", "api_key", "admin_token", "port", "host",
                            "download_timeout_s", "base_url", "script", "remote_concurrency", "local_concurrency",
                            "share_default", "raters_per_item", "arena", "runs_dir"})
PLACE_FLAGS = frozenset({"out", "compare", "workers", "test_dir", "check", "script", "base_url", "user_base_url",
                         "score", "seed"})  # the seed is recorded on its own
GIT_TIMEOUT_S = 10


def _git(root: Path, *args: str) -> str | None:
    """git's output for `args` at `root`; None outside a git checkout, without git, or when it fails."""
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():  # a copy without .git must not borrow an enclosing repo's commit
        return None
    try:
        done = subprocess.run([git, *args], cwd=root, capture_output=True, text=True,  # noqa: S603 - fixed args
                              timeout=GIT_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(root: Path = REPO_ROOT) -> str | None:
    """The commit checked out at `root`; None outside a git checkout, or without git."""
    commit = (_git(root, "rev-parse", "HEAD") or "").strip()
    return commit if re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def git_dirty(root: Path = REPO_ROOT) -> bool | None:
    """Whether tracked files differ from the commit (the commit then does not say all); None when unknown."""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status.strip())


def digest(value: Any) -> str:
    """SHA-256 of `value` as canonical JSON (sorted keys; paths and other objects as text)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def prompts_hash(extra: Mapping[str, str] | None = None) -> str:
    """A hash of the prompt templates (every file in app/agent/prompts) and of any other prompt text used (a user
    simulator's), by name."""
    texts = {f"app/agent/prompts/{p.name}": p.read_text(encoding="utf-8") for p in sorted(PROMPTS.glob("*.txt"))}
    return digest({**texts, **(extra or {})})


def settings_hash(settings: Settings, flags: Mapping[str, Any] | None = None) -> str:
    """A hash of what shapes the run's dialogues: the settings and command-line flags, less those that only say
    where it ran (PLACE_SETTINGS, PLACE_FLAGS); a script counts by its content, not its path."""
    shaping = {k: v for k, v in settings.model_dump(mode="json").items() if k not in PLACE_SETTINGS}
    if settings.script is not None:
        try:
            shaping["script_sha256"] = hashlib.sha256(Path(settings.script).read_bytes()).hexdigest()
        except OSError:
            shaping["script_sha256"] = None
    given = {k: v for k, v in (flags or {}).items() if k not in PLACE_FLAGS}
    return digest({"settings": shaping, "flags": given})


def data_checksums(engine: Engine, test_files: tuple[str, ...] = ()) -> dict[str, str]:
    """SHA-256 of the data: each domain's MultiWOZ file as the importer recorded it, and the test files used (as
    pinned and verified when they were located)."""
    return {**{f"db/{domain}": sha for domain, sha in sorted(imported_checksums(engine).items())},
            **{name: SOURCES[name].sha256 for name in test_files}}


def provenance(settings: Settings, engine: Engine, *, model: str | None, seed: int | None,
               flags: Mapping[str, Any] | None = None, prompts: Mapping[str, str] | None = None,
               test_files: tuple[str, ...] = ()) -> dict[str, Any]:
    """The run's provenance for metrics.json, with `provenance_hash` over every field but `git_dirty` (which says
    whether the commit tells the whole story, and is recorded beside it)."""
    fields = {"git_commit": git_commit(), "prompts_hash": prompts_hash(prompts),
              "settings_hash": settings_hash(settings, flags), "model": model,
              "data": data_checksums(engine, test_files), "seed": seed}
    return {**fields, "git_dirty": git_dirty(), "provenance_hash": digest(fields)}
