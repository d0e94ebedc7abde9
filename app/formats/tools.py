"""Native JSON tool calling through the chat template's `tools=` (Llama-3.1-Instruct, GPT-4o, any server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue import Turn
from app.formats.base import ReplyStream, observation
from app.parsing import CALL_START, Call, Parsed, parse_json_calls
from app.tools import Tool

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
CALL_WINDOW = 12  # a reply that starts like "FindHotel(" or "{" is a call written as text; wait this long to tell


class ToolsFormat:
    name = "tools"

    def __init__(self, tools: dict[str, Tool], prompts: Path = PROMPTS) -> None:
        self.specs = [tool.json_schema() for tool in tools.values()]
        self.system = (prompts / "tools_system.txt").read_text().strip()

    def request(self, history: list[Turn], current: Turn, max_new_tokens: int) -> ModelRequest:
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}]
        for turn in history:
            messages += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.response}]
        messages.append({"role": "user", "content": current.user})
        for s, step in enumerate(current.steps):
            if step.calls:
                ids = [f"call_{s}_{c}" for c in range(len(step.calls))]
                messages.append({"role": "assistant", "content": step.thought or "", "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                    for i, call in zip(ids, step.calls, strict=True)]})
                messages += [{"role": "tool", "tool_call_id": i, "name": call.name,
                              "content": json.dumps(observation(call), ensure_ascii=False)}
                             for i, call in zip(ids, step.calls, strict=True)]
            if step.problems:
                problems = "; ".join(step.problems)
                messages += [{"role": "assistant", "content": step.text},
                             {"role": "user", "content": f"That tool call could not be used: {problems}"}]
        return ModelRequest(messages, tools=self.specs, max_new_tokens=max_new_tokens)

    def parse(self, text: str, native_calls: list[ToolCallDelta]) -> Parsed:
        if not native_calls:
            return parse_json_calls(text)
        calls, problems = [], []
        for native in native_calls:
            arguments = native.arguments
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments or "{}")
                except json.JSONDecodeError:
                    problems.append(f"{native.name}: the arguments are not valid JSON: {arguments[:100]!r}")
                    continue
            calls.append(Call(native.name, arguments))
        return Parsed(thought=text.strip() or None, calls=calls, problems=problems)

    def reply_stream(self) -> ReplyStream:
        return ReplyStream(_reply_start)


def _reply_start(buffer: str) -> int | None:
    stripped = buffer.lstrip()
    if len(stripped) < CALL_WINDOW or stripped[0] in "{[<" or CALL_START.match(stripped[:CALL_WINDOW]):
        return None
    return len(buffer) - len(stripped)
