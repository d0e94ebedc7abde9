"""The whole state of a dialogue, serialisable to JSON and loadable again."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field


class CallRecord(BaseModel):
    """One API call as the model made it and what came back."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    result: dict[str, Any] | None = None
    error: str | None = None
    elapsed_ms: float = 0.0


class Step(BaseModel):
    """One model call within a turn: its raw text, and the calls or problems it led to."""

    text: str = ""
    thought: str | None = None
    calls: list[CallRecord] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # parse errors, shown to the model as observations


class Turn(BaseModel):
    user: str
    response: str = ""
    status: Literal["done", "fallback", "error"] = "done"
    error: str | None = None
    steps: list[Step] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    belief: dict[str, str] = Field(default_factory=dict)  # after this turn
    changed: list[str] = Field(default_factory=list)  # slots changed in this turn

    @property
    def calls(self) -> list[CallRecord]:
        return [call for step in self.steps for call in step.calls]


class Dialogue(BaseModel):
    id: str = Field(default_factory=lambda: f"dlg-{uuid.uuid4().hex[:12]}")
    turns: list[Turn] = Field(default_factory=list)
    belief: dict[str, str] = Field(default_factory=dict)
    bookings: list[dict[str, Any]] = Field(default_factory=list)  # successful Book results, in order
    meta: dict[str, Any] = Field(default_factory=dict)  # backend, format, model, ...

    @property
    def completed(self) -> list[Turn]:
        """Turns that ended with a reply: the history the model sees."""
        return [turn for turn in self.turns if turn.status != "error"]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> Dialogue:
        return cls.model_validate_json(text)
