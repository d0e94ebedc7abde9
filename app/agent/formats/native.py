"""Native JSON tool calling through the chat template's `tools=` (Llama-3.1-Instruct, GPT-4o, any server)."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

from app.agent.formats.base import clipped, domains_sentence, echoed_arguments, observation
from app.agent.formats.stream import ReplyStream, ToolsReplyStream
from app.agent.parsing import Parsed, parse_json_calls, parse_native_calls
from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue.transcript import ActionRejected, Thought, ToolCalled, TurnView
from app.tools.toolbox import Tool

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


class NativeToolsFormat:
    """Chat messages with OpenAI-style function specs: the model calls tools natively (or writes them as JSON)."""

    name = "tools"

    def __init__(self, tools: dict[str, Tool], prompts: Path = PROMPTS) -> None:
        self.specs = [tool.json_schema() for tool in tools.values()]
        system = Template((prompts / "tools_system.txt").read_text())
        self.system = system.substitute(domains=domains_sentence()).strip()

    def request(self, history: list[TurnView], current: TurnView, max_new_tokens: int) -> ModelRequest:
        """The system prompt, earlier turns as plain messages, then this turn's calls, tool answers and rejections."""
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}]
        for turn in history:
            messages += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.history_reply}]
        messages.append({"role": "user", "content": current.user})
        answers = {call.called.call_id: call for call in current.calls()}
        for step in sorted({e.step for e in current.events if e.step}):
            events = [e for e in current.events if e.step == step]
            thought = next((e.text for e in events if isinstance(e, Thought)), "")
            calls = [answers[e.call_id] for e in events if isinstance(e, ToolCalled) and answers[e.call_id].answer]
            if calls:
                ids = [f"call_{step - 1}_{c}" for c in range(len(calls))]
                messages.append({"role": "assistant", "content": clipped(thought), "tool_calls": [
                    {"id": i, "type": "function",
                     "function": {"name": call.called.name, "arguments": echoed_arguments(call.called.arguments)}}
                    for i, call in zip(ids, calls, strict=True)]})
                messages += [{"role": "tool", "tool_call_id": i, "name": call.called.name,
                              "content": clipped(json.dumps(observation(call), ensure_ascii=False))}
                             for i, call in zip(ids, calls, strict=True)]
            if rejected := [e for e in events if isinstance(e, ActionRejected)]:
                problems = "; ".join(e.message for e in rejected)
                # The output as the model wrote it, cut like an observation: however large the output, this
                # turn's own steps (which history cannot make room for) stay within the prompt budget.
                messages += [{"role": "assistant", "content": clipped(rejected[0].output)},
                             {"role": "user", "content": f"That tool call could not be used: {problems}"}]
        return ModelRequest(messages, tools=self.specs, max_new_tokens=max_new_tokens)

    def parse(self, text: str, native_calls: list[ToolCallDelta]) -> Parsed:
        """The native tool calls when the server sent any; otherwise JSON calls read from the text."""
        return parse_native_calls(text, native_calls) if native_calls else parse_json_calls(text)

    def reply_stream(self) -> ReplyStream:
        """A streamer that shows output opening like prose, whole."""
        return ToolsReplyStream()

