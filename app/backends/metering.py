"""Timing one model call and keeping the token counts its stream reports (`Usage`), for whoever records the call.

The caller wraps the backend's stream in `Meter.watch`: text and tool calls pass on unchanged, the usage is kept
aside. Times are measured here, around the stream as the caller reads it: the first piece's arrival (time to first
token) and the end of the answer."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from app.backends.base import Delta, Usage


class Meter:
    """One model call's clock and usage; started when made, so make it just before asking for the stream."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_s: float | None = None
        self.ended_s: float | None = None
        self.usage: Usage | None = None

    def watch(self, deltas: Iterable[Delta]) -> Iterator[Delta]:
        """The stream without its Usage (kept in `usage`), noting when the first piece came and when it ended."""
        try:
            for delta in deltas:
                if isinstance(delta, Usage):
                    self.usage = delta
                    continue
                if self.first_s is None:
                    self.first_s = time.perf_counter() - self.started
                yield delta
        finally:
            self.finish()

    def finish(self) -> None:
        """Stop the clock (once; a stream given up on part way is stopped when the caller records it)."""
        if self.ended_s is None:
            self.ended_s = time.perf_counter() - self.started

    def fields(self) -> dict[str, Any]:
        """The call's measured fields, as a `ModelCalled` event takes them: counts only where the backend
        reported them (else None and "not reported"), the model it named, the times."""
        self.finish()
        usage = self.usage
        reported = usage is not None and (usage.prompt_tokens is not None or usage.generated_tokens is not None)
        return {"prompt_tokens": usage.prompt_tokens if usage and reported else None,
                "generated_tokens": usage.generated_tokens if usage and reported else None,
                "counted_by": usage.counted_by if usage and reported else "not reported",
                "model": usage.model if usage else None,
                "first_token_s": None if self.first_s is None else round(self.first_s, 6),
                "total_s": round(self.ended_s or 0.0, 6)}
