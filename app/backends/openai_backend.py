"""Any OpenAI-compatible server (vLLM serving CoALM-70B/405B, llama.cpp, OpenAI) through the openai client.

What a server sends is checked at this door (pydantic models of the few fields used), so a malformed answer
is a BackendError that says what was wrong, never a raw exception in the turn loop. An answer counts as
complete only when the server says so (a `finish_reason`); one cut at the token limit is an error, not a reply.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import openai
from pydantic import BaseModel, Field, ValidationError

from app.backends.base import BackendError, Delta, ModelRequest, TextDelta, ToolCallDelta, Usage
from app.backends.scripted import estimate_tokens

MAX_STOP_STRINGS = 4  # the OpenAI API accepts at most four


class _Function(BaseModel):
    name: str | None = None
    # A JSON string by the API; some servers send the object itself, which is read as the arguments.
    arguments: str | dict[str, Any] | None = None


class _ToolCall(BaseModel):
    index: int = 0
    function: _Function | None = None


class _Message(BaseModel):
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(BaseModel):
    delta: _Message | None = None  # streamed pieces
    message: _Message | None = None  # a whole completion, from a server that ignored stream=true
    finish_reason: str | None = None


class _Usage(BaseModel):
    prompt_tokens: int | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)


class _Answer(BaseModel):
    choices: list[_Choice]  # null or missing is malformed; [] is a usage-only piece
    model: str | None = None
    usage: _Usage | None = None  # what the call cost, as the server counted it (the last piece, when asked for)


@dataclass
class _Reading:
    """One answer as it arrives: text is passed on at once, tool calls are put together from fragments."""

    received: bool = False
    finish_reason: str | None = None
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    usage: _Usage | None = None
    model: str | None = None

    def read(self, answer: _Answer) -> Iterator[TextDelta]:
        self.received = True
        self.usage = answer.usage or self.usage
        self.model = answer.model or self.model
        for choice in answer.choices:
            part = choice.delta or choice.message or _Message()
            if part.content:
                yield TextDelta(part.content)
            for fragment in part.tool_calls or []:
                call = self.calls.setdefault(fragment.index, {"name": "", "arguments": ""})
                function = fragment.function or _Function()
                call["name"] += function.name or ""
                if isinstance(function.arguments, dict):
                    call["arguments"] = function.arguments
                elif function.arguments:
                    if not isinstance(call["arguments"], str):
                        raise BackendError("the model server sent a tool call's arguments both as an object and as "
                                           "text")
                    call["arguments"] += function.arguments
            self.finish_reason = choice.finish_reason or self.finish_reason


class OpenAIBackend:
    """A model on an OpenAI-compatible chat server, streamed; no hidden retries, so a dead server shows at once."""

    def __init__(self, base_url: str | None, model: str, api_key: str | None, timeout_s: float) -> None:
        self.base_url = base_url or "https://api.openai.com/v1"
        self.model = model
        self.timeout_s = timeout_s
        # No hidden retries: a dead server should show up as an error now, not after minutes of backoff.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key or "not-needed", timeout=timeout_s,
                                    max_retries=0)
        self.label = f"openai-compatible {model} at {self.base_url}"

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """Yield the text as it streams, then the tool calls; every failure, a cut answer included, is a
        BackendError saying what to do."""
        reading = _Reading()
        try:
            yield from self._read(request, reading)
        except openai.APITimeoutError as error:
            raise BackendError(f"the model server at {self.base_url} did not answer within {self.timeout_s:g} s "
                               "(set WOZ_TIMEOUT_S to wait longer)") from error
        except openai.APIConnectionError as error:
            if reading.received:
                raise BackendError(f"the answer from {self.base_url} broke off: {_cause(error)}") from error
            raise BackendError(f"cannot reach the model server at {self.base_url} ({_cause(error)}); is it running? "
                               "Set WOZ_BASE_URL to its address") from error
        except openai.APIStatusError as error:
            raise BackendError(f"the model server answered {error.status_code}: {_short(error.message)}") from error
        except (openai.APIError, httpx.HTTPError) as error:
            raise BackendError(f"the answer from {self.base_url} broke off: {_cause(error)}") from error
        except ValueError as error:  # a streamed line that is not JSON
            raise BackendError(f"the model server at {self.base_url} sent something that is not JSON: "
                               f"{_cause(error)}") from error
        if reading.finish_reason is None:
            raise BackendError(f"the answer from {self.base_url} broke off: the server stopped before saying the "
                               "answer was complete (no finish_reason); retry")
        if reading.finish_reason == "length":
            raise BackendError(f"the answer was cut at the token limit ({request.max_new_tokens} tokens); set "
                               "WOZ_MAX_NEW_TOKENS higher, or retry")
        for call in reading.calls.values():
            yield ToolCallDelta(call["name"], call["arguments"])
        usage = reading.usage or _Usage()  # a server that sends none leaves the counts None: "not reported"
        yield Usage(usage.prompt_tokens, usage.completion_tokens, "server", reading.model or self.model)

    def count_tokens(self, request: ModelRequest) -> int:
        """An estimate: the server's tokenizer is not at hand."""
        return estimate_tokens(request)

    def _read(self, request: ModelRequest, reading: _Reading) -> Iterator[TextDelta]:
        # include_usage: a streamed answer's last piece then says what the call cost (servers that ignore it send none)
        options: dict[str, Any] = {"temperature": 0, "max_tokens": request.max_new_tokens,
                                   "stream_options": {"include_usage": True}}
        if request.tools:
            options["tools"] = request.tools
        if request.stop:
            options["stop"] = list(request.stop[:MAX_STOP_STRINGS])
        raw = self.client.chat.completions.with_raw_response.create(
            model=self.model, messages=_wire_messages(request.messages), stream=True, **options)
        if "text/event-stream" not in raw.headers.get("content-type", ""):
            # The server ignored stream=true and sent the whole completion: read it as one piece.
            yield from reading.read(_checked(raw.http_response.read()))
            return
        for chunk in cast(Any, raw.parse()):  # a stream of chunks (the SDK's type also allows a tuple)
            yield from reading.read(_checked(chunk.model_dump(warnings=False)))


def _checked(answer: bytes | dict[str, Any]) -> _Answer:
    try:
        return _Answer.model_validate_json(answer) if isinstance(answer, bytes) else _Answer.model_validate(answer)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise BackendError(f"the model server sent an answer the API does not allow: {where}: {problem['msg']}"
                           ) from error


def _wire_messages(messages: list[dict[str, Any]]) -> list[Any]:  # the SDK's message params, built as dicts
    """The API wants tool-call arguments as JSON strings; the shared message shape keeps them as dicts."""
    wired = []
    for message in messages:
        if message.get("tool_calls"):
            message = {**message, "tool_calls": [
                {**call, "function": {**call["function"], "arguments": json.dumps(call["function"]["arguments"])}}
                for call in message["tool_calls"]]}
        wired.append(message)
    return wired


def _cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return _short(f"{type(error).__name__}: {error}")


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."
