"""The typed events of a dialogue and what a tool can answer: the vocabulary of `app.dialogue.transcript`.

Every event has an `id` (short, unique in the transcript), the `turn` it belongs to (0-based), the model call
(`step`) that produced it and the time `at` (UTC) at which it happened. Text from outside (people, models,
servers, tool arguments) enters the record only through these models, which replace lone surrogates with
U+FFFD, so a transcript can always be saved as UTF-8 JSON.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, model_validator


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
    """A fresh random id: 12 hex digits."""
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
        """One line for people: how many matched."""
        return f"{self.count} found"


class Booked(_Record):
    """The booking was made: its `reference`, and in `details` what was booked."""

    kind: Literal["booked"] = "booked"
    domain: str
    reference: str
    details: dict[str, JsonValue] = Field(default_factory=dict)  # what was booked: name, day, people, car, ...

    def summary(self) -> str:
        """One line for people: the booking's reference."""
        return f"booked, reference {self.reference}"


class Refused(_Record):
    """The service understood the request and said no (full, sold out, impossible), with what would work."""

    kind: Literal["refused"] = "refused"
    domain: str
    reason: str
    hint: str = ""

    def summary(self) -> str:
        """One line for people: the reason and the hint."""
        return f"refused: {self.reason} ({self.hint})"


class ToolError(_Record):
    """The call could not run (unknown tool, bad or missing arguments, no such venue, database failure)."""

    kind: Literal["error"] = "error"
    message: str

    def summary(self) -> str:
        """One line for people: what went wrong."""
        return f"error: {self.message}"


ToolAnswer = Found | Booked | Refused | ToolError
"""What a tool answers: one typed value from the toolbox (`Toolbox.call`) to the transcript (`ToolAnswered`); a
prompt format renders it for the model, the JSON-lines door for its callers."""
TOOL_ANSWER = Annotated[ToolAnswer, Field(discriminator="kind")]


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
    """The user's message that opens a turn."""

    kind: Literal["user_said"] = "user_said"
    text: str


class Thought(_Event):
    """The model's reasoning before it acts, as it wrote it."""

    kind: Literal["thought"] = "thought"
    text: str


class ToolCalled(_Event):
    """The agent called a tool; `call_id` pairs the call with its ToolAnswered."""

    kind: Literal["tool_called"] = "tool_called"
    call_id: str
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class ToolAnswered(_Event):
    """What the tool answered to the call `call_id`, and how long it took."""

    kind: Literal["tool_answered"] = "tool_answered"
    call_id: str
    result: TOOL_ANSWER
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
    """The agent's reply, exactly as the user saw it; `fallback` when the step bound gave the polite apology,
    `stopped` when the person pressed Stop while it streamed (the text is what they had seen by then)."""

    kind: Literal["agent_said"] = "agent_said"
    text: str
    fallback: bool = False
    stopped: bool = False


class TurnFailed(_Event):
    """The turn stopped without a reply (backend error, deadline, Stop); Retry continues it."""

    kind: Literal["turn_failed"] = "turn_failed"
    message: str


class ReferenceReply(_Event):
    """What the corpus' human system said at this turn: later prompts show it in place of the agent's reply
    (turn-level evaluation with the gold history), while the agent's own reply stays in the record."""

    kind: Literal["reference_reply"] = "reference_reply"
    text: str


TokenSource = Literal["server", "tokenizer", "not reported"]
Side = Literal["agent", "user"]


class ModelCalled(_Event):
    """One model call and what it cost, whoever made it: the agent (`side` "agent", one per step) or an LLM user
    simulator ("user"). `counted_by` says where the token counts come from: the server's `usage`, the local model's
    own tokenizer, or "not reported" (then both counts are None: a count is never guessed). Times are measured
    around the call: `first_token_s` until the first text or tool call came (None when none came), `total_s` until
    the answer ended. `ok` is False when the call failed or was stopped part way."""

    kind: Literal["model_called"] = "model_called"
    side: Side = "agent"
    backend: str
    model: str | None = None
    prompt_tokens: int | None = Field(None, ge=0)
    generated_tokens: int | None = Field(None, ge=0)
    counted_by: TokenSource = "not reported"
    first_token_s: float | None = Field(None, ge=0)
    total_s: float = Field(0.0, ge=0)
    ok: bool = True

    @model_validator(mode="after")
    def _no_guessed_counts(self) -> ModelCalled:
        if self.counted_by == "not reported" and (self.prompt_tokens is not None or self.generated_tokens is not None):
            raise ValueError("token counts that were not reported must be None")
        return self


Event = Annotated[
    UserSaid | Thought | ToolCalled | ToolAnswered | BeliefChanged | ActionRejected | InterimReply | AgentSaid
    | TurnFailed | ReferenceReply | ModelCalled,
    Field(discriminator="kind"),
]
EVENT = TypeAdapter(Event)
EVENT_TYPES = (UserSaid, Thought, ToolCalled, ToolAnswered, BeliefChanged, ActionRejected, InterimReply, AgentSaid,
               TurnFailed, ReferenceReply, ModelCalled)
AnyEvent = (UserSaid | Thought | ToolCalled | ToolAnswered | BeliefChanged | ActionRejected | InterimReply | AgentSaid
            | TurnFailed | ReferenceReply | ModelCalled)


E = TypeVar("E", bound=_Event)


@dataclass(frozen=True)
class ReplyChunk:
    """A piece of the reply while it streams; never stored (the whole reply is one AgentSaid)."""

    text: str
