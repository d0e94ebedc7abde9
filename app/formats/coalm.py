"""CoALM's ReAct text format: bracketed instruction blocks, User/Thought/Action/Observation/System lines.

Two model calls per turn, as in CoALM's training data: an action step (with the tool list) that calls a
tool or replies, then, once a tool has answered, a response step (without the tool list) that replies.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue import Turn
from app.formats.base import brief_observation, observation
from app.formats.stream import CoalmReplyStream, ReplyStream
from app.parsing import Parsed, call_text, parse_coalm
from app.tools import Tool

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
STOP = ("\nObservation:", "\nUser:")


def tool_line(number: int, tool: Tool) -> str:
    notes = [f"{slot.name}: {'|'.join(slot.choices)}" for slot, _required in tool.params if slot.choices]
    required = [slot.name for slot, needed in tool.params if needed]
    parts = [tool.description] + ([f"Required: {', '.join(required)}."] if required else []) + notes
    return f"{number}. {tool.signature()}: {' '.join(parts[:2])}" + "".join(f"\n   {n}" for n in parts[2:])


class CoalmFormat:
    name = "coalm"

    def __init__(self, tools: dict[str, Tool], prompts: Path = PROMPTS) -> None:
        self.tool_list = "\n".join(tool_line(i, tool) for i, tool in enumerate(tools.values(), 1))
        self.action = Template((prompts / "coalm_action.txt").read_text())
        self.response = Template((prompts / "coalm_response.txt").read_text())

    def request(self, history: list[Turn], current: Turn, max_new_tokens: int) -> ModelRequest:
        answered = any(call.ok for call in current.calls)  # a tool has answered: time for the response step
        template = self.response if answered else self.action
        prompt = template.substitute(tools=self.tool_list, history=self._history(history), user=current.user,
                                     scratch=self._scratch(current)).rstrip() + "\n"
        return ModelRequest([{"role": "user", "content": prompt}], stop=STOP, max_new_tokens=max_new_tokens)

    def parse(self, text: str, native_calls: list[ToolCallDelta]) -> Parsed:
        return parse_coalm(text)

    def reply_stream(self) -> ReplyStream:
        return CoalmReplyStream()

    def _history(self, turns: list[Turn]) -> str:
        lines = []
        for turn in turns:
            lines.append(f"User: {turn.user}")
            for call in turn.calls:
                lines.append(f"Action: {call_text(call.name, call.arguments)}")
                lines.append(f"Observation: {brief_observation(call)!r}")
            lines.append(f"System: {turn.response}")
        return "\n".join(lines) or "(none)"

    def _scratch(self, turn: Turn) -> str:
        lines = []
        for step in turn.steps:
            if step.thought:
                lines.append(f"Thought: {step.thought}")
            for call in step.calls:
                lines += [f"Action: {call_text(call.name, call.arguments)}", f"Observation: {observation(call)!r}"]
            lines += [f"Observation: {{'error': {problem!r}}}" for problem in step.problems]
        return "\n".join(lines)

