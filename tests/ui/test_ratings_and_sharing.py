"""The chat's ratings, sharing and admin doors through the page's handlers: one current rating per reply and
annotator, only the agent's replies under a name; a chat reaches the review queue only when its person shares it;
Results and exports behind the admin gate; the header says when ratings would be lost at a restart."""

from __future__ import annotations

import gradio as gr
import pytest

from app import settings as app_settings
from app.settings import Settings
from app.ui.demo import ChatPage, DemoApp
from app.ui.header import storage_warning
from app.ui.results_tab import ResultsTab
from app.ui.review_tab import NOTHING, ReviewTab
from app.workbench.arena_store import ArenaStore
from tests.ui.test_ui_handlers import last, started

STATE, CHAT, SHARE = (ChatPage._fields.index(name) for name in ("state", "chat", "share"))
REPLY_BUBBLE = 1  # the chat reports a bubble by its first message: the tool step before the reply
LOCAL = gr.Request(client={"host": "127.0.0.1", "port": 5000}, headers={})
REMOTE = gr.Request(client={"host": "203.0.113.7", "port": 5000}, headers={})
PROXIED = gr.Request(client={"host": "127.0.0.1", "port": 5000}, headers={"x-forwarded-for": "203.0.113.7"})


def like(liked: bool | str, index: int = REPLY_BUBBLE) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "x", "liked": liked})


@pytest.fixture()
def chatted(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindTrain(day='monday')", "System: Many trains.",
                                         "System: " + "long reply " * 50])
    _, final = last(app.respond("My name is Alice Secret, phone 07700 900123. Trains on monday?", None))
    return app, final[STATE]


def failing_app(tmp_path, raw_db_dir, outputs=("System: Hello.",)) -> DemoApp:
    """A ready page whose scripted model has `outputs` and then fails every turn (the script is finished)."""
    folder = tmp_path / "failing"
    folder.mkdir()
    return started(folder, raw_db_dir, list(outputs))


def feedback(app: DemoApp, dialogue: str) -> list[tuple[str, str]]:
    return [(r["annotator"], r["feedback"]) for r in app.store.ratings(dialogue)["messages"]]


def test_a_reply_keeps_one_current_rating_per_annotator(chatted):
    app, state = chatted
    app.rate_message(state, "ann", like(True))
    app.rate_message(state, "ann", like(False))  # changing like to dislike kept both rows
    assert feedback(app, state.id) == [("ann", "dislike")]
    app.rate_message(state, "ann", like("Made up information"))
    app.rate_message(state, "ann", like("Made up information"))  # Gradio's flag menu sends each choice twice
    assert feedback(app, state.id) == [("ann", "made up information")]
    app.rate_message(state, "bob", like(True))
    app.rate_message(state, "ann", like(""))  # taking the choice back added a row with empty feedback
    assert feedback(app, state.id) == [("bob", "like")]


def test_only_the_agents_replies_take_ratings_and_only_under_a_name(chatted, tmp_path, raw_db_dir):
    app, state = chatted
    for nameless in ("", "   "):  # used to be stored as "(no name)"
        with pytest.warns(UserWarning, match="Please enter your name first"):
            app.rate_message(state, nameless, like(True))
    assert feedback(app, state.id) == []
    assert app.rate_dialogue(state, "yes", 4, "", "")[0].startswith("⚠️ Please enter your name")
    assert app.store.ratings(state.id)["dialogue"] == []
    broken = failing_app(tmp_path, raw_db_dir)
    _, answered = last(broken.respond("hello", None))
    _, failed = last(broken.respond("again", answered[STATE]))  # the script is finished: an error bubble
    assert "script is finished" in failed[CHAT][-1]["content"]
    with pytest.warns(UserWarning, match="Only the agent's replies can be rated"):
        broken.rate_message(failed[STATE], "ann", like(True, index=len(failed[CHAT]) - 1))
    assert feedback(broken, failed[STATE].id) == []


def test_a_chat_reaches_the_queue_only_when_its_person_shares_it(chatted, tmp_path, raw_db_dir):
    """An anonymous second visitor was served the first visitor's chat ("My name is Alice Secret, phone ...")."""
    app, state = chatted
    queue = ReviewTab(app.review)
    assert state.meta["shared"] is False and app.render(state)[SHARE]["value"] is False
    assert queue.next("visitor two")[-1] == NOTHING
    _, status = app.share(state, True)
    assert status.startswith("Shared") and queue.next("visitor two")[4] == state.id
    _, status = app.share(state, False)
    assert status.startswith("Not shared") and queue.next("visitor three")[-1] == NOTHING

    stopped, _ = app.share(None, True)  # shared before anything was said
    for output in app.respond("south?", stopped):
        if any("long" in m["content"] for m in output[CHAT]):
            app.stop_turn(stopped)  # a one-turn test, stopped: its reply is cut short
    assert stopped.turns()[0].status == "stopped" and queue.next("visitor four")[-1] == NOTHING
    broken = failing_app(tmp_path, raw_db_dir, outputs=[])
    shared, _ = broken.share(None, True)
    _, failed = last(broken.respond("hello", shared))  # a dialogue whose only turn failed
    assert failed[STATE].turns()[0].status == "failed"
    assert ReviewTab(broken.review).next("visitor five")[-1] == NOTHING


def test_results_and_exports_need_the_token_or_this_machine(chatted, tmp_path):
    app, _state = chatted
    open_results = ResultsTab(app.review, ArenaStore(app.store.engine), None, tmp_path / "exports")
    for door in (lambda request: app.export("", request)[0], lambda request: open_results.show("", request)[0],
                 lambda request: open_results.export("", request)[0]):
        assert "No admin token is set" in door(REMOTE) and "WOZ_ADMIN_TOKEN" in door(REMOTE)
        assert "No admin token is set" in door(PROXIED)  # a proxy on this machine forwarding someone else
        assert "No admin token is set" not in door(LOCAL)
    guarded = ResultsTab(app.review, ArenaStore(app.store.engine), "s3cret", tmp_path / "exports")
    assert guarded.show("s3cret", REMOTE)[0] != "Wrong admin token."
    for wrong in ("nope", "pässwörd", "🔑", "\ud800"):  # a non-ASCII token raised TypeError
        assert guarded.show(wrong, LOCAL)[0] == "Wrong admin token."
    unicode = ResultsTab(app.review, ArenaStore(app.store.engine), "clé-🔑", tmp_path / "exports")
    assert unicode.show("clé-🔑", REMOTE)[0] != "Wrong admin token."


def test_scripted_chats_are_not_credited_to_coalm(chatted):
    _app, state = chatted
    assert state.meta["backend"] == "scripted" and state.meta["model"] == "script script.json"


def test_the_header_says_when_ratings_would_be_lost_on_a_space(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/coalm-demo")
    monkeypatch.setattr(app_settings, "SPACE_STORAGE", tmp_path / "no-storage")
    ephemeral = Settings()
    assert "Ratings are lost when this Space restarts" in storage_warning(ephemeral)
    assert "Ratings are lost" in DemoApp(ephemeral).header()
    storage = tmp_path / "data"
    storage.mkdir()
    monkeypatch.setattr(app_settings, "SPACE_STORAGE", storage)
    persistent = Settings()
    assert persistent.home == storage / "coalm-woz" and storage_warning(persistent) is None
    assert storage_warning(Settings(db_url="postgresql+psycopg://u@db/woz")) is None
    monkeypatch.delenv("SPACE_ID")
    assert storage_warning(ephemeral) is None  # not a Space: nothing to say
