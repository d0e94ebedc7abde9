"""Did the dialogue meet its goal? Checked on what actually happened: the transcript's tool answers and replies,
and the bookings. No LLM judge (the NCUser way); Inform / Success / Book as AutoTOD reports them.

A judge, not a pattern match. Per goal domain: the venue the agent booked or recommended (not the last name
mentioned; see `evidence`) satisfies the goal's constraints, each value as the goal means it: a name or a food
exactly where the database has that value ("pizza express" is not "pizza express fen ditton", "european" not
"modern european"; a goal's misspelt name still finds its venue loosely); the booking's slots are the goal's first
choice, or its fallback only once the first was refused and the user then asked for the fallback; no extra
bookings; a taxi goes between the goal's places, or its two venues, as whole names and in the direction the goal
says; every requested attribute of that venue was said, and said right (a yes/no as a statement whose sense
matches the venue, a time or a price in any common spelling; see `wording`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.dialogue.goals import DomainGoal, Goal
from app.dialogue.transcript import Transcript
from app.evaluation.metrics import GOAL_REQUESTS
from app.simulation import wording
from app.simulation.blame import blame_of, user_problems
from app.simulation.evidence import Evidence, SeenBooking, recommended_venue, venue_field
from app.tools.toolbox import Toolbox
from db.bookings import StoredBooking
from db.catalogue import UNKNOWN

__all__ = ["FIELD_OF_ATTRIBUTE", "STANDARD_REQUESTS", "DomainVerdict", "GoalChecker", "Verdict", "said_attribute",
           "venue_field"]

# The goal's word for an attribute, where the service names it differently (the taxi's car).
FIELD_OF_ATTRIBUTE = {"car type": "car"}
STANDARD_REQUESTS = (*GOAL_REQUESTS, "reference")  # what Success counts, as in mwzeval and AutoTOD
EXACT_WHERE_KNOWN = ("name",)  # a goal's name may be misspelt ("meze bar restaurant"): loose only then
TRAIN_ID = re.compile(r"\b(tr ?\d{4})\b", re.IGNORECASE)


@lru_cache(maxsize=16)
def names_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """Whole names, in the order given (longest first, so a name inside a longer one loses); group n<i> is names[i]."""
    return re.compile("|".join(f"(?P<n{i}>{wording.loosely(name)})" for i, name in enumerate(names)))


class DomainVerdict(BaseModel):
    """The verdict on one goal domain: the venue, whether it informs, whether the booking is right,
    which requested attributes were said, and any problems."""

    model_config = ConfigDict(frozen=True)

    domain: str
    venue: str | None = None  # key of the venue booked or recommended
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
    """The verdict on one goal-driven dialogue: one DomainVerdict per goal domain, any bookings the goal did
    not ask for, and (when it failed) who is to blame (see `app.simulation.blame`)."""

    model_config = ConfigDict(frozen=True)

    goal: str
    domains: tuple[DomainVerdict, ...]
    extra_bookings: tuple[str, ...] = ()  # "taxi BLUE1234": bookings the goal did not ask for
    blame: str | None = None  # "agent", "user" or "infrastructure" when the goal was not met
    blame_reason: str = ""
    user_conveyed: bool = True  # the user said every goal value and broke no rule of a MultiWOZ user

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
        """The verdict as JSON-ready data: the rates, each domain's verdict with whether it passed, the blame."""
        domains = [d.model_dump(mode="json") | {"passed": d.passed} for d in self.domains]
        return {"goal": self.goal, "inform": self.inform, "success": self.success, "book": self.book,
                "complete": self.complete, "domains": domains, "extra_bookings": list(self.extra_bookings),
                "blame": self.blame, "blame_reason": self.blame_reason, "user_conveyed": self.user_conveyed}


