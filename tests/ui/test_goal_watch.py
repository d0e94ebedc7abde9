""""Watch a goal" and the first minute without a model: the handlers (the agenda user against the rule-based
system, through the one dialogue loop, to a saved verdict; Pause, Stop; Play a goal with the rules) and the real
page in chromium at 1440x900 and 390x844, on a machine with no model and no test goals."""

from __future__ import annotations

import threading
import time

import gradio as gr
import pytest

from app.dialogue.transcript import VERDICT_KEY, AgentSaid
from app.settings import Settings
from app.simulation.systems import RULES, RULES_LABEL
from app.ui.demo import PAUSED, DemoApp
from tests.ui.test_ui_handlers import CARD, CHAT, SEND, STATE, STATUS, VERDICT, last


def no_model_app(tmp_path, raw_db_dir, **more) -> DemoApp:
    """The page's handlers on a machine where the model cannot start (a scripted backend without a script) and
    the test goals are not found (goals are generated from the database)."""
    settings = Settings(home=tmp_path, data_dir=raw_db_dir, backend="scripted", test_dir=tmp_path / "no-goals",
                        download_timeout_s=1, watch_pause_s=0, **more)
    return DemoApp(settings).start()


@pytest.fixture
def watcher(tmp_path, raw_db_dir, monkeypatch):
    from app.evaluation import data
    from app.ui.goal_play import GoalPlay
    from app.ui.goal_watch import GoalWatch

    def nowhere(*_args, **_kwargs):
        raise data.TestDataUnavailable("no test goals on this machine")

    monkeypatch.setattr(data, "locate", nowhere)
    app = no_model_app(tmp_path, raw_db_dir)
    return app, GoalWatch(GoalPlay(app))


def test_watch_a_goal_plays_the_agenda_user_against_the_rules_to_a_saved_verdict(watcher):
    app, watch = watcher
    assert app.status.state == "failed"
    goals = watch.play.goal_set()
    assert goals.generated and goals.ids
    assert watch.play.systems()["choices"] == [(RULES_LABEL, RULES)]  # no model offered when none can answer
    every, final = last(watch.watch(goals.ids[0], "agenda", RULES, None))
    transcript = final[STATE]
    assert transcript.goal.id == goals.ids[0] and transcript.meta["backend"] == RULES
    assert transcript.meta["model"] == RULES_LABEL and transcript.meta["user"] == "agenda"
    assert len(transcript.turns()) >= 2 and any(isinstance(e, AgentSaid) for e in transcript.events)
    assert final[VERDICT].startswith(("✅ **Goal met.**", "❌ **Goal not met.**")) and "| domain |" in final[VERDICT]
    assert "Your task" in final[CARD]
    assert any(o[STATUS].startswith("▶ Watching") for o in every[:-1])  # said while it plays
    stored = app.store.transcript(transcript.id)  # saved like any other dialogue, with its verdict
    assert stored is not None and stored.meta[VERDICT_KEY]["complete"] in (True, False)
    # Not "no model": the rules answer this dialogue, so the person may go on chatting and Send is on.
    assert "🔴" not in final[STATUS] and final[SEND]["interactive"] is True


def test_play_a_goal_with_the_rules_chats_without_a_model(watcher):
    app, watch = watcher
    goal = watch.play.goal_set().ids[0]
    assert all(isinstance(v, type(gr.skip())) for v in watch.play.start(goal, "model", None))  # no model: refused
    opened = watch.play.start(goal, RULES, None)
    assert opened[STATE].meta["backend"] == RULES and opened[SEND]["interactive"] is True
    _every, final = last(app.respond("I am looking for a hotel in the north.", opened[STATE]))
    assert final[STATE].turns() and final[CHAT][-1]["role"] == "assistant" and final[CHAT][-1]["content"]
    checked = watch.play.done(final[STATE])
    assert checked[VERDICT].startswith(("✅", "❌"))


def test_pause_holds_a_watched_dialogue_and_stop_ends_it_without_a_verdict(tmp_path, raw_db_dir, monkeypatch):
    from app.evaluation import data
    from app.ui.goal_play import GoalPlay
    from app.ui.goal_watch import GoalWatch

    monkeypatch.setattr(data, "locate", lambda *a, **k: (_ for _ in ()).throw(data.TestDataUnavailable("none")))
    app = no_model_app(tmp_path, raw_db_dir)
    app.settings.watch_pause_s = 0.2
    watch = GoalWatch(GoalPlay(app))
    pages = watch.watch(watch.play.goal_set().ids[0], "agenda", RULES, None)
    first = next(pages)
    transcript = first[STATE]
    assert app.watching(transcript)
    assert app.pause(transcript)["value"] == "Resume"
    seen: list = []
    reader = threading.Thread(target=lambda: seen.extend(pages))
    reader.start()
    time.sleep(1.5)
    held = len(transcript.events)
    time.sleep(1.0)
    assert len(transcript.events) == held and any(page[STATUS] == PAUSED for page in seen)  # paused: nothing moves
    assert app.pause(transcript)["value"] == "Pause"  # Resume
    time.sleep(0.5)
    app.stop_turn(transcript)
    reader.join(timeout=10)
    assert not reader.is_alive() and not app.watching(transcript)
    assert VERDICT_KEY not in transcript.meta and seen[-1][VERDICT] == ""  # stopped: no verdict
