"""What a simulated user reads on the screen: the agent's latest reply and what it asks, whether it says nothing
matched or the booking was refused, which venue it recommends and which attributes it has told."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from app.dialogue.goals import DomainGoal
from app.dialogue.transcript import Transcript
from app.simulation.checker import said_attribute
from app.simulation.evidence import Evidence, recommended_venue, venue_field
from app.simulation.wording import reports_no_match, reports_refusal, whole

# What a question in a reply asks for: slot -> the words that ask it (only sentences ending in "?" are read).
QUESTIONS = {
    "area": r"\b(?:area|part of (?:town|the city)|where in (?:town|the city))\b",
    "pricerange": r"\bprice ?range\b|\bhow much (?:would you like|do you want) to spend\b|\bbudget\b",
    "food": r"\b(?:type|kind) of (?:food|cuisine)\b|\bcuisine\b|\bwhat food\b",
    "type": r"\b(?:type|kind) of (?:place|attraction|hotel|accommodation)\b|\bhotel or (?:a )?guest ?house\b|"
            r"\bguest ?house or (?:a )?hotel\b|\bwhat would you like to (?:do|see|visit)\b",
    "stars": r"\bstars?\b|\bstar rating\b",
    "parking": r"\bparking\b",
    "internet": r"\binternet\b|\bwi-?fi\b",
    "day": r"\b(?:what|which) day\b|\bwhat day\b|\bwhen would you like to (?:travel|go|book|arrive|stay|check in)\b",
    "people": r"\bhow many (?:people|guests|persons|tickets|of you)\b|\bfor how many\b|\bparty size\b",
    "stay": r"\bhow many nights\b|\bhow long\b.*\bstay\b",
    "time": r"\bwhat time\b|\bwhen would you like (?:the table|to (?:eat|dine))\b",
    "departure": r"\bwhere (?:will you be|are you|would you like to be)? ?(?:leaving|departing|travell?ing) from\b|"
                 r"\bwhere .*\bfrom\b|\bdeparture (?:station|point|place)\b|\bpick (?:you )?up\b",
    "destination": r"\bwhere (?:are|will|would) you .*\b(?:going|heading|travell?ing to|like to go)\b|"
                   r"\bdestination\b|\bwhere to\b",
    "leaveat": r"\b(?:leave|depart|departure time|pick you up)\b",
    "arriveby": r"\barriv(?:e|al)\b",
}


def asked(reply: str) -> list[str]:
    """The slots the reply's questions ask for, in the order of QUESTIONS."""
    questions = " ".join(s for s in re.split(r"(?<=[.?!])\s+", reply.lower()) if s.rstrip().endswith("?"))
    return [slot for slot, pattern in QUESTIONS.items() if questions and re.search(pattern, questions)]


@dataclass(frozen=True)
class Screen:
    """A dialogue as the user sees it: what the agent said (and the tool answers behind it, which say which names
    are venues and what a reference looks like)."""

    evidence: Evidence
    last_reply: str

    @classmethod
    def of(cls, transcript: Transcript) -> Screen:
        """The screen after the agent's latest reply."""
        last = transcript.last_turn()
        reply = last.reply.text if last is not None and last.reply is not None else ""
        return cls(Evidence.of(transcript), reply)

    def no_match(self) -> bool:
        """The latest reply says nothing matched."""
        return reports_no_match(self.last_reply)

    def refused(self) -> bool:
        """The latest reply says the booking could not be made."""
        return reports_refusal(self.last_reply)

    def recommended(self, part: DomainGoal, after: int) -> dict[str, Any] | None:
        """The venue the agent recommended in a reply after a position (the user's latest constraint)."""
        later = replace(self.evidence, said=tuple(s for s in self.evidence.said if s[0] > after))
        return recommended_venue(part, later)

    def booked(self, part: DomainGoal, after: int = -1) -> dict[str, Any] | None:
        """The domain's booking that a reply (after a position) has shown, by its reference (a taxi by its car too),
        as its details."""
        for booking in reversed(self.evidence.bookings):
            shown = [booking.reference, *([str(booking.details.get("car"))] if booking.details.get("car") else [])]
            if booking.domain == part.domain and booking.position > after and any(
                    position > booking.position and any(whole(value, text) for value in shown)
                    for position, text in self.evidence.said):
                return {**booking.details, "reference": booking.reference}
        return None

    def untold(self, part: DomainGoal, attributes: tuple[str, ...], after: int) -> list[str]:
        """The attributes the agent has not told about the domain's venue (or its booking)."""
        venue = self.recommended(part, after) if venue_field(part.declared) else None
        source = {**(venue or {}), **(self.booked(part) or {})}
        return [a for a in attributes if not said_attribute(source or None, a, self.evidence.text)]