class GoalChecker:
    """Checks dialogues against goals on one database (the Find query is shared with the tools)."""

    def __init__(self, toolbox: Toolbox) -> None:
        self.toolbox = toolbox
        self._matches: dict[tuple[str, tuple[tuple[str, str], ...]], frozenset[str]] = {}

    def matches(self, part: DomainGoal, constraints: dict[str, Any] | None = None) -> frozenset[str]:
        """Keys of the rows satisfying the goal's constraints (`info` unless given) as the goal means them: the
        Find API's query, with names and foods taken exactly where the database has the value (cached)."""
        constraints = part.constraints() if constraints is None else constraints
        key = (part.domain, tuple(sorted((k, str(v)) for k, v in constraints.items())))
        if key not in self._matches:
            self._matches[key] = frozenset(row["key"] for row in self._rows(part, constraints))
        return self._matches[key]

    def _rows(self, part: DomainGoal, constraints: dict[str, Any]) -> list[dict[str, Any]]:
        declared, catalogue = part.declared, self.toolbox.catalogue
        try:
            given = {k: declared.slot(k).normalise(v) for k, v in constraints.items()}
        except ValueError:
            return []  # a value no row can have (one the slot does not allow) matches nothing
        rows = catalogue.find(declared, given, None).rows
        for slot, value in given.items():
            declared_slot = declared.slot(slot)
            if declared_slot.match != "fuzzy":
                continue
            wanted = str(value).lower()  # the database writes some names in capitals ("pizza express Fen Ditton")
            known = wanted in {v.lower() for v in catalogue.vocabulary(declared, declared_slot)}
            if known or slot not in EXACT_WHERE_KNOWN:  # a food or a station is exact; a name loose only if unknown
                rows = [r for r in rows if str(r.get(slot)).lower() in (wanted, UNKNOWN)]
        return rows

    def check(self, goal: Goal, transcript: Transcript, bookings: Iterable[StoredBooking] | None = None) -> Verdict:
        """The verdict on a dialogue against its goal, from its transcript and the bookings it made (the
        bookings table when given, else the bookings its tool answers report), with the blame when it failed."""
        evidence = Evidence.of(transcript, bookings)
        rows: dict[str, dict[str, Any] | None] = {}
        verdicts: list[DomainVerdict] = []
        for part in sorted(goal.domains, key=lambda d: venue_field(d.declared) is None):  # taxi after its venues
            row = self._venue(part, evidence)
            rows[part.domain] = row
            verdicts.append(self._domain(part, row, evidence, rows))
        by_name = {v.domain: v for v in verdicts}
        verdict = Verdict(goal=goal.id, domains=tuple(by_name[d] for d in goal.names),
                          extra_bookings=_extra(goal, evidence.bookings))
        blame, reason = blame_of(goal, transcript, evidence, verdict.complete)
        conveyed = not user_problems(goal, transcript, evidence)
        return verdict.model_copy(update={"blame": blame, "blame_reason": reason, "user_conveyed": conveyed})

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
        booking = evidence.booking(part.domain)
        if part.books:
            booking_problems = _booking_problems(part, booking, evidence, venues)
            booked = not booking_problems and inform  # the right slots at the wrong venue are no booking
            problems += booking_problems
        source = booking.details if booking is not None and row is None else row
        requested = {attribute: said_attribute(source, attribute, evidence.text) for attribute in part.reqt}
        if part.book:  # the goal says "make sure you get the reference number" (a taxi's asks for car and phone)
            requested["reference"] = booking is not None and wording.whole(booking.reference, evidence.text)
        return DomainVerdict(domain=part.domain, venue=row["key"] if row else None, inform=inform, booked=booked,
                             requested=requested, problems=tuple(problems))

    def _venue(self, part: DomainGoal, evidence: Evidence) -> dict[str, Any] | None:
        """The booked venue, else the one the agent last recommended."""
        field = venue_field(part.declared)
        if field is None:
            return None
        booking = evidence.booking(part.domain)
        if booking is not None:  # what the agent found, else the table (a venue booked without a Find)
            seen = evidence.rows(part.domain)
            value = booking.details.get(field)
            if value is not None:
                seen += self.toolbox.catalogue.find(part.declared, {field: part.declared.slot(field).normalise(value)},
                                                    None).rows
            return next((r for r in seen if r["key"] == booking.entity_key), None)
        return recommended_venue(part, evidence.seeing(part.domain, self._named(part, evidence)))

    def _named(self, part: DomainGoal, evidence: Evidence) -> list[dict[str, Any]]:
        """Venues of the domain that a reply names by their whole name (or train id) though no Find of the agent
        returned them: the user was told them all the same. A train id runs on several days and routes: the run
        that fits the goal is the one meant, if there is one."""
        field = str(venue_field(part.declared))
        catalogue, declared = self.toolbox.catalogue, part.declared
        if field == "trainid":
            ids = {m.lower().replace(" ", "") for m in TRAIN_ID.findall(evidence.text)}  # the table keeps lowercase
            runs = [r for i in sorted(ids) for r in catalogue.find(declared, {"trainid": i}, None).rows]
            route = {k: v for k, v in part.constraints().items() if k in ("departure", "destination", "day")}
            runs += [r for r in self._rows(part, route) if wording.says_time(str(r["leaveat"]), evidence.text)]
            fitting = self.matches(part)
            return sorted(runs, key=lambda r: r["key"] not in fitting)
        names = tuple(sorted(self.toolbox.catalogue.vocabulary(declared, declared.slot("name")), key=len, reverse=True))
        found = names_pattern(names)
        said = {names[int(m.lastgroup[1:])] for m in found.finditer(evidence.text.lower()) if m.lastgroup}
        return [r for name in sorted(said) for r in catalogue.exact(declared, {field: name})]


