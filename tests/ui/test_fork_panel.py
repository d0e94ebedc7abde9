"""Fork into the Chat tab from the chat itself and from a review item, through the page's handler (`fork_into_chat`,
the one the Runs tab's button also runs): the new dialogue holds the events up to the chosen one, the bookings made
up to there (under new references), its parent; the person goes on in it; the parent is left as it was."""

from __future__ import annotations

import re

import gradio as gr
import pytest

from app.dialogue.transcript import AgentSaid, Booked, ModelCalled, ToolAnswered, Transcript
from app.simulation.systems import RULES
from app.ui import view
from app.ui.fork_panel import events_of, fork_into_chat, label_at
from app.ui.goal_play import MODEL
from app.ui.review_tab import ReviewTab
from app.workbench.review_store import ReviewStore
from db.engine import make_engine
from tests.agent.test_agent_dialogues import TRIP
from tests.markup import table
from tests.ui.test_browser import missing, send
from tests.ui.test_ui_handlers import BOOKINGS, CHAT, STATE, last, said, started
from tests.ui.test_workbench_browser import browser, wait_text  # noqa: F401 - fixtures
from tests.workbench_seed import recorded_dialogue

USERS = ["I need a cheap guesthouse in the north", "Book worth house for 2 people, 2 nights from thursday",
         "I also need a train from london kings cross on friday after 9am", "Yes, 2 seats please"]


def booked_at(transcript: Transcript) -> list[int]:
    """The 1-based numbers of the events that answered a booking."""
    return [n for n, e in enumerate(transcript.events, 1)
            if isinstance(e, ToolAnswered) and isinstance(e.result, Booked)]


def test_the_chat_forks_itself_after_a_booking_and_goes_on_in_the_fork(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, TRIP)
    state = None
    for text in USERS[:2]:
        _, final = last(app.respond(text, state))
        state = final[STATE]
    parent_events, parent_booking = len(state.events), app.toolbox.bookings(state.id)[0]
    at = booked_at(state)[0]
    slider, label, answers = events_of(state)
    assert label.startswith(f"event {parent_events} of {parent_events}")
    assert slider["maximum"] == slider["value"] == parent_events and answers["value"] == MODEL
    assert label_at(state, at).startswith(f"event {at} of {parent_events}") and "tool_answered" in label_at(state, at)

    line, tabs, page = fork_into_chat(app, state, at, MODEL, state)
    fork = page[STATE]
    assert line == f"Forked after event {at} into the Chat tab: go on from there." and tabs.selected == "chat-tab"
    assert fork.id != state.id and len(fork.events) == at
    assert fork.meta["forked_from"]["transcript"] == state.id
    assert fork.meta["forked_from"]["event"] == state.events[at - 1].id and fork.meta["backend"] == "scripted"
    # The booking made up to there is made again in the fork's world, under a reference of its own, and the panel
    # and the copied events name that one.
    (again,) = app.toolbox.bookings(fork.id)
    assert again.entity_key == parent_booking.entity_key and again.reference != parent_booking.reference
    assert table(page[BOOKINGS])["reference"].tolist() == [again.reference]
    events = "".join(event.model_dump_json() for event in fork.events)
    assert again.reference in events and parent_booking.reference not in events
    assert fork.meta["forked_from"]["references"] == {parent_booking.reference: again.reference}
    # The person goes on in the fork (the agent answers from there); the parent is left as it was.
    _, final = last(app.respond(USERS[2], fork))
    assert final[STATE].id == fork.id and said(final[CHAT][-1])
    assert len(state.events) == parent_events and app.toolbox.bookings(state.id) == [parent_booking]

    # The fork is not shared with the review queue, and the replies it copied are not rated as its own: they are
    # the parent's (another system's, maybe).
    went_on = final[STATE]
    assert went_on.meta["shared"] is False
    transcript, said_back = app.share(went_on, True)
    assert said_back.startswith("Not shared: this is a fork") and transcript.meta["shared"] is False
    _messages, ids = view.chat_messages(went_on)
    replies = [i for i, event_id in enumerate(ids) if isinstance(went_on.event(event_id), AgentSaid)]

    def like(index: int) -> gr.LikeData:
        return gr.LikeData(None, {"index": index, "value": "x", "liked": True})

    with pytest.warns(UserWarning, match="copied from the dialogue this one was forked from"):
        assert app.rate_message(went_on, "Ada", like(replies[0])) == gr.skip()
    assert app.store.ratings(went_on.id)["messages"] == []
    app.rate_message(went_on, "Ada", like(replies[-1]))  # the reply given in the fork is its own
    assert [r["feedback"] for r in app.store.ratings(went_on.id)["messages"]] == ["like"]
    assert label_at(went_on, 0.5).startswith("event 1 of")  # clamped as the fork clamps it
    said_back, _download = app.rate_dialogue(went_on, "yes", 4, "", "Ada")  # as a whole: two dialogues' turns
    assert said_back.startswith("⚠️ This is a fork") and app.store.ratings(went_on.id)["dialogue"] == []

    # Before the booking: nothing was booked yet, so the fork holds no booking; answered by the rules if chosen.
    _, _, early = fork_into_chat(app, state, 1, RULES, final[STATE])
    assert early[STATE].meta["backend"] == RULES and app.toolbox.bookings(early[STATE].id) == []
    assert len(early[STATE].events) == 1


