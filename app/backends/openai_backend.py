"""Any OpenAI-compatible server (vLLM serving CoALM-70B/405B, llama.cpp, OpenAI) through the openai client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai

from app.backends.base import BackendError, Delta, ModelRequest, TextDelta, ToolCallDelta
from app.backends.scripted import estimate_tokens

MAX_STOP_STRINGS = 4  # the OpenAI API accepts at most four


class OpenAIBackend:
    def __init__(self, base_url: str | None, model: str, api_key: str | None, timeout_s: float) -> None:
        self.base_url = base_url or "https://api.openai.com/v1"
        self.model = model
        self.timeout_s = timeout_s
        # No hidden retries: a dead server should show up as an error now, not after minutes of backoff.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key or "not-needed", timeout=timeout_s,
                                    max_retries=0)
        self.label = f"openai-compatible {model} at {self.base_url}"

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        options: dict[str, Any] = {"temperature": 0, "max_tokens": request.max_new_tokens}
        if request.tools:
            options["tools"] = request.tools
        if request.stop:
            options["stop"] = list(request.stop[:MAX_STOP_STRINGS])
        calls: dict[int, dict[str, str]] = {}
        received = False
        try:
            stream: Any = self.client.chat.completions.create(  # the SDK's own types: its chunks, typed loosely here
                model=self.model, messages=_wire_messages(request.messages), stream=True, **options)
            for chunk in stream:
                received = True
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield TextDelta(choice.delta.content)
                    for fragment in choice.delta.tool_calls or []:
                        call = calls.setdefault(fragment.index, {"name": "", "arguments": ""})
                        if fragment.function and fragment.function.name:
                            call["name"] += fragment.function.name
                        if fragment.function and fragment.function.arguments:
                            call["arguments"] += fragment.function.arguments
        except openai.APITimeoutError as error:
            raise BackendError(f"the model server at {self.base_url} did not answer within {self.timeout_s:g} s "
                               "(set WOZ_TIMEOUT_S to wait longer)") from error
        except openai.APIConnectionError as error:
            if received:
                raise BackendError(f"the answer from {self.base_url} broke off: {_cause(error)}") from error
            raise BackendError(f"cannot reach the model server at {self.base_url} ({_cause(error)}); is it running? "
                               "Set WOZ_BASE_URL to its address") from error
        except openai.APIStatusError as error:
            raise BackendError(f"the model server answered {error.status_code}: {_short(error.message)}") from error
        except (openai.APIError, httpx.HTTPError) as error:
            raise BackendError(f"the answer from {self.base_url} broke off: {_cause(error)}") from error
        for call in calls.values():
            yield ToolCallDelta(call["name"], call["arguments"])

    def count_tokens(self, request: ModelRequest) -> int:
        return estimate_tokens(request)


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
