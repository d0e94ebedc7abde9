"""One dialogue as one typed, append-only record: the events, and everything else derived from them.

Every event has an `id` (short, unique in the transcript), the `turn` it belongs to (0-based) and the time `at`
which it happened. Turns, the belief state at any event, the bookings and the calls with their answers are
views computed from the events, so nothing is stored twice. Streamed reply pieces (`ReplyChunk`) are shown
while a reply is written and never stored: the whole reply is one `AgentSaid`.

Text from outside (people, models, servers, tool arguments) enters the record only through these models,
which replace lone surrogates with U+FFFD, so a transcript can always be saved as UTF-8 JSON.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, model_validator

FORMAT_VERSION = 2  # version 1: the old `Dialogue` (turns with steps and event dicts)


def valid_text(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs joined, lone surrogates replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def valid_data(value: Any) -> Any:
    """Every string inside `value` (dict keys too) made valid with `valid_text`; infinities and NaN (which JSON
    cannot hold) written as text, so what is saved reads back the same."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {valid_data(k): valid_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [valid_data(v) for v in value]
    return value


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def _now() -> datetime:
    return datetime.now(UTC)


class _Record(BaseModel):
    """Frozen, strict about unknown fields, and valid Unicode in every string."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return valid_data(data) if isinstance(data, dict) else data


# -- what a tool answered --------------------------------------------------------------------------------------

class Found(_Record):
    """A Find's matches: `count` over the whole table, `rows` the first few (each with its `key`)."""

    kind: Literal["found"] = "found"
    domain: str
    count: int
    rows: list[dict[str, JsonValue]] = Field(default_factory=list)

    def summary(self) -> str:
        return f"{self.count} found"


class Booked(_Record):
    kind: Literal["booked"] = "booked"
    domain: str
    reference: str
    details: dict[str, JsonValue] = Field(default_factory=dict)  # what was booked: name, day, people, car, ...

    def summary(self) -> str:
        return f"booked, reference {self.reference}"


class Refused(_Record):
    """The service understood the request and said no (full, sold out, impossible), with what would work."""

    kind: Literal["refused"] = "refused"
    domain: str
    reason: str
    hint: str = ""

    def summary(self) -> str:
        return f"refused: {self.reason} ({self.hint})"


class ToolError(_Record):
    """The call could not run (unknown tool, bad or missing arguments, no such venue, database failure)."""

    kind: Literal["error"] = "error"
    message: str

    def summary(self) -> str:
        return f"error: {self.message}"


Outcome = Annotated[Found | Booked | Refused | ToolError, Field(discriminator="kind")]
ToolResult = Outcome  # the first name of this union; app.tools.ToolResult is the toolbox's untyped answer


def outcome_of(ok: bool, result: dict[str, Any] | None, error: str | None) -> Found | Booked | Refused | ToolError:
    """The typed outcome of a toolbox answer in its wire shape ({"ok", "result", "error"}: the JSON-lines door
    and the first transcript format): the one place that tells a result's kind by its keys."""
    if not ok or result is None:
        return ToolError(message=error or "the call failed")
    domain = str(result.get("domain", ""))
    if "count" in result:
        return Found(domain=domain, count=result["count"], rows=result.get("results", []))
    if result.get("status") == "booked":
        details = {k: v for k, v in result.items() if k not in ("domain", "status", "reference")}
        return Booked(domain=domain, reference=result["reference"], details=details)
    return Refused(domain=domain, reason=str(result.get("reason", "")), hint=str(result.get("hint", "")))


# -- events ----------------------------------------------------------------------------------------------------

def _in_utc(value: datetime) -> datetime:
    """Times are kept in UTC (a naive time is taken as UTC): historic offsets in seconds do not survive JSON."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Event(_Record):
    id: str = Field(default_factory=new_id)
    turn: int = Field(ge=0)
    at: Annotated[datetime, AfterValidator(_in_utc)] = Field(default_factory=_now)
    step: int = Field(0, ge=0)  # which model call of the turn produced it (0 for what the user side adds)


class UserSaid(_Event):
    kind: Literal["user_said"] = "user_said"
    text: str


class Thought(_Event):
    kind: Literal["thought"] = "thought"
    text: str


class ToolCalled(_Event):
    kind: Literal["tool_called"] = "tool_called"
    call_id: str
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class ToolAnswered(_Event):
    kind: Literal["tool_answered"] = "tool_answered"
    call_id: str
    result: Outcome
    elapsed_ms: float = 0.0


class BeliefChanged(_Event):
    """Only the slots that changed: `domain-slot` -> new value, or None when a slot is forgotten."""

    kind: Literal["belief_changed"] = "belief_changed"
    changes: dict[str, str | None]


class ActionRejected(_Event):
    """The model's output could not be used (unreadable call, empty answer); the model was told and went on."""

    kind: Literal["action_rejected"] = "action_rejected"
    message: str
    output: str = ""  # the model's output it was about


class InterimReply(_Event):
    """Reply text the user saw stream in during a step that then called a tool (or was rejected): recorded
    because it was shown. Prompts do not repeat it; the turn's reply is its AgentSaid."""

    kind: Literal["interim_reply"] = "interim_reply"
    text: str


class AgentSaid(_Event):
    """The agent's reply, exactly as the user saw it; `fallback` when the step bound gave the polite apology."""

    kind: Literal["agent_said"] = "agent_said"
    text: str
    fallback: bool = False


class TurnFailed(_Event):
    """The turn stopped without a reply (backend error, deadline, Stop); Retry continues it."""

    kind: Literal["turn_failed"] = "turn_failed"
    message: str


