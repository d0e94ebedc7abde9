"""The UI's handlers driven directly with the scripted backend: every panel's content, turn by turn."""

from __future__ import annotations

import json
import time
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest

from app.dialogue.transcript import Transcript
from app.settings import Settings
from app.ui.demo import ChatPage, DemoApp
from tests.agent.test_agent_dialogues import TRIP
from tests.markup import shown_text, table

# Positions in the chat page's outputs, by the record's own field names (ChatPage).
CHAT, INPUT, BELIEF, CALLS, ROWS, BOOKINGS, STATE, RETRY, DOWNLOAD, STATUS, SEND, DIALOGUE_ID, CARD, VERDICT, PANEL = (
    ChatPage._fields.index(name) for name in (
        "chat", "message", "belief", "calls", "rows", "bookings", "state", "retry", "download", "status", "send",
        "dialogue_id", "goal_card", "goal_verdict", "goal_panel"))


def said(message: dict) -> str:
    """A chat message as the person reads it."""
    return shown_text(message["content"])


def started(tmp_path, raw_db_dir, outputs, **more) -> DemoApp:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(outputs))
    app = DemoApp(Settings(home=tmp_path / "home", data_dir=raw_db_dir, backend="scripted", script=script, **more))
    app.start()
    deadline = time.monotonic() + 10
    while app.status.state == "loading" and time.monotonic() < deadline:
        time.sleep(0.05)
    return app


def last(iterator):
    outputs = list(iterator)
    return outputs, outputs[-1]


def test_panels_follow_a_multi_domain_dialogue(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, TRIP)
    assert app.status.state == "ready" and "scripted" in app.header() and "local folder" in app.header()
    state = None
    users = ["I need a cheap guesthouse in the north", "Book worth house for 2 people, 2 nights from thursday",
             "I also need a train from london kings cross on friday after 9am", "Yes, 2 seats please",
             "And a taxi from the station to the hotel at 10:15"]

    every, final = last(app.respond(users[0], state))
    state = final[STATE]
    chat = final[CHAT]
    assert chat[0]["role"] == "user" and said(chat[0]) == users[0]
    assert chat[1]["metadata"]["title"] == "💭 Thought"
    step = chat[2]
    assert shown_text(step["metadata"]["title"]) == "🔧 FindHotel(area='north', pricerange='cheap', type='guesthouse')"
    assert step["metadata"]["status"] == "done" and step["metadata"]["duration"] > 0
    assert said(step).startswith("2 found: city centre north b and b, worth house")
    cost = chat[3]  # the reply's model calls, folded: how many, their tokens (as counted) and seconds
    assert cost["metadata"]["title"] == "🧮 2 model calls · tokens not reported" and cost["metadata"]["duration"] >= 0
    assert said(cost).startswith("call 1: tokens not reported") and "call 2:" in said(cost)
    assert chat[4] == {"role": "assistant", "content": TRIP[1].removeprefix("System: ")}
    assert every[0][INPUT] == "" and [said(m) for m in every[0][CHAT][-2:]] == [users[0], "…"]
    assert all(isinstance(o[INPUT], type(gr.skip())) for o in every[1:])  # typing during the turn is not wiped
    assert final[RETRY]["visible"] is False and final[STATUS] == "✅ Ready"
    assert all(o[STATUS].startswith("⏳") for o in every[:-1])  # nobody is left wondering whether it is working
    assert "<tr class='changed'><td>area</td><td>north</td></tr>" in final[BELIEF]
    calls = table(final[CALLS])
    assert calls.values.tolist() == [["FindHotel(area='north', pricerange='cheap', type='guesthouse')", "2 found", 1,
                                      calls.iloc[0]["ms"]]]
    rows = table(final[ROWS])
    assert rows["name"].tolist() == ["city centre north b and b", "worth house"]
    assert rows.columns[0] == "name"  # the table leads with the name, not the address
    assert {"address", "phone", "stars"} <= set(rows.columns) and "location" not in rows.columns
    assert table(final[BOOKINGS]).empty
    # While the reply streamed, the panels were left alone and the chat grew.
    streaming = [o for o in every if o[BELIEF] is not None and isinstance(o[BELIEF], type(gr.skip()))]
    assert streaming and all(isinstance(o[CALLS], type(gr.skip())) for o in streaming)
    pending = [o for o in every if any(m.get("metadata", {}).get("status") == "pending" for m in o[CHAT])]
    assert pending  # the call showed as running before it finished

    _, final = last(app.respond(users[1], state))
    booking = table(final[BOOKINGS]).iloc[0]
    assert booking["domain"] == "hotel" and booking["booked"] == "worth house" and booking["status"] == "booked"
    assert "day thursday" in booking["details"] and "stay 2" in booking["details"]
    assert "<tr class='changed'><td>bookday</td><td>thursday</td></tr>" in final[BELIEF]
    assert "<tr class=''><td>area</td><td>north</td></tr>" in final[BELIEF]  # earlier slots, not highlighted
    for text in users[2:]:
        _, final = last(app.respond(text, state))
    assert table(final[BOOKINGS])["domain"].tolist() == ["hotel", "train", "taxi"]
    stored = app.system.toolbox.bookings(state.id)
    assert table(final[BOOKINGS])["reference"].tolist() == [b.reference for b in stored]
    assert table(final[CALLS])["turn"].tolist() == [5, 4, 3, 2, 1]  # newest first: no scrolling to find it
    rows = table(final[ROWS])
    assert "taxi" in final[BELIEF] and rows["trainid"].iloc[0] == "TR5686" and rows.columns[0] == "trainid"
    saved = Transcript.from_data({k: v for k, v in json.loads(Path(final[DOWNLOAD]["value"]).read_text()).items()
                                  if k != "ratings"})
    assert [t.user for t in saved.turns()] == users and len(saved.bookings()) == 3


