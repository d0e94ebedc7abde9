"""What a prompt format does: build the model request for the next step, read the output, stream the reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue import CallRecord, Turn
from app.parsing import MARKER, Parsed
from domains import domain

HOLD_BACK = 14  # characters kept back while streaming, in case they begin a marker such as "Observation:"


class PromptFormat(Protocol):
    name: str

    def request(self, history: list[Turn], current: Turn, max_new_tokens: int) -> ModelRequest:
        """The request for the next model call of `current`, given the completed turns before it."""
        ...

    def parse(self, text: str, native_calls: list[ToolCallDelta]) -> Parsed: ...

    def reply_stream(self) -> ReplyStream: ...


class ReplyStream:
    """Passes on the reply part of a step's output while it streams in; the rest (thoughts, calls) is held.

    `find_start` says where the reply begins in the output so far, or None if it is not (yet) a reply.
    """

    def __init__(self, find_start: Callable[[str], int | None]) -> None:
        self.find_start = find_start
        self.buffer = ""
        self.emitted = ""

    def feed(self, text: str) -> str:
        self.buffer += text
        start = self.find_start(self.buffer)
        if start is None:
            return ""
        reply = self.buffer[start:]
        end = MARKER.search(reply)
        safe = reply[:end.start()].rstrip() if end else reply[:max(0, len(reply) - HOLD_BACK)]
        if not safe.startswith(self.emitted):
            return ""
        new, self.emitted = safe[len(self.emitted):], max(safe, self.emitted, key=len)
        return new

    def rest(self, reply: str) -> str:
        """What is still to be shown of the final reply, given what was streamed."""
        return reply[len(self.emitted):] if reply.startswith(self.emitted) else ""


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
