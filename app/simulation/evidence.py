"""What a dialogue did, as a judge reads it: the replies the user saw, what the user said, what the Finds returned,
the refusals and the bookings, each at its place in the dialogue; and which venue the agent recommended.

The venue of a domain is the one the agent booked, else the one it last recommended: in a reply naming several
venues, the one a recommending word points to ("I recommend B"), else the first one named ("A fits. If it is
full, B is similar." recommends A). Names count as whole names of rows the agent's Finds had returned by then, so
"the restaurant" is not "j restaurant" and "pizza express" is not read inside "pizza express fen ditton".
A place named as the end of a trip booked by then ("I have booked a taxi from A to B") is where the taxi goes, not
a venue recommended: it chooses the venue only where none was chosen yet, and never displaces one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from app.dialogue.goals import DomainGoal
from app.dialogue.transcript import (
    AgentSaid,
    Booked,
    Found,
    InterimReply,
    Refused,
    ToolAnswered,
    Transcript,
    TurnFailed,
    UserSaid,
)
from app.simulation.wording import loosely, pattern, same_place, says_time
from db.bookings import StoredBooking
from domains.base import Domain

# Words that point at the venue a reply recommends, when it names several.
RECOMMENDING = re.compile(r"\b(recommend|suggest|how about|would you like|go with|i have booked|booked|reserved|"
                          r"your (?:table|room|booking|reservation) at)\b")


# Venue names that are everyday phrases: "the place is lovely" names no nightclub. They count when written as a
# name ("The Place") or recommended ("I recommend the place").
EVERYDAY_NAMES = ("the place", "the junction")


def _cued(text: str, start: int) -> bool:
    sentence = text[max(text.rfind(".", 0, start), 0):start]
    return RECOMMENDING.search(sentence) is not None


def venue_field(domain: Domain) -> str | None:
    """The slot a venue is named by when it is offered or booked ("name", "trainid"); None without Find."""
    if domain.find is None:
        return None
    return domain.book.required[0] if domain.book and domain.book.required else "name"


@dataclass(frozen=True)
class SeenBooking:
    """A booking with its place in the dialogue (the position of its tool answer; the end for one made elsewhere)."""

    position: int
    domain: str
    reference: str
    entity_key: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Evidence:
    """What a dialogue did, each item with its position among the transcript's events."""

    said: tuple[tuple[int, str], ...]  # the replies the user saw
    user: tuple[tuple[int, str], ...]  # what the user said
    found: tuple[tuple[int, Found], ...]
    refused: tuple[tuple[int, Refused], ...]
    bookings: tuple[SeenBooking, ...]
    failures: tuple[str, ...]  # why turns failed (backend errors, deadlines, Stop)

    @classmethod
    def of(cls, transcript: Transcript, stored: Iterable[StoredBooking] | None = None) -> Evidence:
        """The evidence in a transcript; the bookings are `stored` (the bookings table) when given, else the
        bookings its tool answers report."""
        said, user, found, refused, booked, failures = [], [], [], [], [], []
        for position, event in enumerate(transcript.events):
            if isinstance(event, AgentSaid | InterimReply):
                said.append((position, event.text))
            elif isinstance(event, UserSaid):
                user.append((position, event.text))
            elif isinstance(event, TurnFailed):
                failures.append(event.message)
            elif isinstance(event, ToolAnswered) and isinstance(event.result, Found):
                found.append((position, event.result))
            elif isinstance(event, ToolAnswered) and isinstance(event.result, Refused):
                refused.append((position, event.result))
            elif isinstance(event, ToolAnswered) and isinstance(event.result, Booked):
                booked.append((position, event.result))
        return cls(tuple(said), tuple(user), tuple(found), tuple(refused),
                   _bookings(booked, stored, len(transcript.events)), tuple(failures))

    @property
    def text(self) -> str:
        """Everything the agent said, one reply a line."""
        return "\n".join(text for _position, text in self.said)

    def user_text(self, after: int = -1, before: int | None = None) -> str:
        """What the user said between two positions."""
        return "\n".join(text for position, text in self.user
                         if position > after and (before is None or position < before))

    def rows(self, domain: str, before: int | None = None) -> list[dict[str, Any]]:
        """The rows the agent's Finds of `domain` returned (before a position), oldest first."""
        return [row for position, result in self.found if result.domain == domain
                and (before is None or position < before) for row in result.rows]

    def seeing(self, domain: str, rows: list[dict[str, Any]]) -> Evidence:
        """The same evidence, with `rows` known from the start (venues a reply named that no Find returned)."""
        if not rows:
            return self
        return replace(self, found=((-1, Found(domain=domain, count=len(rows), rows=rows)), *self.found))

    def trip_ends(self, before: int) -> list[str]:
        """The places of the trips (taxis: bookings of a domain without venues) booked before a position."""
        from domains import domain as find_domain

        return [str(b.details[end]) for b in self.bookings if b.position < before
                and venue_field(find_domain(b.domain)) is None for end in ("departure", "destination")
                if b.details.get(end)]

    def booking(self, domain: str) -> SeenBooking | None:
        """The domain's last booking."""
        return next((b for b in reversed(self.bookings) if b.domain == domain), None)


