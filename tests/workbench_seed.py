"""Recorded dialogues for the workbench's tests: real agent runs (scripted model outputs) of two systems."""

from __future__ import annotations

import json

from app.dialogue.transcript import AgentSaid, Transcript
from app.tools.toolbox import Toolbox
from app.workbench.review_store import ReviewStore
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


def seed_review_queue(store: ReviewStore, toolbox: Toolbox, dialogues: int = 4) -> None:
    """Recorded dialogues of both systems, each already rated by two raters who mostly agree."""
    for number in range(dialogues):
        system = ("good", "weak")[number % 2]
        transcript = recorded_dialogue(toolbox, system, number)
        store.enqueue(transcript.id, transcript.to_data(), dict(transcript.meta), "evaluate")
        good = system == "good"
        for rater in ("ann", "bob"):
            store.answer(transcript.id, rater, {
                ("task_completed", ""): "yes" if good else ("no" if rater == "ann" else "partly"),
                ("naturalness", ""): ("5" if rater == "ann" else "4") if good else "2",
                **{("reply", reply): "like" if good else "dislike" for reply in replies(transcript)}})


def malformed(data: dict, how: str) -> dict:
    """A copy of a recorded transcript's data broken one way, as a hand-edited or foreign file may be: `booking`
    (a booking answer in an unknown domain), `belief` (a belief slot without a domain), `gap` (turn 1 renumbered 2),
    `duplicate` (two events sharing an id), `found` (a Find in an unknown domain)."""
    broken = json.loads(json.dumps(data))
    events = broken["events"]
    if how == "booking":
        # (booked, or refused where this dialogue id already holds the rooms in a shared test database)
        answer = next(e for e in events if e["kind"] == "tool_answered" and e["result"]["kind"] in ("booked",
                                                                                                    "refused"))
        answer["result"]["domain"] = "spaceship"
    elif how == "found":
        answer = next(e for e in events if e["kind"] == "tool_answered" and e["result"]["kind"] == "found")
        answer["result"]["domain"] = "spaceship"
    elif how == "belief":
        change = next(e for e in events if e["kind"] == "belief_changed")
        change["changes"] = {"area": "north"}
    elif how == "gap":
        for event in events:
            event["turn"] = 2 if event["turn"] == 1 else event["turn"]
    elif how == "duplicate":
        said = [e for e in events if e["kind"] == "agent_said"]
        said[1]["id"] = said[0]["id"]
    else:
        raise ValueError(how)
    return broken
