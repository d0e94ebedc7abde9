"""What a dialogue cost, read from its events: tokens and model time per side (the agent, the user simulator), tool
time and wall time, per turn, per dialogue, and summed over a run.

Token totals add up only what was reported: a call whose backend reported no counts adds to `not_reported`, never
to the tokens (a total is None when no call reported any). So a run's totals are exactly the sum of its calls'.
A transcript saved before calls were recorded has no `ModelCalled` events: its calls count zero, its times stand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.dialogue.events import ModelCalled, Side, ToolAnswered, UserSaid
from app.dialogue.transcript import Transcript, TurnView

SIDES: tuple[Side, ...] = ("agent", "user")


def _add(one: int | None, other: int | None) -> int | None:
    return None if one is None and other is None else (one or 0) + (other or 0)


@dataclass(frozen=True)
class CallCosts:
    """The model calls of one side: how many, how many did not report tokens, the reported tokens, their time."""

    calls: int = 0
    not_reported: int = 0
    prompt_tokens: int | None = None
    generated_tokens: int | None = None
    model_s: float = 0.0
    first_token_s: float = 0.0  # summed over the calls that got a first token (for the mean)
    first_tokens: int = 0

    @classmethod
    def of(cls, call: ModelCalled) -> CallCosts:
        """One call's costs."""
        return cls(1, int(call.counted_by == "not reported"), call.prompt_tokens, call.generated_tokens, call.total_s,
                   call.first_token_s or 0.0, int(call.first_token_s is not None))

    def __add__(self, other: CallCosts) -> CallCosts:
        return CallCosts(self.calls + other.calls, self.not_reported + other.not_reported,
                         _add(self.prompt_tokens, other.prompt_tokens),
                         _add(self.generated_tokens, other.generated_tokens), self.model_s + other.model_s,
                         self.first_token_s + other.first_token_s, self.first_tokens + other.first_tokens)

    def as_dict(self) -> dict[str, Any]:
        """As metrics.json writes it (seconds rounded to the microsecond)."""
        mean = self.first_token_s / self.first_tokens if self.first_tokens else None
        return {"calls": self.calls, "calls_not_reported": self.not_reported, "prompt_tokens": self.prompt_tokens,
                "generated_tokens": self.generated_tokens, "model_s": round(self.model_s, 6),
                "mean_first_token_s": None if mean is None else round(mean, 6)}


@dataclass(frozen=True)
class Costs:
    """A turn's, a dialogue's or a run's costs: each side's calls, tool time, wall time, and how much of the wall
    time was the agent's (from each user message to the agent's last event of the turn); the rest is the user's."""

    agent: CallCosts = field(default_factory=CallCosts)
    user: CallCosts = field(default_factory=CallCosts)
    tool_s: float = 0.0
    wall_s: float = 0.0
    agent_wall_s: float = 0.0
    dialogues: int = 0

    def __add__(self, other: Costs) -> Costs:
        return Costs(self.agent + other.agent, self.user + other.user, self.tool_s + other.tool_s,
                     self.wall_s + other.wall_s, self.agent_wall_s + other.agent_wall_s,
                     self.dialogues + other.dialogues)

    def side(self, name: Side) -> CallCosts:
        """The agent's or the user simulator's calls."""
        return self.agent if name == "agent" else self.user

    def as_dict(self) -> dict[str, Any]:
        """As metrics.json writes it: totals over both sides, then each side (the tool time is the agent's)."""
        both = self.agent + self.user
        return {"prompt_tokens": both.prompt_tokens, "generated_tokens": both.generated_tokens,
                "model_calls": both.calls, "calls_not_reported": both.not_reported,
                "model_s": round(both.model_s, 6), "tool_s": round(self.tool_s, 6), "wall_s": round(self.wall_s, 6),
                "agent": {**self.agent.as_dict(), "tool_s": round(self.tool_s, 6),
                          "wall_s": round(self.agent_wall_s, 6)},
                "user": {**self.user.as_dict(), "wall_s": round(max(self.wall_s - self.agent_wall_s, 0.0), 6)}}

    def columns(self) -> dict[str, Any]:
        """A dialogue's costs as flat columns for a CSV row (tokens empty where none were reported)."""
        return {"agent_prompt_tokens": self.agent.prompt_tokens, "agent_generated_tokens": self.agent.generated_tokens,
                "user_prompt_tokens": self.user.prompt_tokens, "user_generated_tokens": self.user.generated_tokens,
                "model_calls": self.agent.calls + self.user.calls,
                "calls_not_reported": self.agent.not_reported + self.user.not_reported,
                "agent_model_s": round(self.agent.model_s, 6), "user_model_s": round(self.user.model_s, 6),
                "tool_s": round(self.tool_s, 6), "wall_s": round(self.wall_s, 6)}


def _started(event: Any) -> float:
    """When the event's work began, in seconds since the epoch: a user simulator's call is recorded after the
    message it wrote, so it began its `total_s` before that."""
    at = float(event.at.timestamp())
    return at - event.total_s if isinstance(event, ModelCalled) and event.side == "user" else at


def _calls(events: Iterable[Any]) -> dict[Side, CallCosts]:
    totals = {side: CallCosts() for side in SIDES}
    for event in events:
        if isinstance(event, ModelCalled):
            totals[event.side] = totals[event.side] + CallCosts.of(event)
    return totals


def turn_costs(turn: TurnView) -> Costs:
    """One turn's costs; its wall time runs from the user simulator's call (or the message) to its last event."""
    calls = _calls(turn.events)
    tool_s = sum(e.elapsed_ms for e in turn.events if isinstance(e, ToolAnswered)) / 1000
    wall = max(e.at.timestamp() for e in turn.events) - min(_started(e) for e in turn.events)
    return Costs(calls["agent"], calls["user"], tool_s, max(wall, 0.0), _agent_wall(turn))


def _agent_wall(turn: TurnView) -> float:
    said = next((e for e in turn.events if isinstance(e, UserSaid)), None)
    agent = [e for e in turn.events if not isinstance(e, UserSaid) and not (isinstance(e, ModelCalled)
                                                                            and e.side == "user")]
    if said is None or not agent:
        return 0.0
    return max(max(e.at.timestamp() for e in agent) - said.at.timestamp(), 0.0)


def dialogue_costs(transcript: Transcript) -> Costs:
    """The dialogue's costs: its turns' summed, its wall time from the start of the first turn to the last event."""
    turns = transcript.turns()
    if not turns:
        return Costs(dialogues=1)
    summed = sum((turn_costs(t) for t in turns), Costs())
    wall = max(e.at.timestamp() for e in transcript.events) - min(_started(e) for e in transcript.events)
    return Costs(summed.agent, summed.user, summed.tool_s, max(wall, 0.0), summed.agent_wall_s, 1)


def run_costs(transcripts: Iterable[Transcript]) -> Costs:
    """A run's costs: its dialogues' summed (`dialogues` says how many)."""
    return sum((dialogue_costs(t) for t in transcripts), Costs())


def turn_rows(transcripts: Iterable[Transcript]) -> list[dict[str, Any]]:
    """One row per turn of these dialogues with what it cost (the columns of `Costs.columns`)."""
    return [{"dialogue": t.id, "turn": turn.number, **turn_costs(turn).columns()}
            for t in transcripts for turn in t.turns()]