def test_too_long_messages_are_refused_and_kept(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["System: hi"], max_user_chars=50)
    text = "x" * 51
    _, final = last(app.respond(text, None))
    assert final[CHAT] == [] and final[INPUT] == text and final[STATE].events == []


def test_a_model_that_cannot_load_is_said_at_the_message_box_and_nothing_pretends_to_send(tmp_path, raw_db_dir):
    app = DemoApp(Settings(home=tmp_path, data_dir=raw_db_dir, backend="scripted")).start()
    assert app.status.state == "failed" and "🔴" in app.header() and "WOZ_SCRIPT" in shown_text(app.header())
    page = app.render()
    # One sentence where the person types: what to set, and what works without a model; never "Ready".
    assert page[STATUS].startswith("🔴") and "set WOZ_SCRIPT" in page[STATUS] and "Ready" not in page[STATUS]
    assert "Review queue" in page[STATUS] and page[SEND]["interactive"] is False
    assert app.model_status() == (page[STATUS], gr.update(interactive=False))  # what the page's timer sets
    _, final = last(app.respond("hello", None))
    assert final[CHAT] == [] and final[STATE].events == [] and final[INPUT] == "hello"  # kept, not sent
    assert final[RETRY]["visible"] is False and "press Retry" not in final[STATUS]
    _, again = last(app.retry(final[STATE]))
    assert again[STATE].events == []


def test_error_mid_turn_offers_retry_and_keeps_the_dialogue(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindHotel(area='east')", "System: 7 in the east."])
    _, first = last(app.respond("east?", None))
    state = first[STATE]
    _, failed = last(app.respond("and the west?", state))  # the script is finished: the backend errors
    assert failed[RETRY]["visible"] is True and "no more outputs" in failed[CHAT][-1]["content"]
    assert "Retry" in failed[STATUS]
    assert state.turns()[0].reply.text == "7 in the east." and state.belief() == {"hotel-area": "east"}
    app.system.backend.outputs += ["System: 4 in the west."]
    _, fixed = last(app.retry(state))
    assert fixed[RETRY]["visible"] is False and fixed[CHAT][-1]["content"] == "4 in the west."
    assert [t.status for t in state.turns()] == ["done", "done"]


def test_a_page_that_goes_away_mid_turn_keeps_what_it_showed(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindHotel(area='south')", "System: " + "long reply " * 50,
                                         "Action: FindHotel(area='north')"])
    run = app.respond("south?", None)
    for output in run:
        if any("long" in m["content"] for m in output[CHAT]):
            break
    run.close()  # the page went away: Gradio closes the handler
    state = output[STATE]
    assert state.turns()[0].status == "stopped" and state.turns()[0].reply.text == said(output[CHAT][-1])
    assert state.belief() == {"hotel-area": "south"} and app.store.transcript(state.id).turns()[0].reply.stopped
    # Closed before any reply was shown: the turn ended without one, which is said as a stop, not a failure.
    run = app.respond("north?", state)
    for output in run:
        if any(m.get("metadata", {}).get("status") == "pending" for m in output[CHAT]):
            break
    run.close()
    rendered = app.render(state)
    assert state.turns()[1].failure.message == "Stopped." and rendered[RETRY]["visible"] is True
    assert "Stopped before a reply" in said(rendered[CHAT][-1]) and rendered[STATUS].startswith("⏹")
    assert "⚠️" not in rendered[STATUS] and "did not finish" not in rendered[STATUS]


