"""What a prompt format does: build the model request for the next step, read the output, stream the reply."""

from __future__ import annotations

from typing import Any, Protocol

from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue import CallRecord, Turn
from app.formats.stream import ReplyStream
from app.parsing import Parsed
from domains import domain


class PromptFormat(Protocol):
    name: str

    def request(self, history: list[Turn], current: Turn, max_new_tokens: int) -> ModelRequest:
        """The request for the next model call of `current`, given the completed turns before it."""
        ...

    def parse(self, text: str, native_calls: list[ToolCallDelta]) -> Parsed: ...

    def reply_stream(self) -> ReplyStream: ...


def observation(call: CallRecord) -> dict[str, Any]:
    """What the model is shown of a call's outcome: errors, bookings, and found rows without bulky fields."""
    if not call.ok or call.result is None:
        return {"error": call.error}
    result = call.result
    if "results" not in result:
        return result
    hidden = set(domain(result["domain"]).hidden_fields) | {"key"}
    rows = [{k: v for k, v in row.items() if k not in hidden} for row in result["results"]]
    return {"domain": result["domain"], "count": result["count"], "results": rows}


def brief_observation(call: CallRecord) -> dict[str, Any]:
    """A call's outcome as remembered in older history: counts and keys, not whole rows."""
    if not call.ok or call.result is None or "results" not in call.result:
        return observation(call)
    return {"count": call.result["count"], "first": [row["key"] for row in call.result["results"][:3]]}
