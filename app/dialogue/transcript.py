"""One dialogue as one typed, append-only record: the events, and everything else derived from them.

The events (`app.dialogue.events`, re-exported here) are the only stored facts. Turns, the belief state at any event,
the bookings and the calls with their answers are views computed from them, so nothing is stored twice.
Streamed reply pieces (`ReplyChunk`) are shown while a reply is written and never stored: the whole reply is
one `AgentSaid`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from app.dialogue.events import (
    EVENT,
    EVENT_TYPES,
    ActionRejected,
    AgentSaid,
    AnyEvent,
    BeliefChanged,
    Booked,
    E,
    Event,
    Found,
    InterimReply,
    ModelCalled,
    ReferenceReply,
    Refused,
    ReplyChunk,
    Thought,
    ToolAnswer,
    ToolAnswered,
    ToolCalled,
    ToolError,
    TurnFailed,
    UserSaid,
    new_id,
    valid_data,
    valid_text,
)
from app.dialogue.goals import Goal
from app.dialogue.transcript_v1 import from_v1, is_v1
from domains import all_domains

__all__ = ["EVENT", "EVENT_TYPES", "FORMAT_VERSION", "VERDICT_KEY", "ActionRejected", "AgentSaid", "AnyEvent",
           "BeliefChanged", "Booked", "CallWithAnswer", "Event", "Found", "InterimReply", "ModelCalled",
           "ReferenceReply", "Refused", "ReplyChunk", "Thought", "ToolAnswer", "ToolAnswered", "ToolCalled",
           "ToolError", "Transcript", "TurnFailed", "TurnStatus", "TurnView", "UserSaid", "new_id",
           "valid_data", "valid_text"]

FORMAT_VERSION = 2  # version 1: the old `Dialogue` (turns with steps and event dicts)
VERDICT_KEY = "goal_verdict"  # the meta entry holding a goal-driven dialogue's verdict (saved with it)
FORKED_FROM = "forked_from"  # the meta entry of a fork: the parent dialogue and the event it was forked after


# -- views -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CallWithAnswer:
    """A tool call and its answer (None while it runs, or when the turn stopped before it ran)."""

    called: ToolCalled
    answer: ToolAnswered | None

    @property
    def result(self) -> ToolAnswer | None:
        """What the tool answered, or None when it has not."""
        return self.answer.result if self.answer else None


TurnStatus = Literal["done", "fallback", "stopped", "failed", "running"]


@dataclass(frozen=True)
class TurnView:
    """One turn's events, in order, with what they say: the user message, the reply, the status, the calls."""

    number: int
    events: tuple[AnyEvent, ...]

    @property
    def user(self) -> str:
        """The user's message that opened the turn (empty if there is none)."""
        return next((e.text for e in self.events if isinstance(e, UserSaid)), "")

    @property
    def reply(self) -> AgentSaid | None:
        """The agent's reply, once there is one."""
        return next((e for e in reversed(self.events) if isinstance(e, AgentSaid)), None)

    @property
    def failure(self) -> TurnFailed | None:
        """Why the turn stopped, unless it went on afterwards (a retry continues the same turn)."""
        quiet = BeliefChanged | ReferenceReply | ModelCalled  # what may follow a failure without going on
        last = next((e for e in reversed(self.events) if not isinstance(e, quiet)), None)
        return last if isinstance(last, TurnFailed) else None

    @property
    def status(self) -> TurnStatus:
        """Done, fallback or stopped (by the person, mid-reply) once replied; failed if it stopped without a reply;
        running otherwise."""
        if (reply := self.reply) is not None:
            return "fallback" if reply.fallback else "stopped" if reply.stopped else "done"
        return "failed" if self.failure else "running"

    @property
    def answered(self) -> bool:
        """Whether the turn belongs to the history later prompts show: it has a reply (or a reference reply)."""
        return self.reply is not None or any(isinstance(e, ReferenceReply) for e in self.events)

    @property
    def history_reply(self) -> str:
        """The system's reply as later prompts show it: the corpus' reference when there is one."""
        reference = next((e.text for e in reversed(self.events) if isinstance(e, ReferenceReply)), None)
        reply = self.reply
        return reference if reference is not None else reply.text if reply else ""

    def model_calls(self) -> list[ModelCalled]:
        """The turn's model calls (the agent's steps and the user simulator's), in order."""
        return [e for e in self.events if isinstance(e, ModelCalled)]

    @property
    def changed(self) -> list[str]:
        """Slots this turn changed, sorted."""
        return sorted({slot for e in self.events if isinstance(e, BeliefChanged) for slot in e.changes})

    def calls(self) -> list[CallWithAnswer]:
        """The turn's tool calls in order, each with its answer (None if it has none)."""
        answers = {e.call_id: e for e in self.events if isinstance(e, ToolAnswered)}
        return [CallWithAnswer(e, answers.get(e.call_id)) for e in self.events if isinstance(e, ToolCalled)]