def test_nothing_to_fork_and_no_database_are_said_and_change_nothing(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, TRIP)
    line, tabs, page = fork_into_chat(app, None, 1, MODEL, None)
    assert line == "⚠️ Choose a dialogue with events first." and all(p == gr.skip() for p in [tabs, *page])
    assert events_of(Transcript())[1] == "No events yet: there is nothing to fork."
    assert label_at(Transcript(events=[]), 3) == "No events yet: there is nothing to fork."
    _, final = last(app.respond(USERS[0], None))
    app.toolbox = None  # the database went away
    line, _tabs, page = fork_into_chat(app, final[STATE], 99, MODEL, final[STATE])
    assert "database is not available" in line and all(p == gr.skip() for p in page)


@pytest.fixture()
def review_tab(tmp_path, toolbox) -> ReviewTab:
    store = ReviewStore(make_engine(f"sqlite:///{tmp_path / 'workbench.sqlite3'}"), raters_per_item=2)
    transcript = recorded_dialogue(toolbox, "good", 0)
    store.enqueue(transcript.id, transcript.to_data(), dict(transcript.meta), "evaluate")
    return ReviewTab(store)


def test_a_review_item_forks_into_the_chat_blind_with_its_bookings(tmp_path, raw_db_dir, review_tab):
    app = started(tmp_path, raw_db_dir, TRIP)
    item = review_tab.next("cy")[4]
    shown = review_tab.transcript(item)
    assert shown is not None and shown.meta == {}  # as raters see it: who answered stays hidden
    assert any(isinstance(e, ModelCalled) and e.backend != "hidden" for e in shown.events)  # its calls name it
    parent = review_tab.fork_parent(item)
    slider, _label, _answers = events_of(parent)
    line, _tabs, page = fork_into_chat(app, parent, slider["value"], RULES, None)
    fork = page[STATE]
    assert line.startswith("Forked after event") and len(fork.events) == len(shown.events)
    # The fork, its download and its record name no hidden system: not in its meta, not in the model calls it
    # copied, not by the item's id (a simulation's or an arena match's id says where it came from).
    assert fork.meta["backend"] == RULES and "good-model" not in fork.to_json() and item not in fork.to_json()
    calls = [e for e in fork.events if isinstance(e, ModelCalled)]
    assert calls and all(e.backend == "hidden" and e.model is None for e in calls)
    assert [b.domain for b in app.toolbox.bookings(fork.id)] == [b.domain for b in parent.bookings()] != []
    assert {b.reference for b in fork.bookings()} == {b.reference for b in app.toolbox.bookings(fork.id)}
    assert review_tab.store.answers(item, "cy") == []  # forking rated nothing


# -- in Debian's chromium -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fork_server(tmp_path_factory, raw_db_dir):
    import json

    from tests.browser_helpers import running_app

    home = tmp_path_factory.mktemp("fork-home")
    script = home / "script.json"
    script.write_text(json.dumps(TRIP))
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir)}
    with running_app(["--backend", "scripted", "--script", str(script)], env) as url:
        yield url


@pytest.mark.skipif(missing is not None, reason=str(missing))
def test_fork_the_chat_in_the_browser_and_go_on_in_the_fork(fork_server, browser):  # noqa: F811
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(fork_server, wait_until="load")
    page.wait_for_selector("#message textarea")
    send(page, USERS[0], "Worth House")
    send(page, USERS[1], "Worth House is booked")
    page.wait_for_function("() => /[A-Z0-9]{8}/.test(document.querySelector('#bookings').innerText)")
    parent_reference = re.search(r"\b[A-Z0-9]{8}\b", page.inner_text("#bookings"))[0]
    page.click("#chat-fork-panel button:has-text('Fork this dialogue')")
    wait_text(page, "#chat-fork-event-label", "agent_said")  # opened at the last event: the booking's reply
    page.click("#chat-fork")
    wait_text(page, "#chat-fork-status", "Forked after event")
    page.wait_for_function("r => /[A-Z0-9]{8}/.test(document.querySelector('#bookings').innerText) && "
                           "!document.querySelector('#bookings').innerText.includes(r)", arg=parent_reference,
                           timeout=15_000)
    assert "Worth House is booked" in page.inner_text("#chat")  # the dialogue up to there, with its booking
    send(page, USERS[2], "Shall I book it?")  # and the person goes on in the fork
    assert "train" in page.inner_text("#api-calls").lower() or "FindTrain" in page.inner_text("#api-calls")
    page.context.close()
