"""What the user sees streamed is what is recorded as the reply, for any output in any pieces."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.agent.formats import make_format
from app.agent.formats.stream import TRIM_EVERY
from app.dialogue.transcript import AgentSaid, InterimReply, ToolCalled, Transcript
from tests.agent.test_parsing import FRAGMENTS
from tests.agent_helpers import run, scripted_agent, streamed

PIECES = st.sampled_from(["System:", "System :", "System  :", "Sys", "tem:", "Thought:", "Action:", "Observation:",
                          "User:", "Response:", "ASSISTANT:", "ſystem:", "obs", "ervation :", " ", "  ", "\n", "\t",
                          "\u2003", "\u00a0", "Hi", "there.", "FindHotel(area='x')", "{", "[", "`", "<", "(", "a",
                          "I'll", "book", "FindHotel", "```"])
OUTPUT = st.one_of(st.text(max_size=120), st.lists(PIECES | FRAGMENTS, max_size=40).map("".join))


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=600, deadline=None)
@given(text=OUTPUT, cuts=st.lists(st.integers(0, 10_000), max_size=30), format_name=st.sampled_from(["coalm",
                                                                                                    "tools"]))
def test_streamed_text_is_the_start_of_the_recorded_reply(text, cuts, format_name):
    prompt_format = make_format(format_name, {})
    stream = prompt_format.reply_stream()
    shown = "".join(stream.feed(piece) for piece in chunked(text, cuts))
    reply = prompt_format.parse(text, []).reply
    if reply is None:
        assert shown == ""
    else:
        assert reply.startswith(shown) and shown + stream.rest(reply) == reply


@pytest.mark.parametrize("format_name", ["coalm", "tools"])
def test_a_long_reply_streams_whole_and_keeps_little(format_name):
    body = "The Acorn Guest House is in the north. " * 1500  # 58 KB in 4-character pieces
    text = ("System: " if format_name == "coalm" else "") + body
    stream = make_format(format_name, {}).reply_stream()
    shown = "".join(stream.feed(text[i:i + 4]) for i in range(0, len(text), 4))
    assert shown == body.rstrip() and len(stream.window) < 2 * TRIM_EVERY  # the text shown is let go


OUTPUTS = {
    "invented observation": ["Thought: booked\nObservation: {'status': 'booked'}\nSystem: Booked! Your reference is "
                             "FAKE0001", "System: Which day would you like?"],
    "reply before an action": ["System: I'll book it now.\nAction: BookHotel(name='acorn guest house', day='monday', "
                               "people=2, stay=1)"],
    "action then invented reply": ["Action: FindHotel(area='north')\nSystem: FAKE0001 is booked",
                                   "System: There are several in the north."],
}


@pytest.mark.parametrize("case", OUTPUTS)
def test_what_the_user_sees_is_what_is_recorded(toolbox, case):
    agent, _ = scripted_agent(toolbox, OUTPUTS[case])
    dialogue = Transcript()
    events = run(agent, dialogue, "a hotel please")
    finished = events[-1]
    assert isinstance(finished, AgentSaid) and not finished.fallback
    assert streamed(events) == finished.text == dialogue.turns()[0].reply.text
    assert not any(isinstance(e, InterimReply) for e in dialogue.events)  # nothing shown that was then dropped
    assert "FAKE0001" not in streamed(events) and dialogue.bookings() == []
    assert not any(isinstance(e, ToolCalled) and e.name == "BookHotel" for e in events)
