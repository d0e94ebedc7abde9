"""Helpers for driving the agent in tests."""

from __future__ import annotations

from app.agent import Agent, Limits
from app.backends.scripted import ScriptedBackend
from app.dialogue import Dialogue
from app.events import ResponseChunk
from app.formats import make_format


def scripted_agent(toolbox, outputs, format_name="coalm", **limits) -> tuple[Agent, ScriptedBackend]:
    backend = ScriptedBackend(outputs)
    return Agent(backend, make_format(format_name, toolbox.tools), toolbox, Limits(**limits)), backend


def run(agent: Agent, dialogue: Dialogue, text: str) -> list:
    return list(agent.run_turn(dialogue, text))


def kinds(events: list) -> list[str]:
    """Event types, with consecutive response chunks folded into one."""
    folded: list[str] = []
    for event in events:
        if not (isinstance(event, ResponseChunk) and folded and folded[-1] == "ResponseChunk"):
            folded.append(event.type)
    return folded


def streamed(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, ResponseChunk))
