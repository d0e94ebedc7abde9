"""Every run's metrics.json says what made it: commit, prompts, settings, model, data and seed, with one hash that a
rerun with the same seed and commit reproduces, wherever it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.evaluation.cli import main as evaluate
from app.evaluation.provenance import git_commit, prompts_hash, settings_hash
from app.settings import REPO_ROOT, load_settings
from app.simulation.cli import main as simulate

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
needs_test_files = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                      reason="the MultiWOZ test files are not beside the repository")
FIELDS = {"git_commit", "git_dirty", "prompts_hash", "settings_hash", "model", "data", "seed", "provenance_hash"}


@pytest.fixture()
def env(tmp_path: Path, raw_db_dir: Path, monkeypatch):
    monkeypatch.setenv("WOZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))


def provenance_of(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["provenance"]


@needs_test_files
def test_the_same_seed_and_commit_give_the_same_hash_and_another_seed_another(tmp_path, env):
    runs = {}
    for name, seed in (("first", "0"), ("again", "0"), ("seed-1", "1")):
        out = tmp_path / name
        assert simulate(["--backend", "oracle", "--dialogues", "SNG0073", "--seed", seed, "--test-dir", str(TEST_DIR),
                         "--out", str(out)]) == 0
        runs[name] = provenance_of(out)
    first = runs["first"]
    assert set(first) == FIELDS and first["seed"] == 0 and first["model"] == "oracle"
    assert first["git_commit"] == git_commit()
    assert set(first["data"]) == {"db/attraction", "db/hotel", "db/restaurant", "db/taxi", "db/train",
                                  "test_mwz21/test.json"}
    assert first["data"]["db/hotel"] == "7f7d0fa564f6735b6a168a3ab72c7ca6f1180c49fa8a285bd9ebf7dac10e5e45"
    assert runs["again"] == first  # another --out, the same run
    assert runs["seed-1"]["seed"] == 1 and runs["seed-1"]["provenance_hash"] != first["provenance_hash"]


@needs_test_files
def test_an_evaluation_records_its_provenance_too(tmp_path, env):
    out = tmp_path / "gold"
    assert evaluate(["--backend", "gold", "--dialogues", "SNG0073", "--test-dir", str(TEST_DIR), "--out",
                     str(out)]) == 0
    found = provenance_of(out)
    assert set(found) == FIELDS and found["model"] == "gold" and found["seed"] is None
    assert {"test_mwz21/test.json", "test_mwz24/original.json"} <= set(found["data"])


def test_outside_a_git_checkout_the_commit_is_none(tmp_path):
    assert git_commit(tmp_path) is None  # a Space built without .git: no crash, no borrowed commit
    (tmp_path / ".git").write_text("gitdir: /nowhere\n")  # a broken checkout
    assert git_commit(tmp_path) is None


@pytest.mark.skipif(shutil.which("git") is None or not (REPO_ROOT / ".git").exists(), reason="not a git checkout")
def test_in_a_git_checkout_the_commit_is_head():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    assert git_commit() == head


def test_the_settings_hash_follows_what_shapes_the_dialogues_not_where_they_ran(tmp_path):
    base = load_settings({"home": tmp_path / "a", "db_url": "sqlite:///a.sqlite3"})
    elsewhere = load_settings({"home": tmp_path / "b", "db_url": "sqlite:///b.sqlite3", "api_key": "secret"})
    longer = load_settings({"home": tmp_path / "a", "max_new_tokens": 256})
    assert settings_hash(base, {"out": "x", "goals": 3}) == settings_hash(elsewhere, {"out": "y", "goals": 3})
    assert settings_hash(base) != settings_hash(longer)
    assert settings_hash(base, {"goals": 3}) != settings_hash(base, {"goals": 4})


def test_the_prompts_hash_changes_with_any_prompt_text():
    assert prompts_hash() == prompts_hash()
    assert prompts_hash({"user:llm": "You are a user."}) != prompts_hash({"user:llm": "You are a user!"})