def test_stop_keeps_the_text_shown_as_the_reply_marked_stopped_and_the_next_message_runs(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindHotel(area='south')", "System: " + "long reply " * 50,
                                         "System: Yes, 5 in the south."])
    outputs = []
    for output in app.respond("south?", None):
        outputs.append(output)
        if any("long" in m["content"] for m in output[CHAT]) and len(outputs[-1][CHAT]) > 1:
            app.stop_turn(output[STATE])  # what the Stop button calls, while the reply streams
    state, final = outputs[-1][STATE], outputs[-1]
    reply = state.turns()[0].reply
    assert state.turns()[0].status == "stopped" and reply.stopped
    assert reply.text and ("long reply " * 50).startswith(reply.text) and len(reply.text) < len("long reply " * 50)
    assert any(said(o[CHAT][-1]) == reply.text for o in outputs[:-1])  # exactly what had been shown, no more
    assert said(final[CHAT][-1]).startswith(reply.text) and "stopped this reply" in said(final[CHAT][-1])
    assert final[RETRY]["visible"] is False and final[STATUS].startswith("⏹") and "⚠️" not in final[STATUS]
    assert state.belief() == {"hotel-area": "south"}  # the finished call stands
    assert app.store.transcript(state.id).turns()[0].reply.stopped  # and the store has it so
    _, after = last(app.respond("any there?", state))
    assert after[CHAT][-1]["content"] == "Yes, 5 in the south." and state.turns()[1].status == "done"


def test_new_dialogue_ends_the_running_turn_whose_handler_then_shows_the_new_one(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindHotel(area='south')", "System: " + "long reply " * 50,
                                         "System: Hello again."])
    shown, left_at, pressed = [], None, None
    for output in app.respond("south?", None):
        shown.append(output)
        if left_at is None and any("long" in m["content"] for m in output[CHAT]):
            old, left_at = output[STATE], len(shown)
            pressed = app.start_over(old)  # what the New dialogue button calls, while the reply streams
    # While the turn runs, the button leaves the page to the turn's handler, whose last update is the new
    # dialogue: one writer, so an update already on its way cannot draw the old dialogue over the new one.
    assert all(isinstance(value, type(gr.skip())) for value in pressed)
    fresh = shown[-1]
    assert len(shown) == left_at + 1 and fresh[CHAT] == [] and fresh[STATE].id != old.id
    assert fresh[STATUS] == "✅ Ready" and fresh[DIALOGUE_ID] == fresh[STATE].id
    assert isinstance(fresh[INPUT], type(gr.skip()))  # what the person began typing in the new dialogue stays
    assert old.turns()[0].reply.stopped and app.store.transcript(old.id) is not None
    assert list(app.respond("sent to the old one", old)) == []  # still queued for the old dialogue: dropped
    _, reply = last(app.respond("hello", fresh[STATE]))  # the next message runs in the new dialogue
    assert [said(m) for m in reply[CHAT] if not m.get("metadata")] == ["hello", "Hello again."]
    idle = app.start_over(reply[STATE])  # with no turn running, the button draws the new dialogue itself
    assert idle[CHAT] == [] and idle[STATE].id != reply[STATE].id and idle[DOWNLOAD]["interactive"] is False


