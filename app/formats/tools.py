"""Native JSON tool calling through the chat template's `tools=` (Llama-3.1-Instruct, GPT-4o, any server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue import Turn
from app.formats.base import observation
from app.formats.stream import ReplyStream, ToolsReplyStream
from app.parsing import Parsed, parse_json_calls, parse_native_calls
from app.tools import Tool

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


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
        return parse_native_calls(text, native_calls) if native_calls else parse_json_calls(text)

    def reply_stream(self) -> ReplyStream:
        return ToolsReplyStream()

