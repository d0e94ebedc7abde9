"""Did the dialogue meet its goal? Checked on what actually happened: the transcript's tool answers and replies,
and the bookings table. No LLM judge (the NCUser way); Inform / Success / Book as AutoTOD reports them.

Per goal domain: the venue the agent offered last (or booked) satisfies the goal's constraints under the same
Find semantics as the tools; the booking's slots are the goal's (the first choice, or the fallback once the
first was refused); no extra bookings; taxi endpoints are the goal's places (or the other domains' venues);
every requested attribute of that venue was said to the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz

from app.dialogue.goals import DomainGoal, Goal
from app.dialogue.transcript import AgentSaid, Found, InterimReply, Refused, ToolAnswered, Transcript
from app.evaluation.metrics import GOAL_REQUESTS
from app.tools.toolbox import Toolbox
from db.bookings import StoredBooking
from db.catalogue import FUZZY_CUTOFF, UNKNOWN
from domains.base import Domain

# The goal's word for an attribute, where the service names it differently (the taxi's car).
FIELD_OF_ATTRIBUTE = {"car type": "car"}
YES_NO = ("yes", "no")
STANDARD_REQUESTS = (*GOAL_REQUESTS, "reference")  # what Success counts, as in mwzeval and AutoTOD


def venue_field(domain: Domain) -> str | None:
    """The slot a venue is named by when it is offered or booked ("name", "trainid"); None without Find."""
    if domain.find is None:
        return None
    return domain.book.required[0] if domain.book and domain.book.required else "name"


class DomainVerdict(BaseModel):
    """The verdict on one goal domain: the venue, whether it informs, whether the booking is right,
    which requested attributes were said, and any problems."""

    model_config = ConfigDict(frozen=True)

    domain: str
    venue: str | None = None  # key of the venue offered last (or booked)
    inform: bool  # the venue satisfies the goal's constraints (True where no venue is chosen: taxi)
    booked: bool | None = None  # the booking is right; None when the goal books nothing here
    requested: dict[str, bool] = {}  # attribute -> said to the user
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Everything for this domain: the right venue, the right booking, every attribute said, no problems."""
        return self.inform and self.booked is not False and all(self.requested.values()) and not self.problems

    @property
    def success(self) -> bool:
        """AutoTOD's success: inform, and the standard requestables (phone, address, ..., reference) said."""
        return self.inform and all(v for k, v in self.requested.items() if k in STANDARD_REQUESTS)


class Verdict(BaseModel):
    """The verdict on one goal-driven dialogue: one DomainVerdict per goal domain, and any bookings the goal did
    not ask for."""

    model_config = ConfigDict(frozen=True)

    goal: str
    domains: tuple[DomainVerdict, ...]
    extra_bookings: tuple[str, ...] = ()  # "taxi BLUE1234": bookings the goal did not ask for

    @property
    def inform(self) -> bool:
        """Every domain's venue satisfies the goal's constraints."""
        return all(d.inform for d in self.domains)

    @property
    def success(self) -> bool:
        """Every domain has AutoTOD's success."""
        return all(d.success for d in self.domains)

    @property
    def book(self) -> bool | None:
        """Every booking the goal asks for is right and nothing extra was booked; None when the goal books nothing."""
        wanted = [d.booked for d in self.domains if d.booked is not None]
        return all(wanted) and not self.extra_bookings if wanted else None

    @property
    def complete(self) -> bool:
        """Everything: every domain passed, nothing extra booked."""
        return all(d.passed for d in self.domains) and not self.extra_bookings

    def summary(self) -> dict[str, Any]:
        """The verdict as JSON-ready data: the rates, and each domain's verdict with whether it passed."""
        domains = [d.model_dump(mode="json") | {"passed": d.passed} for d in self.domains]
        return {"goal": self.goal, "inform": self.inform, "success": self.success, "book": self.book,
                "complete": self.complete, "domains": domains, "extra_bookings": list(self.extra_bookings)}


