"""CoALM's ReAct text format: bracketed instruction blocks, User/Thought/Action/Observation/System lines.

Two model calls per turn, as in CoALM's training data: an action step (with the tool list) that calls a
tool or replies, then, once a tool has answered, a response step (without the tool list) that replies.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from app.agent.formats.base import brief_observation, clipped, domains_sentence, observation
from app.agent.formats.stream import CoalmReplyStream, ReplyStream
from app.agent.parsing import Parsed, call_text, parse_coalm
from app.backends.base import ModelRequest, ToolCallDelta
from app.dialogue.transcript import ActionRejected, Thought, ToolCalled, ToolError, TurnView
from app.tools.toolbox import Tool

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
STOP = ("\nObservation:", "\nUser:")


def tool_line(number: int, tool: Tool) -> str:
    """A tool as a numbered entry of CoALM's tool list: signature, description and required slots, then one
    line per slot with fixed choices."""
    notes = [f"{slot.name}: {'|'.join(slot.choices)}" for slot, _required in tool.params if slot.choices]
    required = [slot.name for slot, needed in tool.params if needed]
    parts = [tool.description] + ([f"Required: {', '.join(required)}."] if required else []) + notes
    return f"{number}. {tool.signature()}: {' '.join(parts[:2])}" + "".join(f"\n   {n}" for n in parts[2:])


class CoalmFormat:
    """CoALM's own prompts: the action prompt until a tool has answered in the turn, then the response prompt;
    calls are written in Python syntax."""

    name = "coalm"

    def __init__(self, tools: dict[str, Tool], prompts: Path = PROMPTS) -> None:
        self.tool_list = "\n".join(tool_line(i, tool) for i, tool in enumerate(tools.values(), 1))
        # The domain list is filled in once; the per-request fields ($history, ...) stay to be filled.
        fill = {"domains": domains_sentence()}
        self.action = Template(Template((prompts / "coalm_action.txt").read_text()).safe_substitute(fill))
        self.response = Template(Template((prompts / "coalm_response.txt").read_text()).safe_substitute(fill))

    def request(self, history: list[TurnView], current: TurnView, max_new_tokens: int) -> ModelRequest:
        """The action prompt, or the response prompt once a tool has answered, as one user message."""
        # A tool has answered: time for the response step.
        answered = any(call.answer and not isinstance(call.result, ToolError) for call in current.calls())
        template = self.response if answered else self.action
        prompt = template.substitute(tools=self.tool_list, history=self._history(history), user=current.user,
                                     scratch=self._scratch(current)).rstrip() + "\n"
        return ModelRequest([{"role": "user", "content": prompt}], stop=STOP, max_new_tokens=max_new_tokens)

    def parse(self, text: str, native_calls: list[ToolCallDelta]) -> Parsed:
        """The output read as CoALM writes it (markers, Python calls); native calls are not used."""
        return parse_coalm(text)

    def reply_stream(self) -> ReplyStream:
        """A streamer that shows a reply step's System text as it comes."""
        return CoalmReplyStream()

    def _history(self, turns: list[TurnView]) -> str:
        lines = []
        for turn in turns:
            lines.append(f"User: {turn.user}")
            for call in turn.calls():
                if call.answer:
                    lines.append(f"Action: {call_text(call.called.name, call.called.arguments)}")
                    lines.append(f"Observation: {clipped(repr(brief_observation(call)))}")
            lines.append(f"System: {turn.history_reply}")
        return "\n".join(lines) or "(none)"

    def _scratch(self, turn: TurnView) -> str:
        """This turn's steps so far: per step its thought, its calls with what they answered, its problems."""
        answers = {call.called.call_id: call for call in turn.calls()}
        lines: list[str] = []
        for step in sorted({e.step for e in turn.events if e.step}):
            events = [e for e in turn.events if e.step == step]
            lines += [f"Thought: {clipped(e.text)}" for e in events if isinstance(e, Thought)]
            for e in events:
                if isinstance(e, ToolCalled) and (call := answers[e.call_id]).answer:
                    lines += [f"Action: {clipped(call_text(e.name, e.arguments))}",
                              f"Observation: {clipped(repr(observation(call)))}"]
            lines += [f"Observation: {{'error': {e.message!r}}}" for e in events if isinstance(e, ActionRejected)]
        return "\n".join(lines)

