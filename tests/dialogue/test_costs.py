"""The ModelCalled event and the costs read from the events: "not reported" never holds a number, old transcripts
still load (no calls, their times stand), and totals are sums of the calls per side, turn, dialogue and run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.dialogue.costs import dialogue_costs, run_costs, turn_costs, turn_rows
from app.dialogue.transcript import AgentSaid, ModelCalled, ToolAnswered, ToolCalled, ToolError, Transcript, UserSaid

OLD_DIALOGUE = Path(__file__).parents[1] / "data" / "dialogue_v1.json"
START = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def call(turn: int, when: float, side: str = "agent", tokens: tuple[int, int] | None = (100, 10),
         total_s: float = 1.0) -> ModelCalled:
    counts = {"prompt_tokens": tokens[0], "generated_tokens": tokens[1], "counted_by": "server"} if tokens else {}
    return ModelCalled(turn=turn, at=at(when), side=side, backend="b", model="m", first_token_s=0.25,
                       total_s=total_s, **counts)


def dialogue() -> Transcript:
    """Two turns: the simulator's call (2 s before its message), the agent's two steps with a tool call between."""
    return Transcript(events=[
        UserSaid(turn=0, at=at(2), text="hi"), call(0, 2, "user", (50, 5), total_s=2.0),
        call(0, 3), ToolCalled(turn=0, at=at(3), call_id="c", name="FindHotel"),
        ToolAnswered(turn=0, at=at(3.5), call_id="c", result=ToolError(message="x"), elapsed_ms=500),
        call(0, 5, tokens=None), AgentSaid(turn=0, at=at(5), text="hello"),
        UserSaid(turn=1, at=at(7), text="bye"), call(1, 7, "user", (60, 6)),
        call(1, 8, tokens=(200, 20)), AgentSaid(turn=1, at=at(8), text="bye")])


def test_counts_that_were_not_reported_cannot_hold_a_number():
    with pytest.raises(ValidationError, match="not reported"):
        ModelCalled(turn=0, backend="b", prompt_tokens=12)
    unknown = ModelCalled(turn=0, backend="b")
    assert unknown.counted_by == "not reported" and unknown.prompt_tokens is None


def test_a_turns_costs_split_into_agent_and_user():
    first = turn_costs(dialogue().turns()[0])
    assert (first.agent.calls, first.agent.not_reported, first.agent.prompt_tokens) == (2, 1, 100)
    assert (first.user.calls, first.user.prompt_tokens, first.user.generated_tokens) == (1, 50, 5)
    assert first.tool_s == pytest.approx(0.5)
    assert first.wall_s == pytest.approx(5.0)  # from the simulator starting to write (0 s) to the reply (5 s)
    assert first.agent_wall_s == pytest.approx(3.0)  # from the message (2 s) to the reply (5 s)


def test_dialogue_and_run_totals_are_the_sums_of_the_calls():
    one = dialogue()
    calls = [e for e in one.events if isinstance(e, ModelCalled)]
    costs = dialogue_costs(one)
    assert costs.as_dict()["prompt_tokens"] == sum(c.prompt_tokens or 0 for c in calls) == 410
    assert costs.agent.generated_tokens == 30 and costs.user.generated_tokens == 11
    assert costs.as_dict()["calls_not_reported"] == 1 and costs.as_dict()["model_calls"] == 5
    assert costs.wall_s == pytest.approx(8.0)  # 0 s to 8 s: the turns and the gap between them
    run = run_costs([one, dialogue()]).as_dict()
    assert run["prompt_tokens"] == 820 and run["model_calls"] == 10
    assert run["user"]["wall_s"] == pytest.approx(2 * (8.0 - 4.0))  # the agent had 3 s + 1 s of each dialogue
    assert sum(row["agent_prompt_tokens"] or 0 for row in turn_rows([one])) == costs.agent.prompt_tokens


def test_no_call_reported_tokens_gives_none_not_zero():
    quiet = Transcript(events=[UserSaid(turn=0, at=at(0), text="hi"), call(0, 1, tokens=None),
                               AgentSaid(turn=0, at=at(1), text="hello")])
    costs = dialogue_costs(quiet).as_dict()
    assert costs["prompt_tokens"] is None and costs["agent"]["generated_tokens"] is None
    assert costs["calls_not_reported"] == 1 and costs["agent"]["model_s"] == 1.0


def test_transcripts_saved_before_calls_were_recorded_still_load_and_cost_no_calls():
    old = Transcript.from_data(json.loads(OLD_DIALOGUE.read_text()))
    costs = dialogue_costs(old).as_dict()
    assert costs["model_calls"] == 0 and costs["prompt_tokens"] is None and costs["tool_s"] >= 0
    new = dialogue()
    saved = Transcript.from_json(new.to_json())  # and the new events survive a round trip
    assert [e for e in saved.events if isinstance(e, ModelCalled)] == [e for e in new.events
                                                                       if isinstance(e, ModelCalled)]


def test_a_simulators_closing_call_does_not_hide_a_failed_turn_or_make_a_problem():
    from app.dialogue.transcript import TurnFailed

    failed = Transcript(events=[UserSaid(turn=0, text="hi"), TurnFailed(turn=0, message="down"),
                                call(0, 1, "user")])
    assert failed.turns()[0].status == "failed" and failed.problems() == []