@dataclass(frozen=True)
class Evidence:
    """What a dialogue did, as the checker reads it."""

    said: tuple[str, ...]  # the agent's replies, in order
    found: tuple[tuple[int, Found], ...]  # (index of the next reply, what a Find returned)
    refused: dict[str, int]  # domain -> bookings refused
    bookings: tuple[StoredBooking, ...]

    @classmethod
    def of(cls, transcript: Transcript, bookings: Iterable[StoredBooking]) -> Evidence:
        """The evidence in a transcript (replies the user saw, Find answers, refusals) and the stored bookings."""
        said: list[str] = []
        found: list[tuple[int, Found]] = []
        refused: dict[str, int] = {}
        for event in transcript.events:
            if isinstance(event, AgentSaid | InterimReply):  # text the user saw
                said.append(event.text)
            elif isinstance(event, ToolAnswered) and isinstance(event.result, Found):
                found.append((len(said), event.result))
            elif isinstance(event, ToolAnswered) and isinstance(event.result, Refused):
                refused[event.result.domain] = refused.get(event.result.domain, 0) + 1
        return cls(tuple(said), tuple(found), refused, tuple(bookings))

    @property
    def text(self) -> str:
        """Everything the agent said, lowercase, one reply a line."""
        return "\n".join(self.said).lower()


class GoalChecker:
    """Checks dialogues against goals on one database (the Find query is shared with the tools)."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox
        self._matches: dict[tuple[str, tuple[tuple[str, str], ...]], frozenset[str]] = {}

    def matches(self, part: DomainGoal) -> frozenset[str]:
        """Keys of the rows satisfying the goal's constraints, by the Find API's own query (cached: the data
        never changes). A value no row can have (one the slot does not allow) matches nothing."""
        constraints = part.constraints()
        key = (part.domain, tuple(sorted((k, str(v)) for k, v in constraints.items())))
        if key not in self._matches:
            try:
                given = {k: part.declared.slot(k).normalise(v) for k, v in constraints.items()}
            except ValueError:
                given = None
            rows = self.toolbox.catalogue.find(part.declared, given, None).rows if given is not None else []
            self._matches[key] = frozenset(row["key"] for row in rows)
        return self._matches[key]

    def check(self, goal: Goal, transcript: Transcript, bookings: Iterable[StoredBooking]) -> Verdict:
        """The verdict on a dialogue against its goal, from its transcript and the bookings it made."""
        evidence = Evidence.of(transcript, bookings)
        rows: dict[str, dict[str, Any] | None] = {}
        verdicts: list[DomainVerdict] = []
        for part in sorted(goal.domains, key=lambda d: venue_field(d.declared) is None):  # taxi after its venues
            row = self._venue(part, evidence)
            rows[part.domain] = row
            verdicts.append(self._domain(part, row, evidence, rows))
        by_name = {v.domain: v for v in verdicts}
        return Verdict(goal=goal.id, domains=tuple(by_name[d] for d in goal.names),
                       extra_bookings=_extra(goal, evidence.bookings))

    def _domain(self, part: DomainGoal, row: dict[str, Any] | None, evidence: Evidence,
                venues: dict[str, dict[str, Any] | None]) -> DomainVerdict:
        problems: list[str] = []
        inform = True
        if venue_field(part.declared):
            inform = row is not None and row["key"] in self.matches(part)
            if row is None:
                problems.append("no venue was offered")
            elif not inform:
                problems.append(f"{row['key']} does not satisfy {part.constraints()}")
        booked = None
        booking = _last_booking(part.domain, evidence.bookings)
        if part.books:
            booking_problems = _booking_problems(part, booking, evidence, venues)
            booked = not booking_problems and inform  # the right slots at the wrong venue are no booking
            problems += booking_problems
        source = booking.details if booking is not None and row is None else row
        requested = {attribute: said_attribute(source, attribute, evidence.text) for attribute in part.reqt}
        if part.books:
            requested["reference"] = booking is not None and booking.reference.lower() in evidence.text
        return DomainVerdict(domain=part.domain, venue=row["key"] if row else None, inform=inform, booked=booked,
                             requested=requested, problems=tuple(problems))

    def _venue(self, part: DomainGoal, evidence: Evidence) -> dict[str, Any] | None:
        """The booked venue, else the last venue a reply named among the rows the agent's Finds returned."""
        field = venue_field(part.declared)
        if field is None:
            return None
        booking = _last_booking(part.domain, evidence.bookings)
        if booking is not None:  # what the agent found, else the table (a venue booked without a Find)
            seen = [row for _index, result in evidence.found for row in result.rows]
            value = part.declared.slot(field).normalise(booking.details[field])
            seen += self.toolbox.catalogue.find(part.declared, {field: value}, None).rows
            return next((r for r in seen if r["key"] == booking.entity_key), None)
        return offered_venue(part, evidence)