def _booking_problems(part: DomainGoal, booking: SeenBooking | None, evidence: Evidence,
                      venues: dict[str, dict[str, Any] | None]) -> list[str]:
    if booking is None:
        refusals = sum(r.domain == part.domain for _position, r in evidence.refused)
        return ["nothing was booked" + (f" ({refusals} attempts refused)" if refusals else "")]
    problems = []
    count = sum(b.domain == part.domain for b in evidence.bookings)
    if count > 1:
        problems.append(f"{count} {part.domain} bookings where the goal wants one")
    booked = {slot: booking.details.get(slot) for slot in part.book}
    if part.book and booked != part.first_book:
        if not part.fail_book or booked != part.book:
            problems.append(f"booked {booked}, the goal wants {part.first_book}"
                            + (f" (or {part.book} once refused)" if part.fail_book else ""))
        elif problem := _fallback_problem(part, booking, evidence):
            problems.append(problem)
    if venue_field(part.declared) is None:
        problems += _trip_problems(part, booking.details, venues)
    return problems


def _fallback_problem(part: DomainGoal, booking: SeenBooking, evidence: Evidence) -> str | None:
    """The fallback counts once the first choice was refused and the user then asked for it, before it was booked."""
    refused = [position for position, r in evidence.refused if r.domain == part.domain and position < booking.position]
    if not refused:
        return f"booked the fallback {part.book} though the first choice {part.first_book} was never refused"
    asked = evidence.user_text(after=refused[0], before=booking.position)
    if not all(said_value(part, slot, value, asked) for slot, value in part.book.items()
               if part.first_book.get(slot) != value):
        return f"booked the fallback {part.book} before the user asked for it"
    return None


def said_value(part: DomainGoal, slot: str, value: object, text: str) -> bool:
    """Is a constraint or booking value of the domain in `text`, as people say it (see wording.says_slot)?"""
    return wording.says_slot(slot, part.declared.slot(slot).kind, value, text)


def _trip_problems(part: DomainGoal, details: dict[str, Any], venues: dict[str, dict[str, Any] | None]) -> list[str]:
    """A trip (taxi): the goal's times and places as whole names; where the goal names no place, its two venues in
    the direction the goal says (or, for a goal that says none, any of the other domains' venues)."""
    problems = []
    ends = dict(zip(("departure", "destination"), part.trip, strict=False))
    others = [str(r["name"]) for d, r in venues.items() if d != part.domain and r and r.get("name")]
    for slot in part.declared.book_required + part.declared.book_optional:
        got, wanted = str(details.get(slot) or ""), part.info.get(slot)
        if wanted is not None:
            timed = part.declared.slot(slot).kind == "time"
            same = got == str(wanted) if timed else wording.same_place(got, str(wanted))
            if not same:
                problems.append(f"{slot} is {got or 'missing'}, the goal wants {wanted}")
        elif slot in ends:
            venue = venues.get(ends[slot])
            name = str(venue.get("name", "")) if venue else ""
            if not name or not wording.same_place(got, name):
                problems.append(f"{slot} {got!r} is not the {ends[slot]} ({name or 'none chosen'})")
        elif slot in part.declared.book_required and others and not any(wording.same_place(got, n) for n in others):
            problems.append(f"{slot} {got!r} is none of the venues {others}")
    return problems


def _extra(goal: Goal, bookings: tuple[SeenBooking, ...]) -> tuple[str, ...]:
    booking_domains = {d.domain for d in goal.domains if d.books}
    return tuple(f"{b.domain} {b.reference}" for b in bookings if b.domain not in booking_domains)


def said_attribute(source: dict[str, Any] | None, attribute: str, text: str) -> bool:
    """Was the venue's value of `attribute` said, and said right? Yes/no values as statements whose sense matches,
    stars, times, prices and durations in the forms people write; unknown values ("?", or a field the record
    lacks, such as a restaurant without a phone) cannot be said and count as given."""
    if source is None:
        return False
    field = FIELD_OF_ATTRIBUTE.get(attribute, attribute)
    value = source.get(field)
    if value is None:
        return field not in source
    value = str(value).lower()
    if value == UNKNOWN:
        return True
    if field in wording.YES_NO_WORDS:
        return wording.says_yes_no(field, value, text)
    if field == "stars":
        return wording.says_stars(value, text)
    if field in ("leaveat", "arriveby"):
        return wording.says_time(value, text)
    if field in ("price", "entrance fee"):
        return wording.says_price(value, text)
    if field == "duration":
        return wording.says_duration(value, text)
    if field == "pricerange" and value == "moderate":
        return wording.whole(value, text) or wording.phrase("moderately priced", text)
    if field == "area" and value == "centre":
        return wording.says_centre(text)
    return wording.whole(value, text)
