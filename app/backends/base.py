"""What every model backend provides: stream a completion for a request, and count a prompt's tokens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ZERO_GPU_VARIABLE = "SPACES_ZERO_GPU"  # set by Hugging Face on ZeroGPU Spaces


class BackendError(Exception):
    """The model could not answer. The message is for people: it says what happened and what to set."""


@dataclass(frozen=True)
class TextDelta:
    """A piece of the completion's text."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A complete native tool call (OpenAI-style servers send these instead of text).

    As the model or server gave it: the parser (`parse_native_calls`) checks that the name is text and the
    arguments a JSON object (or a string holding one) before anything runs."""

    name: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class Usage:
    """What a call cost in tokens, as the backend counted it: the last thing a stream yields. A count the backend
    does not know is None (a server that sends no `usage`), and a backend that knows nothing (a script) yields no
    Usage at all: the caller then records "not reported". `counted_by` is "server" (the server's own `usage`) or
    "tokenizer" (the local model's tokenizer); `model` is the model that answered, as the backend names it."""

    prompt_tokens: int | None
    generated_tokens: int | None
    counted_by: Literal["server", "tokenizer"]
    model: str | None = None


Delta = TextDelta | ToolCallDelta | Usage


@dataclass(frozen=True)
class ModelRequest:
    """One model call: chat messages, tool specs for native calling, stop strings and the answer's token limit."""

    messages: list[dict[str, Any]]  # chat messages; tool-call arguments as dicts (backends adapt them)
    tools: list[dict[str, Any]] | None = None  # OpenAI-style function specs, for native tool calling
    stop: tuple[str, ...] = ()
    max_new_tokens: int = 256


class Backend(Protocol):
    """A model behind the agent (local transformers, an OpenAI-compatible server, a script); `label` names it
    for people."""

    label: str  # shown to people: "transformers uiuc-convai/CoALM-8B on cuda"

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """Yield the completion as it is produced; raise BackendError when the model cannot answer.

        The iterator may also offer `cancel()`, callable from any thread: the agent calls it on Stop and at the
        turn's deadline, so a local model drops the request at once, even one still waiting for its first token."""
        ...

    def count_tokens(self, request: ModelRequest) -> int:
        """How many tokens the request's prompt takes (the agent drops old turns to fit max_prompt_tokens)."""
        ...


def on_zero_gpu() -> bool:
    """Whether this process serves a ZeroGPU Space, where a GPU is attached only inside each `spaces.GPU` call."""
    return bool(os.environ.get(ZERO_GPU_VARIABLE))
