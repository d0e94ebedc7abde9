"""What a prompt format does: build the model request for the next step, read the output, stream the reply."""

from __future__ import annotations

import json
from typing import Any, Protocol

from app.agent.formats.stream import ReplyStream
from app.agent.parsing import Parsed
from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue.transcript import Booked, CallWithAnswer, Found, Refused, ToolError, TurnView
from domains import all_domains, domain

# An observation longer than this is cut (and says so): one huge answer must not crowd the dialogue out of the
# prompt budget. Five found hotels take about 1,500 characters.
MAX_OBSERVATION_CHARS = 2500


class PromptFormat(Protocol):
    """How the agent speaks to a model: it builds each step's request and reads the output back
    (CoALM's own prompts, or native tool calling)."""

    name: str

    def request(self, history: list[TurnView], current: TurnView, max_new_tokens: int) -> ModelRequest:
        """The request for the next model call of `current`, given the completed turns before it."""
        ...

    def parse(self, text: str, native_calls: list[ToolCallDelta]) -> Parsed:
        """A step's output (its text and any native tool calls) read into calls, a thought and a reply."""
        ...

    def reply_stream(self) -> ReplyStream:
        """A fresh streamer for the reply part of one step's output."""
        ...


def observation(call: CallWithAnswer) -> dict[str, Any]:
    """What the model is shown of a call's outcome: errors, bookings, and found rows without bulky fields."""
    outcome = call.result
    if isinstance(outcome, Found):
        hidden = set(domain(outcome.domain).hidden_fields) | {"key"}
        rows = [{k: v for k, v in row.items() if k not in hidden} for row in outcome.rows]
        return {"domain": outcome.domain, "count": outcome.count, "results": rows}
    if isinstance(outcome, Booked):
        return {"domain": outcome.domain, "status": "booked", "reference": outcome.reference, **outcome.details}
    if isinstance(outcome, Refused):
        return {"domain": outcome.domain, "status": "refused", "reason": outcome.reason, "hint": outcome.hint}
    if isinstance(outcome, ToolError):
        return {"error": outcome.message}
    return {"error": "the call did not run (the turn was stopped)"}


def brief_observation(call: CallWithAnswer) -> dict[str, Any]:
    """A call's outcome as remembered in older history: counts and keys, not whole rows."""
    outcome = call.result
    if not isinstance(outcome, Found):
        return observation(call)
    return {"count": outcome.count, "first": [str(row.get("key")) for row in outcome.rows[:3]]}


def domains_sentence() -> str:
    """What the assistant helps with, from the declarations: "find and book hotels, ..., and find attractions"."""
    bookable = [d.things for d in all_domains() if d.book]
    findable = [d.things for d in all_domains() if d.find and not d.book]
    parts = [f"find and book {_listed(bookable)}"] if bookable else []
    return ", and ".join(parts + ([f"find {_listed(findable)}"] if findable else []))


def _listed(names: list[str]) -> str:
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else ""


def clipped(text: str, limit: int = MAX_OBSERVATION_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … ({len(text) - limit} more characters not shown)"


def echoed_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments as a prompt repeats them: as given, unless their JSON is longer than an observation may
    be; then that JSON cut, under one key that says so (no tool takes such arguments, so the call failed anyway)."""
    text = json.dumps(arguments, ensure_ascii=False)
    return arguments if len(text) <= MAX_OBSERVATION_CHARS else {"arguments_cut": clipped(text)}