def test_a_reload_brings_back_the_dialogue_from_the_store(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindHotel(area='south')", "System: 4 in the south."])
    _, final = last(app.respond("south?", None))
    assert final[DIALOGUE_ID] == final[STATE].id  # the browser keeps the id (gr.BrowserState)
    back = app.restore(final[DIALOGUE_ID])
    assert back[STATE].id == final[STATE].id and back[CHAT] == final[CHAT] and back[BELIEF] == final[BELIEF]
    assert back[CALLS] == final[CALLS] and back[STATUS] == "✅ Ready"
    assert app.restore("dlg-unknown")[CHAT] == [] and app.restore("")[CHAT] == []  # a fresh page: a fresh dialogue
    # A load answered after the person had started (a goal, a message): what they started stays on the page.
    assert all(output == gr.skip() for output in app.restore(final[DIALOGUE_ID], Transcript()))


def test_ratings_are_stored_and_exported(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindTrain(day='monday')", "System: Many <b>trains</b>."],
                  admin_token="s3cret")
    _, final = last(app.respond("trains on monday", None))
    state = final[STATE]
    # Index 1 is the first message (the tool step) of the assistant bubble, as the chat reports it.
    assert app.rate_message(state, "ann", gr.LikeData(None, {"index": 1, "value": "x", "liked": True}))
    app.rate_message(state, "bob", gr.LikeData(None, {"index": 1, "value": "x", "liked": "Wrong API call"}))
    reply = state.turns()[0].reply  # both ratings name the reply's event, not just the turn
    assert [r["event_id"] for r in app.store.ratings(state.id)["messages"]] == [reply.id, reply.id]
    status, download = app.rate_dialogue(state, "partly", 4, "ok but slow", "ann")
    assert status == "✅ Saved."
    assert json.loads(Path(download).read_text())["ratings"]["dialogue"][0]["naturalness"] == 4
    assert app.rate_dialogue(state, None, 3, "", "ann")[0].startswith("Please choose")
    assert app.export("wrong")[0] == "Wrong admin token."
    status, files = app.export("s3cret")
    assert status.startswith("✅")
    ratings = pd.read_csv(next(f for f in files if f.endswith("ratings.csv")))
    assert sorted(ratings["feedback"].dropna()) == ["like", "wrong api call"]
    # The words rated, as the model wrote them (not their escaped form on the page).
    assert ratings.loc[ratings.feedback == "like", "message"].item() == "Many <b>trains</b>."
    assert ratings.loc[ratings.feedback == "wrong api call", "message"].item() == "Many <b>trains</b>."
    assert ratings.loc[ratings.kind == "dialogue", "comment"].item() == "ok but slow"
    jsonl = Path(next(f for f in files if f.endswith(".jsonl")))
    exported = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert exported[0]["id"] == state.id
    assert Transcript.from_data(exported[0]["dialogue"]).turns()[0].user == "trains on monday"
    calls = pd.read_csv(next(f for f in files if f.endswith("model_calls.csv")))  # what each model call cost
    assert set(calls["dialogue"]) == {state.id} and len(calls) == 2 and (calls["counted_by"] == "not reported").all()


def test_sessions_do_not_share_dialogues(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: BookTaxi(departure='a', destination='b', leaveat='10:00')",
                                         "System: Booked.", "System: Hello, how can I help?"])
    _, mine = last(app.respond("taxi from a to b at 10", None))
    _, theirs = last(app.respond("hi", None))
    assert len(table(mine[BOOKINGS])) == 1 and table(theirs[BOOKINGS]).empty and theirs[STATE].id != mine[STATE].id
    assert [t.user for t in theirs[STATE].turns()] == ["hi"]
    assert isinstance(mine[STATE], Transcript)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_messages_do_nothing(tmp_path, raw_db_dir, text):
    app = started(tmp_path, raw_db_dir, ["System: hi"])
    _, final = last(app.respond(text, None))
    assert final[STATE].events == []


def test_unusable_database_keeps_the_page_up(tmp_path):
    app = DemoApp(Settings(home=tmp_path, db_url="sqlite:////proc/no-such-dir/woz.db")).start()
    assert app.status.state == "failed" and "database is not available" in shown_text(app.header())
    _, final = last(app.respond("hello", None))
    assert "WOZ_DATA_DIR" in final[STATUS] and final[STATE].events == [] and final[INPUT] == "hello"
    assert "Watch a goal" not in final[STATUS]  # the rule-based system needs the database too


def test_a_message_waiting_for_a_model_that_then_fails_goes_back_into_the_box(tmp_path, raw_db_dir):
    from app.ui.demo import Status

    app = started(tmp_path, raw_db_dir, ["System: hi"])
    app.status = Status("loading", "loading the model…")
    run = app.respond("hello", None)
    waiting = [next(run), next(run)]
    assert all(w[STATUS].startswith("⏳") for w in waiting) and said(waiting[-1][CHAT][0]) == "hello"
    app.status = Status("failed", "no weights", "No model could be loaded: set WOZ_MODEL.")
    final = list(run)[-1]
    assert final[INPUT] == "hello" and final[CHAT] == [] and final[STATE].events == []  # recorded nowhere
    assert final[STATUS].startswith("🔴 No model could be loaded") and final[RETRY]["visible"] is False
