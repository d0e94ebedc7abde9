"""Typed events of a dialogue turn: the agent yields them, the UI and the terminal chat render them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    @property
    def type(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class Thought(Event):
    text: str


@dataclass(frozen=True)
class ToolCallStarted(Event):
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolCallFinished(Event):
    call_id: str
    name: str
    arguments: dict[str, Any]
    ok: bool
    result: dict[str, Any] | None
    error: str | None
    elapsed_ms: float

    def outcome(self) -> str:
        """One line for people: "3 found", "booked, reference K2BO09VQ", "refused: ...", "error: ..."."""
        if not self.ok or self.result is None:
            return f"error: {self.error}"
        if "count" in self.result:
            return f"{self.result['count']} found"
        if self.result.get("status") == "booked":
            return f"booked, reference {self.result['reference']}"
        return f"refused: {self.result.get('reason')} ({self.result.get('hint')})"


@dataclass(frozen=True)
class BeliefUpdated(Event):
    belief: dict[str, str]
    changed: list[str]  # slots changed so far in this turn


@dataclass(frozen=True)
class ResponseChunk(Event):
    text: str


@dataclass(frozen=True)
class TurnFinished(Event):
    turn: int
    response: str
    belief: dict[str, str]
    changed: list[str]
    fallback: bool = False  # True when the step bound was hit and the polite fallback was given


@dataclass(frozen=True)
class ErrorEvent(Event):
    message: str
    recoverable: bool = True  # False: the turn stopped (retry it); True: the model was told and went on
    details: dict[str, Any] = field(default_factory=dict)
