"""Replays given model outputs: deterministic dialogues for tests and offline demos."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.backends.base import BackendError, Delta, ModelRequest, TextDelta, ToolCallDelta

CHARS_PER_TOKEN = 4


class ScriptedBackend:
    """Each stream() call replays the next output: a string (streamed in small pieces) or
    {"tool_calls": [{"name": ..., "arguments": {...}}]} for native calls. Requests are kept for inspection."""

    def __init__(self, outputs: list[str | dict[str, Any]], piece_chars: int = 6) -> None:
        self.outputs = list(outputs)
        self.piece_chars = piece_chars
        self.requests: list[ModelRequest] = []
        self._lock = threading.Lock()
        self.label = f"scripted ({len(self.outputs)} outputs)"

    @classmethod
    def from_file(cls, path: Path) -> ScriptedBackend:
        """A scripted backend replaying the outputs in a JSON list file; a bad file is a BackendError."""
        # Named by its file name only: the message reaches the page and saved dialogues, where the folders of the
        # machine it runs on have no business.
        name = Path(path).name
        try:
            outputs = json.loads(Path(path).read_text())
        except OSError as error:
            raise BackendError(f"cannot read the script {name!r}: {error.strerror or type(error).__name__}") from error
        except ValueError as error:
            raise BackendError(f"the script {name!r} is not JSON: {error}") from error
        if not isinstance(outputs, list):
            raise BackendError(f"the script {name!r} must be a JSON list of model outputs")
        return cls(outputs)

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """Record the request and replay the next output: its tool calls, then its text in small pieces."""
        with self._lock:
            self.requests.append(request)
            if not self.outputs:
                raise BackendError("the scripted model has no more outputs (the script is finished)")
            output = self.outputs.pop(0)
        if isinstance(output, dict):
            for call in output.get("tool_calls", []):
                yield ToolCallDelta(call["name"], call.get("arguments", {}))
            output = output.get("text", "")
        for start in range(0, len(output), self.piece_chars):
            yield TextDelta(output[start:start + self.piece_chars])

    def count_tokens(self, request: ModelRequest) -> int:
        """An estimate: a script has no tokenizer."""
        return estimate_tokens(request)


def estimate_tokens(request: ModelRequest) -> int:
    """A rough count (4 characters a token) for backends without a tokenizer; errs on the high side for prose."""
    text = json.dumps(request.messages) + (json.dumps(request.tools) if request.tools else "")
    return len(text) // CHARS_PER_TOKEN + 1
