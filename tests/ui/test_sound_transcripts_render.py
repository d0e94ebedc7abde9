"""What the review queue takes in, the page can show: any transcript without `problems()` renders in every panel
the Review tab draws, and every reply in it can be rated (hypothesis builds the transcripts, sound and not)."""

from __future__ import annotations

import gradio as gr
from hypothesis import event, given, settings
from hypothesis import strategies as st

from app.dialogue.transcript import (
    AgentSaid,
    BeliefChanged,
    Booked,
    Found,
    Refused,
    ToolAnswered,
    ToolCalled,
    ToolError,
    Transcript,
    TurnFailed,
    UserSaid,
)
from app.ui import view
from app.ui.review_tab import reply_of
from domains import all_domains

DOMAINS = [d.name for d in all_domains()]
SLOTS = [slot for d in all_domains() for slot in d.belief_slots]
TEXT = st.text(max_size=12)
DOMAIN = st.one_of(*[st.sampled_from(DOMAINS)] * 5, TEXT)  # mostly known domains, now and then anything
SLOT = st.one_of(*[st.sampled_from(SLOTS)] * 5, TEXT)
ANSWER = st.one_of(st.builds(Found, domain=DOMAIN, count=st.integers(0, 9),
                             rows=st.lists(st.fixed_dictionaries({"key": TEXT, "name": TEXT}), max_size=2)),
                   st.builds(Booked, domain=DOMAIN, reference=TEXT, details=st.dictionaries(TEXT, TEXT, max_size=2)),
                   st.builds(Refused, domain=DOMAIN, reason=TEXT, hint=TEXT), st.builds(ToolError, message=TEXT))


@st.composite
def turn_events(draw: st.DrawFn, turn: int) -> list:
    events: list = [UserSaid(turn=turn, text=draw(TEXT))]
    for _ in range(draw(st.integers(0, 2))):
        call = f"c{turn}-{len(events)}"
        events.append(ToolCalled(turn=turn, call_id=call, name=draw(st.sampled_from(["FindHotel", "BookTaxi"])),
                                 arguments=draw(st.dictionaries(st.sampled_from(["area", "name"]), TEXT, max_size=2))))
        if draw(st.booleans()):
            events.append(ToolAnswered(turn=turn, call_id=call, result=draw(ANSWER)))
    if draw(st.booleans()):
        events.append(BeliefChanged(turn=turn, changes=draw(st.dictionaries(SLOT, st.none() | TEXT, max_size=3))))
    events.append(draw(st.sampled_from([AgentSaid(turn=turn, text="reply"), TurnFailed(turn=turn, message="x")])))
    return events


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    turns = draw(st.integers(1, 3))
    gap = draw(st.integers(0, 4)) == 0  # now and then a gap in the turn numbers
    numbers = [0, *range(2, turns + 1)] if gap else list(range(turns))
    events = [e for number in numbers for e in draw(turn_events(number))]
    if draw(st.integers(0, 9)) == 0 and len(events) > 1:  # now and then two events share an id
        events[-1] = events[-1].model_copy(update={"id": events[0].id})
    return Transcript(events=events)


@settings(max_examples=100, deadline=None)
@given(transcripts())
def test_a_sound_transcript_renders_in_every_panel_and_its_replies_can_be_rated(transcript: Transcript):
    event("sound" if not transcript.problems() else "set aside")
    if transcript.problems():
        return
    messages, ids = view.chat_messages(transcript)
    view.belief_html(transcript), view.api_calls(transcript), view.bookings(transcript)
    view.database_rows(transcript)
    for index, message in enumerate(messages):
        if message["role"] == "assistant":
            reply = reply_of(transcript, gr.LikeData(None, {"index": index, "value": "x", "liked": True}))
            assert reply is None or reply.id in ids
