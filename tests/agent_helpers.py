"""Helpers for driving the agent in tests."""

from __future__ import annotations

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.backends.scripted import ScriptedBackend
from app.dialogue.session import OneMessage, run_dialogue
from app.dialogue.transcript import ModelCalled, ReplyChunk, Transcript


def scripted_agent(toolbox, outputs, format_name="coalm", **limits) -> tuple[Agent, ScriptedBackend]:
    backend = ScriptedBackend(outputs)
    return Agent(backend, make_format(format_name, toolbox.tools), toolbox, Limits(**limits)), backend


def run(agent: Agent, transcript: Transcript, text: str) -> list:
    """One user message through the session loop: every event it yields, the UserSaid first."""
    return list(run_dialogue(agent, OneMessage(text), transcript))


def kinds(events: list) -> list[str]:
    """Event classes, with consecutive reply chunks folded into one; the model calls' records left out (every step
    has one: tests/agent/test_model_calls.py checks them)."""
    folded: list[str] = []
    for event in events:
        if isinstance(event, ModelCalled):
            continue
        if not (isinstance(event, ReplyChunk) and folded and folded[-1] == "ReplyChunk"):
            folded.append(type(event).__name__)
    return folded


def streamed(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, ReplyChunk))