class ReferenceReply(_Event):
    """What the corpus' human system said at this turn: later prompts show it in place of the agent's reply
    (turn-level evaluation with the gold history), while the agent's own reply stays in the record."""

    kind: Literal["reference_reply"] = "reference_reply"
    text: str


Event = Annotated[
    UserSaid | Thought | ToolCalled | ToolAnswered | BeliefChanged | ActionRejected | InterimReply | AgentSaid
    | TurnFailed | ReferenceReply,
    Field(discriminator="kind"),
]
EVENT = TypeAdapter(Event)
EVENT_TYPES = (UserSaid, Thought, ToolCalled, ToolAnswered, BeliefChanged, ActionRejected, InterimReply, AgentSaid,
               TurnFailed, ReferenceReply)
AnyEvent = (UserSaid | Thought | ToolCalled | ToolAnswered | BeliefChanged | ActionRejected | InterimReply | AgentSaid
            | TurnFailed | ReferenceReply)


E = TypeVar("E", bound=_Event)


@dataclass(frozen=True)
class ReplyChunk:
    """A piece of the reply while it streams; never stored (the whole reply is one AgentSaid)."""

    text: str


# -- views -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """A tool call and its answer (None while it runs, or when the turn stopped before it ran)."""

    called: ToolCalled
    answer: ToolAnswered | None

    @property
    def result(self) -> Found | Booked | Refused | ToolError | None:
        return self.answer.result if self.answer else None


TurnStatus = Literal["done", "fallback", "failed", "running"]


@dataclass(frozen=True)
class TurnView:
    number: int
    events: tuple[AnyEvent, ...]

    @property
    def user(self) -> str:
        return next((e.text for e in self.events if isinstance(e, UserSaid)), "")

    @property
    def reply(self) -> AgentSaid | None:
        return next((e for e in reversed(self.events) if isinstance(e, AgentSaid)), None)

    @property
    def failure(self) -> TurnFailed | None:
        """Why the turn stopped, unless it went on afterwards (a retry continues the same turn)."""
        last = next((e for e in reversed(self.events) if not isinstance(e, BeliefChanged | ReferenceReply)), None)
        return last if isinstance(last, TurnFailed) else None

    @property
    def status(self) -> TurnStatus:
        if (reply := self.reply) is not None:
            return "fallback" if reply.fallback else "done"
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

    @property
    def changed(self) -> list[str]:
        """Slots this turn changed, sorted."""
        return sorted({slot for e in self.events if isinstance(e, BeliefChanged) for slot in e.changes})

    def calls(self) -> list[Call]:
        answers = {e.call_id: e for e in self.events if isinstance(e, ToolAnswered)}
        return [Call(e, answers.get(e.call_id)) for e in self.events if isinstance(e, ToolCalled)]


class Transcript(BaseModel):
    """A dialogue: who it is (`id`), how it was run (`meta`: backend, format, model, ...), what the user was
    after (`goal`, for goal-driven dialogues) and what happened (`events`, append-only)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[2] = 2  # FORMAT_VERSION
    id: str = Field(default_factory=lambda: f"dlg-{new_id()}")
    meta: dict[str, JsonValue] = Field(default_factory=dict)
    goal: dict[str, JsonValue] | None = None
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**data, **{k: valid_data(data[k]) for k in ("id", "meta", "goal") if k in data}}
        return data

    def append(self, event: E) -> E:
        """Add `event` at the end and return it (the agent yields what it appended)."""
        self.events.append(event)  # type: ignore[arg-type]  # every _Event subclass is in the Event union
        return event

    # -- turns ------------------------------------------------------------------------------------------------
    def turns(self) -> list[TurnView]:
        grouped: dict[int, list[AnyEvent]] = {}
        for event in self.events:
            grouped.setdefault(event.turn, []).append(event)
        return [TurnView(number, tuple(events)) for number, events in sorted(grouped.items())]

    def last_turn(self) -> TurnView | None:
        turns = self.turns()
        return turns[-1] if turns else None

    def open_turn(self) -> TurnView | None:
        """The last turn if it has no reply yet (running, failed or stopped): what Retry continues."""
        last = self.last_turn()
        return last if last is not None and last.reply is None else None

    def next_turn(self) -> int:
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

    def calls(self) -> list[Call]:
        return [call for turn in self.turns() for call in turn.calls()]

    def bookings(self) -> list[Booked]:
        return [e.result for e in self.events if isinstance(e, ToolAnswered) and isinstance(e.result, Booked)]

    def event(self, event_id: str) -> AnyEvent:
        found = next((e for e in self.events if e.id == event_id), None)
        if found is None:
            raise KeyError(f"no event {event_id!r} in transcript {self.id}")
        return found

    def fork(self, at: str, id: str | None = None) -> Transcript:
        """A new transcript holding the events up to and including `at`, to continue differently from there."""
        kept = list(self._until(at))
        meta: dict[str, JsonValue] = {**self.meta, "forked_from": {"transcript": self.id, "event": at}}
        return Transcript(id=id or f"dlg-{new_id()}", meta=meta, goal=self.goal, events=kept)

    def _until(self, at: str | None) -> list[AnyEvent]:
        if at is None:
            return list(self.events)
        position = next((i for i, e in enumerate(self.events) if e.id == at), None)
        if position is None:
            raise KeyError(f"no event {at!r} in transcript {self.id}")
        return list(self.events[:position + 1])

    # -- storage ----------------------------------------------------------------------------------------------
    def to_json(self, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent)

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, text: str | bytes) -> Transcript:
        return cls.from_data(json.loads(text))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Transcript:
        """A transcript from its JSON data; a dialogue saved in the old format (version 1) is converted."""
        if "turns" in data and "events" not in data:
            from app.transcript_v1 import from_v1

            return from_v1(data)
        return cls.model_validate(data)