def offered_venue(part: DomainGoal, evidence: Evidence) -> dict[str, Any] | None:
    """The last venue a reply named, among the rows the agent's Finds had returned by then."""
    field = venue_field(part.declared)
    if field is None:
        return None
    offered = None
    for index, reply in enumerate(evidence.said):
        rows = [r for seen, result in evidence.found if result.domain == part.domain and seen <= index
                for r in result.rows]
        named = [r for r in rows if mentions(reply, str(r.get(field, "")), exact=True)] \
            or [r for r in rows if mentions(reply, str(r.get(field, "")))]
        offered = named[-1] if named else offered
    return offered


def _booking_problems(part: DomainGoal, booking: StoredBooking | None, evidence: Evidence,
                      venues: dict[str, dict[str, Any] | None]) -> list[str]:
    if booking is None:
        refusals = evidence.refused.get(part.domain, 0)
        return ["nothing was booked" + (f" ({refusals} attempts refused)" if refusals else "")]
    problems = []
    count = sum(b.domain == part.domain for b in evidence.bookings)
    if count > 1:
        problems.append(f"{count} {part.domain} bookings where the goal wants one")
    booked = {slot: booking.details.get(slot) for slot in part.book}
    allowed = [part.first_book] + ([part.book] if part.domain in evidence.refused else [])
    if part.book and booked not in allowed:
        problems.append(f"booked {booked}, the goal wants {part.first_book}"
                        + (f" (or {part.book} once refused)" if part.fail_book else ""))
    if venue_field(part.declared) is None:
        problems += _trip_problems(part, booking.details, [r for d, r in venues.items() if d != part.domain and r])
    return problems


def _trip_problems(part: DomainGoal, details: dict[str, Any], venues: list[dict[str, Any]]) -> list[str]:
    """A trip (taxi): the goal's times and places, and where it names no place, the other domains' venues."""
    problems = []
    names = [str(r.get("name", "")) for r in venues if r.get("name")]
    for slot in part.declared.book_required + part.declared.book_optional:
        got, wanted = str(details.get(slot) or ""), part.info.get(slot)
        if wanted is not None and not _same_place(got, str(wanted)):
            problems.append(f"{slot} is {got or 'missing'}, the goal wants {wanted}")
        elif wanted is None and slot in part.declared.book_required and names \
                and not any(_same_place(got, n) for n in names):
            problems.append(f"{slot} {got!r} is none of the venues {names}")
    return problems


def _extra(goal: Goal, bookings: tuple[StoredBooking, ...]) -> tuple[str, ...]:
    booking_domains = {d.domain for d in goal.domains if d.books}
    return tuple(f"{b.domain} {b.reference}" for b in bookings if b.domain not in booking_domains)


def _last_booking(domain: str, bookings: tuple[StoredBooking, ...]) -> StoredBooking | None:
    return next((b for b in reversed(bookings) if b.domain == domain), None)


def said_attribute(source: dict[str, Any] | None, attribute: str, text: str) -> bool:
    """Was the venue's value of `attribute` said? Yes/no values count when the attribute is named; unknown ones
    ("?", or a field the record lacks) cannot be said and count as given."""
    if source is None:
        return False
    value = source.get(FIELD_OF_ATTRIBUTE.get(attribute, attribute))
    if value is None:
        return FIELD_OF_ATTRIBUTE.get(attribute, attribute) not in source  # a venue without a phone: nothing to say
    value = str(value).lower()
    if value == UNKNOWN:
        return True
    if value in YES_NO:
        return attribute in text
    return _said_whole(value, text)


def mentions(text: str, name: str, exact: bool = False) -> bool:
    """Is `name` in `text`: as whole words, or else (not `exact`) loosely, as the Find matches names?
    Whole words first, so "worth house" is not read in "warkworth house"."""
    if not name:
        return False
    text, name = text.lower(), name.lower()
    if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text):
        return True
    return not exact and fuzz.partial_ratio(name, text) >= FUZZY_CUTOFF


def _same_place(got: str, wanted: str) -> bool:
    return bool(got) and fuzz.partial_ratio(got.lower(), wanted.lower()) >= FUZZY_CUTOFF


def _said_whole(value: str, text: str) -> bool:
    """Is `value` in `text` as a whole value, whatever separates its letters and digits: "CB2 1AB" and "cb21ab",
    "01223 356354" and "01223356354" match, but stars "4" is not read in "TR8143" or a phone number."""
    characters = re.sub(r"\W", "", value)
    if not characters:  # nothing that could be said
        return True
    pattern = r"\W*".join(re.escape(c) for c in characters)
    return re.search(rf"(?<![^\W_]){pattern}(?![^\W_])", text) is not None
