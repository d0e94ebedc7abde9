"""Where Play a goal's goals come from: the MultiWOZ test goals from a local folder (WOZ_TEST_DIR) or the pinned
download, each checked by its SHA-256, and goals generated from the database where neither has them; looked for
once per page, however often the page loads."""

from __future__ import annotations

import io
import shutil
import urllib.request
import zipfile

import pytest

from app.evaluation import data
from app.settings import REPO_ROOT, Settings
from app.simulation.goal_source import find_goals

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
needs_test_data = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                     reason="the MultiWOZ test files are not beside the repository")


class Zip:
    """A download answer: a zip holding `member` (as urllib's response, a context manager with read())."""

    def __init__(self, member: str, content: bytes) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(member, content)
        self.body = buffer.getvalue()

    def __enter__(self) -> Zip:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def read(self) -> bytes:
        return self.body


def no_network(*_args, **_kwargs):
    raise OSError("no network here")


def test_without_test_goals_or_a_download_goals_are_generated_and_labelled(tmp_path, toolbox, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    found = find_goals(Settings(home=tmp_path, test_dir=None), toolbox.catalogue)
    assert found.generated and len(found.goals) == 100 and "generated from the database" in found.source
    assert all(goal.generated for goal in found.goals.values())
    assert "WOZ_TEST_DIR" in found.source  # and it says how to use the real ones
    assert find_goals(Settings(home=tmp_path, test_dir=None), None).goals == {}  # no database: nothing to play


@needs_test_data
def test_a_local_folder_is_used_when_its_files_are_the_published_ones(tmp_path, toolbox, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    found = find_goals(Settings(home=tmp_path, test_dir=TEST_DIR), toolbox.catalogue)
    assert not found.generated and len(found.goals) == 1000 and "sng0073" in found.goals
    altered = tmp_path / "altered"
    (altered / "test_mwz21").mkdir(parents=True)
    (altered / data.GOALS_FILE).write_text('{"SNG0001.json": {"goal": {}, "log": []}}')
    refused = find_goals(Settings(home=tmp_path / "home", test_dir=altered), toolbox.catalogue)
    assert refused.generated  # another file under that name is refused, as a corrupted database file is


@needs_test_data
def test_the_pinned_download_is_checked_by_its_sha256_and_kept(tmp_path, toolbox, monkeypatch):
    real = (TEST_DIR / data.GOALS_FILE).read_bytes()
    answers = {"calls": 0}

    def download(url, timeout):
        answers["calls"] += 1
        assert url == data.SOURCES[data.GOALS_FILE].url and timeout == 30
        return Zip("test.json", answers.get("content", real))

    monkeypatch.setattr(urllib.request, "urlopen", download)
    answers["content"] = real.replace(b"cheap", b"CHEAP", 1)  # a changed file under the pinned name
    with pytest.raises(data.TestDataUnavailable, match="not the pinned one"):
        data.locate(None, tmp_path / "cache", 30, names=[data.GOALS_FILE])
    assert not (tmp_path / "cache" / data.GOALS_FILE).exists()
    del answers["content"]
    found = find_goals(Settings(home=tmp_path, test_dir=None), toolbox.catalogue)
    assert not found.generated and len(found.goals) == 1000
    assert (tmp_path / "multiwoz-test" / data.GOALS_FILE).read_bytes() == real  # kept in the cache
    calls = answers["calls"]
    find_goals(Settings(home=tmp_path, test_dir=None), toolbox.catalogue)
    assert answers["calls"] == calls  # the second time, from the cache


def test_the_page_looks_for_goals_once_however_often_it_loads(tmp_path, raw_db_dir, monkeypatch):
    from app.dialogue.transcript import VERDICT_KEY
    from app.ui import goal_play
    from tests.ui.test_ui_handlers import CARD, STATE, VERDICT, last, started

    looked = []
    real = goal_play.find_goals
    monkeypatch.setattr(goal_play, "find_goals", lambda *a: looked.append(1) or real(*a))
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    app = started(tmp_path, raw_db_dir, ["System: hi"], test_dir=None)
    play = goal_play.GoalPlay(app)
    for _page_load in range(5):
        assert play.choices()["choices"]
    assert play.deal().startswith("gen-") and len(looked) == 1  # a failure is remembered too: no retry per load
    opened = play.start(play.deal(), "model", None)  # a generated goal plays like a test goal, and says what it is
    assert "generated from the database" in opened[CARD]
    _every, final = last(app.respond("hi", opened[STATE]))
    checked = play.done(final[STATE])
    assert checked[VERDICT].startswith("❌ **Goal not met.**")
    stored = app.store.transcript(checked[STATE].id)
    assert stored.goal.generated and stored.meta[VERDICT_KEY]["complete"] is False
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
