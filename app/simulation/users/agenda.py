"""An agenda-based user simulator: pursues a goal from its structure, with no language model.

Per goal domain, in the corpus dialogue's order: state the constraints (the failing ones first, then the real
ones), ask for the booking (the first choice, then the fallback once the agent reports a refusal), ask for the
attributes the goal wants, and move on when the agent has offered a venue, booked and told them (or after
`patience` turns without that). It reads what the agent did from the transcript (tool answers and replies),
as a person reads the screen, and ends the dialogue (returns None) when every domain is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.dialogue.goals import DomainGoal, Goal
from app.dialogue.transcript import Booked, Refused, ToolAnswered, Transcript, UserSaid
from app.simulation.checker import Evidence, offered_venue, said_attribute, venue_field
from domains.values import DONTCARE

PATIENCE = 3  # turns spent on one domain without it being done, before the user moves on


def describe(values: dict[str, Any]) -> str:
    """Slot values as the tools name them: "area centre, pricerange cheap" ("any" for dontcare)."""
    return ", ".join(f"{slot} {'any' if value == DONTCARE else value}" for slot, value in values.items())


@dataclass
class _Progress:
    turns: int = 0
    switched_info: bool = False  # the real constraints were stated after the failing ones
    asked_fallback: bool = False  # the fallback booking was asked for after a refusal


@dataclass
class AgendaUser:
    """A UserSide for one goal."""

    goal: Goal
    patience: int = PATIENCE
    progress: dict[str, _Progress] = field(default_factory=dict)
    current: int = 0  # index of the domain being pursued

    def next(self, transcript: Transcript) -> UserSaid | None:
        """The next message for the domain being pursued, moving on (with thanks) once it is done or patience
        runs out; None when every domain is done."""
        evidence = Evidence.of(transcript, ())
        booked = {b.domain: b for b in transcript.bookings()}
        refused = _refused(transcript)
        thanks = ""
        while self.current < len(self.goal.domains):
            part = self.goal.domains[self.current]
            state = self.progress.setdefault(part.domain, _Progress())
            stated = state.switched_info or not part.fail_info  # the real constraints have been said
            if state.turns and ((stated and self._done(part, evidence, booked)) or state.turns >= self.patience):
                self.current += 1
                thanks = "Thank you. "
                continue
            text = self._utterance(part, state, evidence, booked, part.domain in refused)
            state.turns += 1
            return transcript.user_said(thanks + text)
        return None

    def _done(self, part: DomainGoal, evidence: Evidence, booked: dict[str, Booked]) -> bool:
        venue = self._venue(part, evidence, booked)
        if venue_field(part.declared) and venue is None:
            return False
        if part.books and part.domain not in booked:
            return False
        if part.books and booked[part.domain].reference.lower() not in evidence.text:
            return False
        return not self._missing(part, venue, evidence)

    def _venue(self, part: DomainGoal, evidence: Evidence, booked: dict[str, Booked]) -> dict[str, Any] | None:
        if part.domain in booked:
            return {**(offered_venue(part, evidence) or {}), **booked[part.domain].details}
        return offered_venue(part, evidence)

    def _missing(self, part: DomainGoal, venue: dict[str, Any] | None, evidence: Evidence) -> list[str]:
        return [a for a in part.reqt if not said_attribute(venue, a, evidence.text)]

    def _utterance(self, part: DomainGoal, state: _Progress, evidence: Evidence, booked: dict[str, Booked],
                   refused: bool) -> str:
        venue = self._venue(part, evidence, booked)
        if not state.turns:
            return self._opening(part, evidence)
        if part.fail_info and not state.switched_info:
            state.switched_info = True
            return f"If there is none like that, how about {describe(part.info)} instead?"
        wants_book = part.books and part.domain not in booked
        if wants_book and refused and part.fail_book and not state.asked_fallback:
            state.asked_fallback = True
            return f"Then could you try {describe(part.book)}?"
        if venue_field(part.declared) and venue is None:
            return f"I am looking for a {part.domain} with {describe(part.info)}. Which one would you suggest?"
        if wants_book:
            slots = part.book if state.asked_fallback else part.first_book
            return self._booking(part, evidence, slots)
        if missing := self._missing(part, venue, evidence):
            return f"Could you tell me the {', '.join(missing)}?"
        return "Could you give me the reference number, please?"

    def _opening(self, part: DomainGoal, evidence: Evidence) -> str:
        if venue_field(part.declared) is None:
            return self._booking(part, evidence, {})
        text = f"I am looking for a {part.domain} with {describe(part.first_info)}."
        if part.books:
            text += f" Please book it for {describe(part.first_book)}."
        if part.reqt:
            text += f" Please tell me the {', '.join(part.reqt)}."
        return text

    def _booking(self, part: DomainGoal, evidence: Evidence, slots: dict[str, Any]) -> str:
        if venue_field(part.declared) is not None:
            return f"Please book it for {describe(slots)}."
        trip = dict(part.info)
        places = self._places(evidence, part)
        for slot in part.declared.book_required:
            if slot not in trip and places:
                trip[slot] = places.pop(0)
        asks = f" Please tell me the {', '.join(part.reqt)}." if part.reqt else ""
        return f"I need a {part.domain}: {describe(trip)}.{asks}"

    def _places(self, evidence: Evidence, part: DomainGoal) -> list[str]:
        """The venues offered in the goal's other domains, by name: where a trip goes when the goal names none."""
        names = []
        for other in self.goal.domains:
            if other.domain != part.domain and venue_field(other.declared) == "name":
                venue = offered_venue(other, evidence)
                if venue is not None:
                    names.append(str(venue["name"]))
        return names


def _refused(transcript: Transcript) -> set[str]:
    return {e.result.domain for e in transcript.events if isinstance(e, ToolAnswered) and isinstance(e.result, Refused)}