class Transcript(BaseModel):
    """A dialogue: who it is (`id`), how it was run (`meta`: backend, format, model, ...), what the user was
    after (`goal`, for goal-driven dialogues) and what happened (`events`, append-only)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[2] = 2  # FORMAT_VERSION
    id: str = Field(default_factory=lambda: f"dlg-{new_id()}")
    meta: dict[str, JsonValue] = Field(default_factory=dict)
    goal: Goal | None = None  # a goal-driven dialogue's MultiWOZ goal: its bookings follow the goal's world
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**data, **{k: valid_data(data[k]) for k in ("id", "meta") if k in data}}
        return data

    def append(self, event: E) -> E:
        """Add `event` at the end and return it (the agent yields what it appended)."""
        self.events.append(event)  # type: ignore[arg-type]  # every _Event subclass is in the Event union
        return event

    # -- turns ------------------------------------------------------------------------------------------------
    def turns(self) -> list[TurnView]:
        """The events grouped into turns, in turn order."""
        grouped: dict[int, list[AnyEvent]] = {}
        for event in self.events:
            grouped.setdefault(event.turn, []).append(event)
        return [TurnView(number, tuple(events)) for number, events in sorted(grouped.items())]

    def last_turn(self) -> TurnView | None:
        """The latest turn, or None when there are no events yet."""
        turns = self.turns()
        return turns[-1] if turns else None

    def open_turn(self) -> TurnView | None:
        """The last turn if it has no reply yet (running, failed or stopped): what Retry continues."""
        last = self.last_turn()
        return last if last is not None and last.reply is None else None

    def next_turn(self) -> int:
        """The number the next user message takes (0 for an empty transcript)."""
        return max((e.turn for e in self.events), default=-1) + 1

    def user_said(self, text: str) -> UserSaid:
        """A new user message for the next turn (not yet appended)."""
        return UserSaid(turn=self.next_turn(), text=text)

    # -- derived state ----------------------------------------------------------------------------------------
    def belief(self, at: str | None = None) -> dict[str, str]:
        """The belief state after the event with id `at` (after the last event when None)."""
        state: dict[str, str] = {}
        for event in self._until(at):
            if isinstance(event, BeliefChanged):
                for slot, value in event.changes.items():
                    if value is None:
                        state.pop(slot, None)
                    else:
                        state[slot] = value
        return state

    def calls(self) -> list[CallWithAnswer]:
        """Every tool call of the dialogue, in order, each with its answer."""
        return [call for turn in self.turns() for call in turn.calls()]

    def bookings(self) -> list[Booked]:
        """The bookings the tools made in this dialogue, in order."""
        return [e.result for e in self.events if isinstance(e, ToolAnswered) and isinstance(e.result, Booked)]

    def event(self, event_id: str) -> AnyEvent:
        """The event with that id; a KeyError when there is none."""
        found = next((e for e in self.events if e.id == event_id), None)
        if found is None:
            raise KeyError(f"no event {event_id!r} in transcript {self.id}")
        return found

    def fork(self, at: str, id: str | None = None) -> Transcript:
        """A new transcript holding the events up to and including `at`, to continue differently from there."""
        kept = list(self._until(at))
        meta: dict[str, JsonValue] = {**self.meta, FORKED_FROM: {"transcript": self.id, "event": at}}
        return Transcript(id=id or f"dlg-{new_id()}", meta=meta, goal=self.goal, events=kept)

    def problems(self) -> list[str]:
        """What makes this transcript unfit to show or rate, in words (empty when it is sound): the checks a
        record read from outside (a file, an old store) must pass before it is queued, beyond its types. Events
        made by the agent always pass; a hand-edited or foreign file may not."""
        found: list[str] = []
        ids = [e.id for e in self.events]
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            found.append(f"event ids used twice: {', '.join(repeated[:5])} (a rating would land on the wrong event)")
        numbers = sorted({e.turn for e in self.events})
        if numbers != list(range(len(numbers))):
            found.append(f"turn numbers {numbers[:10]} do not run 0, 1, 2, ... without a gap")
        if any(b.turn < a.turn for a, b in zip(self.events, self.events[1:], strict=False)):
            found.append("events are not in turn order")
        for turn in self.turns():  # a user simulator's closing model call may stand alone
            opening = next((e for e in turn.events if not isinstance(e, ModelCalled)), None)
            if opening is not None and not isinstance(opening, UserSaid):
                found.append(f"turn {turn.number} does not open with the user's message")
        known = {d.name for d in all_domains()}
        for event in self.events:
            if isinstance(event, ToolAnswered) and not isinstance(event.result, ToolError) \
                    and event.result.domain not in known:
                found.append(f"event {event.id}: a tool answer in the unknown domain {event.result.domain!r}")
            if isinstance(event, BeliefChanged):
                found += [f"event {event.id}: belief slot {slot!r} is not domain-slot with a known domain"
                          for slot in event.changes if slot.partition("-")[0] not in known or "-" not in slot]
        return found

    def _until(self, at: str | None) -> list[AnyEvent]:
        if at is None:
            return list(self.events)
        position = next((i for i, e in enumerate(self.events) if e.id == at), None)
        if position is None:
            raise KeyError(f"no event {at!r} in transcript {self.id}")
        return list(self.events[:position + 1])

    # -- storage ----------------------------------------------------------------------------------------------
    def to_json(self, indent: int | None = None) -> str:
        """The transcript as JSON text (what is saved)."""
        return self.model_dump_json(indent=indent)

    def to_data(self) -> dict[str, Any]:
        """The transcript as JSON-ready data."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, text: str | bytes) -> Transcript:
        """A transcript from its JSON text (old-format files are converted; see `from_data`)."""
        return cls.from_data(json.loads(text))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Transcript:
        """A transcript from its JSON data; a dialogue saved in the old format (version 1) is converted."""
        return cls.model_validate(from_v1(data) if is_v1(data) else data)