def _bookings(booked: list[tuple[int, Booked]], stored: Iterable[StoredBooking] | None, end: int
              ) -> tuple[SeenBooking, ...]:
    from domains import domain as find_domain

    if stored is None:
        return tuple(SeenBooking(position, b.domain, b.reference, _key(find_domain(b.domain), b.details),
                                 dict(b.details)) for position, b in booked)
    at = {b.reference: position for position, b in booked}
    return tuple(SeenBooking(at.get(s.reference, end), s.domain, s.reference, s.entity_key, s.details)
                 for s in stored)


def _key(declared: Domain, details: dict[str, Any]) -> str:
    """The booked entity's key from what a booking answer reports (a taxi's car has none worth knowing)."""
    try:
        return declared.key(details)
    except KeyError:
        return ""


def recommended_venue(part: DomainGoal, evidence: Evidence) -> dict[str, Any] | None:
    """The venue the agent last recommended in the domain (see the module's docstring), or None."""
    field = venue_field(part.declared)
    if field is None:
        return None
    chosen, before = None, -1
    for position, reply in evidence.said:
        rows: dict[str, dict[str, Any]] = {}
        for row in evidence.rows(part.domain, position):  # the first row of a name: the likeliest meant
            if row.get(field):
                rows.setdefault(str(row[field]).lower(), row)
        trips = evidence.trip_ends(position)
        aside = [name for name in rows if any(same_place(name, end) for end in trips)]
        named, cued = named_in(reply, list(rows), aside)
        if named is None and chosen is None:  # a trip's end names the venue only where the reply names no other
            named, cued = named_in(reply, list(rows))[0], False
        if named is None and field == "trainid":  # "a train that leaves at 14:01": a train by its time
            named = next((name for name, row in rows.items() if says_time(str(row.get("leaveat")), reply)), None)
        # Once a venue is chosen, a later reply changes it only when it recommends another, or answers a new search
        # of the domain: "the museum is near charlie chan" does not change the restaurant.
        searched = any(before < at < position and result.domain == part.domain for at, result in evidence.found)
        if named and (chosen is None or cued or searched):
            chosen = rows[named]
        before = position
    if chosen is None and "name" in part.info:  # the goal names its venue, the user asked about it by name
        rows = {str(r.get(field, "")).lower(): r for r in evidence.rows(part.domain) if r.get(field)}
        named, _cued = named_in(evidence.user_text(), list(rows))
        chosen = rows[named] if named else None
    return chosen


def named_in(reply: str, names: list[str], aside: Iterable[str] = ()) -> tuple[str | None, bool]:
    """The name a reply recommends among `names` (the one a recommending word points to, else the first named;
    names inside a longer name that is named count only where they stand alone), and whether a word pointed. Names
    `aside` (a trip's ends) are never the one recommended, though a name inside one of them still does not count."""
    text = reply.lower()
    spans = []
    for name in names:
        spans += [(m.start(), m.end(), name) for m in pattern(loosely(name)).finditer(text)
                  if name not in EVERYDAY_NAMES or reply[m.start():m.end()] != text[m.start():m.end()]
                  or _cued(text, m.start())]
    aside = set(aside)
    alone = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and o != s for o in spans)
             and s[2] not in aside]
    if not alone:
        return None, False
    alone.sort()
    for cue in RECOMMENDING.finditer(text):
        after = [s for s in alone if s[0] >= cue.end() and "." not in text[cue.end():s[0]]]
        if after:
            return after[0][2], True
    return alone[0][2], False
