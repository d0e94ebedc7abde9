"""Recorded dialogues for the workbench's tests: real agent runs (scripted model outputs) of two systems."""

from __future__ import annotations

from app.tools import Toolbox
from app.transcript import AgentSaid, Transcript
from tests.agent_helpers import run, scripted_agent

USERS = ("I need a cheap guesthouse in the north", "Book worth house for 2 people, 2 nights from thursday")
GOOD = ["Thought: The user wants a cheap guesthouse in the north.\n"
        "Action: FindHotel(area='north', pricerange='cheap', type='guesthouse')",
        "System: I have 2 cheap guesthouses in the north: City Centre North B and B and Worth House.",
        "Thought: Book Worth House.\nAction: BookHotel(name='worth house', day='thursday', people=2, stay=2)",
        "System: Done! Worth House is booked for 2 nights from Thursday."]
WEAK = ["System: There are many hotels in Cambridge. What area would you like?",
        "System: Sorry, I cannot book hotels."]
SYSTEMS = {"good": ({"backend": "scripted", "model": "good-model", "format": "coalm"}, GOOD),
           "weak": ({"backend": "scripted", "model": "weak-model", "format": "coalm"}, WEAK)}


def recorded_dialogue(toolbox: Toolbox, system: str, number: int) -> Transcript:
    meta, outputs = SYSTEMS[system]
    agent, _ = scripted_agent(toolbox, outputs)
    transcript = Transcript(id=f"rec-{system}-{number}", meta={**meta, "source": "evaluate"})
    for text in USERS:
        run(agent, transcript, text)
    return transcript


def replies(transcript: Transcript) -> list[str]:
    return [e.id for e in transcript.events if isinstance(e, AgentSaid)]
