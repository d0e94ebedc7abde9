"""The transcript: exact JSON round trip (hypothesis), derived views, forks, and dialogues saved in the old format."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from app.dialogue.goals import DomainGoal, Goal
from app.dialogue.transcript import (
    ActionRejected,
    AgentSaid,
    BeliefChanged,
    Booked,
    Found,
    InterimReply,
    ReferenceReply,
    Refused,
    Thought,
    ToolAnswered,
    ToolCalled,
    ToolError,
    Transcript,
    TurnFailed,
    UserSaid,
)
from app.workbench.annotations import AnnotationStore

# saved by `app.chat --save` before this format
OLD_DIALOGUE = Path(__file__).parent.parent / "data" / "dialogue_v1.json"
# Any text, lone surrogates included: the record must make them valid and still round-trip exactly.
TEXT = st.text(st.characters(codec=None, categories=None), max_size=30)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                          max_leaves=8)
ARGS = st.dictionaries(TEXT, JSON_VALUE, max_size=4)
OUTCOME = st.one_of(
    st.builds(Found, domain=TEXT, count=st.integers(0, 3000), rows=st.lists(ARGS, max_size=3)),
    st.builds(Booked, domain=TEXT, reference=TEXT, details=ARGS),
    st.builds(Refused, domain=TEXT, reason=TEXT, hint=TEXT),
    st.builds(ToolError, message=TEXT),
)
TIME = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.none() | st.timezones())
STAMP = {"turn": st.integers(0, 50), "step": st.integers(0, 5), "at": TIME}
EVENT = st.one_of(
    st.builds(UserSaid, text=TEXT, **STAMP),
    st.builds(Thought, text=TEXT, **STAMP),
    st.builds(ToolCalled, call_id=TEXT, name=TEXT, arguments=ARGS, **STAMP),
    st.builds(ToolAnswered, call_id=TEXT, result=OUTCOME, elapsed_ms=st.floats(0, 1e6), **STAMP),
    st.builds(BeliefChanged, changes=st.dictionaries(TEXT, st.none() | TEXT, max_size=4), **STAMP),
    st.builds(ActionRejected, message=TEXT, output=TEXT, **STAMP),
    st.builds(InterimReply, text=TEXT, **STAMP),
    st.builds(AgentSaid, text=TEXT, fallback=st.booleans(), **STAMP),
    st.builds(TurnFailed, message=TEXT, **STAMP),
    st.builds(ReferenceReply, text=TEXT, **STAMP),
)
VALUES = st.dictionaries(st.sampled_from(["area", "day", "people", "name"]), TEXT | st.integers(1, 9), max_size=3)
GOAL = st.builds(Goal, id=TEXT, message=st.lists(TEXT, max_size=2).map(tuple), first_user_turn=TEXT,
                 domains=st.lists(st.builds(DomainGoal, domain=st.sampled_from(["hotel", "train", "taxi"]),
                                            info=VALUES, fail_info=VALUES, book=VALUES, fail_book=VALUES,
                                            reqt=st.lists(TEXT, max_size=2).map(tuple)), max_size=2).map(tuple))
TRANSCRIPT = st.builds(Transcript, id=TEXT, meta=st.dictionaries(TEXT, JSON_VALUE, max_size=3),
                       goal=st.none() | GOAL,
                       events=st.lists(EVENT, max_size=12))


@settings(max_examples=300, deadline=None)
@given(TRANSCRIPT)
def test_json_round_trip_is_exact_and_always_valid_utf8(transcript):
    saved = transcript.to_json()
    saved.encode("utf-8")  # never a lone surrogate: saving cannot fail
    again = Transcript.from_json(saved)
    assert again == transcript and again.to_json() == saved
    assert Transcript.from_data(json.loads(json.dumps(transcript.to_data()))) == transcript


def test_lone_surrogates_become_replacement_characters_and_pairs_join():
    said = UserSaid(turn=0, text="hello \udcff\ud800 world \ud83d\ude00")
    assert said.text == "hello \ufffd\ufffd world 😀"
    called = ToolCalled(turn=0, call_id="c", name="FindHotel", arguments={"name\ud800": ["\udfff"]})
    assert called.arguments == {"name\ufffd": ["\ufffd"]}


def dialogue() -> Transcript:
    t = Transcript(meta={"backend": "scripted"})
    t.append(UserSaid(turn=0, text="a cheap hotel in the north"))
    t.append(ToolCalled(turn=0, step=1, call_id="c0", name="FindHotel", arguments={"area": "north"}))
    t.append(ToolAnswered(turn=0, step=1, call_id="c0", result=Found(domain="hotel", count=2, rows=[{"key": "a"}])))
    t.append(BeliefChanged(turn=0, step=1, changes={"hotel-area": "north"}))
    t.append(AgentSaid(turn=0, step=2, text="Two hotels."))
    t.append(UserSaid(turn=1, text="book a, or rather anywhere"))
    t.append(BeliefChanged(turn=1, step=1, changes={"hotel-area": None, "hotel-name": "a"}))
    t.append(ToolCalled(turn=1, step=1, call_id="c1", name="BookHotel", arguments={"name": "a"}))
    t.append(ToolAnswered(turn=1, step=1, call_id="c1", result=Booked(domain="hotel", reference="K2BO09VQ")))
    return t


def test_views_are_derived_from_the_events():
    t = dialogue()
    first, second = t.turns()
    assert first.user == "a cheap hotel in the north" and first.status == "done" and first.changed == ["hotel-area"]
    assert second.status == "running" and t.open_turn() == second and t.next_turn() == 2
    assert t.belief(at=t.events[3].id) == {"hotel-area": "north"}
    assert t.belief() == {"hotel-name": "a"}  # None forgets a slot
    assert [b.reference for b in t.bookings()] == ["K2BO09VQ"]
    assert [(c.called.name, c.result.kind) for c in t.calls()] == [("FindHotel", "found"), ("BookHotel", "booked")]
    t.append(TurnFailed(turn=1, step=2, message="the server went away"))
    assert t.turns()[1].status == "failed" and t.turns()[1].failure.message == "the server went away"
    t.append(AgentSaid(turn=1, step=3, text="Booked."))  # a retry continued the turn
    assert t.turns()[1].status == "done" and t.open_turn() is None


def test_fork_keeps_the_events_up_to_one_and_leaves_the_original_alone():
    t = dialogue()
    fork = t.fork(at=t.events[4].id)
    assert [e.kind for e in fork.events] == ["user_said", "tool_called", "tool_answered", "belief_changed",
                                             "agent_said"]
    assert fork.id != t.id and fork.meta["forked_from"] == {"transcript": t.id, "event": t.events[4].id}
    fork.append(fork.user_said("a train instead"))
    assert len(t.events) == 9 and fork.turns()[1].user == "a train instead" and fork.bookings() == []


def test_a_dialogue_saved_in_the_old_format_reads_back():
    old = json.loads(OLD_DIALOGUE.read_text())
    t = Transcript.from_json(OLD_DIALOGUE.read_text())
    assert [turn.user for turn in t.turns()] == [turn["user"] for turn in old["turns"]]
    assert [turn.reply.text for turn in t.turns()] == [turn["response"] for turn in old["turns"]]
    assert t.belief() == old["belief"]
    assert [b.reference for b in t.bookings()] == [b["reference"] for b in old["bookings"]]
    assert [c.called.name for c in t.calls()] == [c["name"] for turn in old["turns"] for s in turn["steps"]
                                                   for c in s["calls"]]
    assert Transcript.from_json(OLD_DIALOGUE.read_text()) == t  # the same record converts the same way
    assert Transcript.from_json(t.to_json()) == t


def test_old_rating_rows_and_old_dialogues_stay_readable(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as connection:  # the store as it was before ratings named events
        connection.execute(text("CREATE TABLE message_ratings (id INTEGER PRIMARY KEY, dialogue_id VARCHAR(200), "
                                "turn INTEGER, message TEXT, feedback VARCHAR(100), annotator VARCHAR(200), "
                                "created_at DATETIME)"))
        connection.execute(text("INSERT INTO message_ratings (dialogue_id, turn, message, feedback, annotator, "
                                "created_at) VALUES ('dlg-old', 1, 'Done!', 'like', 'ann', '2026-01-01')"))
    from db.schema import create_all

    create_all(engine)
    store = AnnotationStore(engine)
    old = json.loads(OLD_DIALOGUE.read_text())
    store.save_dialogue("dlg-old", old, old["meta"])
    transcript = store.transcript("dlg-old")
    reply = transcript.turns()[1].reply
    store.rate_message("dlg-old", reply.id, reply.turn, reply.text, "dislike", "ann")
    rows = store.ratings("dlg-old")["messages"]
    assert [(r["event_id"], r["turn"], r["feedback"]) for r in rows] == [(None, 1, "like"),
                                                                         (reply.id, 1, "dislike")]
    files = store.export(tmp_path / "export")
    assert "3" in files.dialogues_csv.read_text().splitlines()[1].split(",")  # 3 turns, read from the old record
