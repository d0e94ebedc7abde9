"""The rule-based system's view of a dialogue: per domain, what the user has asked for so far (its belief), read
from the user's messages alone; and the tool answers its own calls got."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.dialogue.transcript import CallWithAnswer, Transcript, UserSaid
from app.simulation.rules.understanding import Ontology, Understood, understand
from domains import domain as find_domain
from domains.values import DONTCARE


@dataclass
class Belief:
    """What the user wants from one domain: constraints (and a trip's places and times), booking values, and
    whether they asked for a booking."""

    values: dict[str, Any] = field(default_factory=dict)
    book: dict[str, Any] = field(default_factory=dict)
    wants_booking: bool = False


@dataclass
class Reading:
    """The dialogue so far: a belief per domain, the domain the latest message is about, and that message."""

    beliefs: dict[str, Belief]
    domain: str | None
    latest: Understood


def read(transcript: Transcript, ontology: Ontology, asked: dict[int, list[str]]) -> Reading:
    """Every user message in order, each read in the context of the one before (the domain it goes on with, and
    what the system asked: "I don't mind" answers that)."""
    beliefs: dict[str, Belief] = {}
    active: str | None = None
    latest = Understood()
    for event in transcript.events:
        if not isinstance(event, UserSaid):
            continue
        latest = understand(event.text, ontology, active)
        active = latest.domain or active
        if active is None:
            continue
        belief = beliefs.setdefault(active, Belief())
        values = dict(latest.values)
        if latest.dont_mind:
            values.update(dict.fromkeys((s for s in asked.get(event.turn - 1, []) if s not in values), DONTCARE))
        slots = {s.name for s in find_domain(active).slots}
        belief.values.update({k: v for k, v in values.items() if k in slots})
        belief.book.update({k: v for k, v in latest.book.items()
                            if k in {s.name for s in find_domain(active).book_slots}})
        belief.wants_booking = belief.wants_booking or latest.wants_booking
    return Reading(beliefs, active, latest)


def last_call(transcript: Transcript, api: str | None) -> CallWithAnswer | None:
    """The dialogue's latest call of that API that has an answer."""
    return next((c for c in reversed(transcript.calls()) if c.called.name == api and c.answer is not None), None)


def called_this_turn(transcript: Transcript, api: str | None) -> list[CallWithAnswer]:
    """This turn's calls of that API."""
    turn = transcript.last_turn()
    return [c for c in turn.calls() if c.called.name == api] if turn is not None else []
