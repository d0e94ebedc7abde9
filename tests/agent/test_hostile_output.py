"""Hostile model output through the turn loop: each shape is a problem the model is told about, never a crash."""

from __future__ import annotations

import pytest

from app.agent.parsing import MAX_CALLS_PER_STEP
from app.dialogue.transcript import ActionRejected, AgentSaid, ToolAnswered, Transcript
from tests.agent.test_parsing import HOSTILE, HOSTILE_JSON
from tests.agent_helpers import run, scripted_agent

NATIVE = {
    "arguments text of a list": {"tool_calls": [{"name": "FindHotel", "arguments": "[1, 2]"}]},
    "arguments null": {"tool_calls": [{"name": "FindHotel", "arguments": "null"}]},
    "name a number": {"tool_calls": [{"name": 5, "arguments": {"area": "north"}}]},
    "arguments a list": {"tool_calls": [{"name": "FindHotel", "arguments": [1, 2]}]},
}


@pytest.mark.parametrize(("format_name", "name"), [*(("coalm", n) for n in HOSTILE),
                                                   *(("tools", n) for n in [*HOSTILE_JSON, *NATIVE])])
def test_hostile_output_is_fed_back_and_the_turn_goes_on(toolbox, format_name, name):
    output = HOSTILE.get(name) or HOSTILE_JSON.get(name) or NATIVE[name]
    reply = "System: Which area?" if format_name == "coalm" else "Which area?"
    agent, backend = scripted_agent(toolbox, [output, reply], format_name=format_name)
    dialogue = Transcript()
    events = run(agent, dialogue, "a hotel")
    problems = [e for e in events if isinstance(e, ActionRejected)]
    assert problems and all(e in dialogue.events for e in problems)
    assert isinstance(events[-1], AgentSaid) and events[-1].text == "Which area?"
    assert Transcript.from_json(dialogue.to_json()) == dialogue
    told = "".join(str(message["content"]) for message in backend.requests[1].messages)  # the next prompt
    assert problems[0].message[:40] in told.replace("\\'", "'")


def test_three_hundred_bookings_in_one_output_book_only_the_first_few(toolbox):
    calls = ", ".join(f"BookTaxi(departure='cambridge station', destination='worth house', leaveat='{10 + n // 60:02}:"
                      f"{n % 60:02}')" for n in range(300))
    agent, _ = scripted_agent(toolbox, [f"Action: {calls}", "System: Booked."])
    dialogue = Transcript()
    events = run(agent, dialogue, "taxis please")
    assert sum(isinstance(e, ToolAnswered) for e in events) == MAX_CALLS_PER_STEP
    assert len(dialogue.bookings()) == MAX_CALLS_PER_STEP
    assert any(isinstance(e, ActionRejected) and f"only the first {MAX_CALLS_PER_STEP} calls" in e.message
               for e in events)


HUGE = {
    "JSON nested 100,000 deep": HOSTILE_JSON["JSON nested 100,000 deep"],
    "60,000 characters of prose after a call": '{"name": "FindHotel", "parameters": {"area": "north"}} ' + "x" * 60_000,
    "a call with a 60,000-character argument": '{"name": "FindHotel", "parameters": {"name": "' + "y" * 60_000 + '"}}',
}


@pytest.mark.parametrize("format_name", ["tools", "coalm"])
@pytest.mark.parametrize("name", list(HUGE))
def test_a_huge_rejected_output_does_not_blow_the_next_prompt(toolbox, format_name, name):
    """The current turn's own steps cannot be dropped to make room (history can), so what they echo of the model's
    output is cut: the next prompt stays within the budget however large the rejected output was."""
    output = HUGE[name] if format_name == "tools" else "Thought: " + HUGE[name] + "\nAction: FindHotel(area=north"
    reply = "Which area?" if format_name == "tools" else "System: Which area?"
    agent, backend = scripted_agent(toolbox, [output, reply], format_name=format_name)
    events = run(agent, Transcript(), "a hotel")
    assert isinstance(events[-1], AgentSaid) and events[-1].text == "Which area?"
    assert len(backend.requests) == 2
    assert backend.count_tokens(backend.requests[1]) <= agent.limits.max_prompt_tokens
