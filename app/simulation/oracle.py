"""A goal-reading oracle system: a backend that calls the right APIs because it reads the dialogue's goal.

It proves the goal harness: with the agenda simulator it must meet (nearly) every goal, through the real
agent loop, parser, tools and bookings; its deliberately wrong variants (another venue, another day) must fail.
Each domain of the goal is handled in one turn: Find (the failing constraints first, if the goal has them),
Book (the first choice, then the fallback once refused, then the next matching venue), then one reply that
names the venue and every attribute the goal asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from app.agent.parsing import call_text
from app.backends.base import Delta, ModelRequest, TextDelta, ToolCallDelta
from app.backends.scripted import estimate_tokens
from app.dialogue.goals import DomainGoal
from app.dialogue.transcript import Booked, Found, Refused, ToolAnswered, ToolCalled, Transcript
from app.simulation.checker import FIELD_OF_ATTRIBUTE, venue_field
from domains.values import WEEKDAYS

Mistake = Literal["venue", "day"]
PlannedCall = tuple[str, dict[str, Any]]


class GoalOracle:
    """A Backend for one goal-driven dialogue: it reads `transcript.goal` and the current turn's tool answers.

    `mistake` makes a wrong system for the harness' own tests: "venue" offers and books a venue that breaks
    the constraints (a Find without them, skipping the rows that satisfy them); "day" asks for the next day."""

    def __init__(self, transcript: Transcript, mistake: Mistake | None = None) -> None:
        if transcript.goal is None:
            raise ValueError("the goal oracle needs a goal-driven transcript (transcript.goal is empty)")
        self.transcript = transcript
        self.goal = transcript.goal
        self.mistake = mistake
        self.finished: list[str] = []  # domains handled in earlier turns
        self.venues: dict[str, dict[str, Any]] = {}  # domain -> the venue it offered
        self.label = "goal oracle" + (f" (wrong {mistake})" if mistake else "")

    def count_tokens(self, request: ModelRequest) -> int:
        """An estimate: the oracle has no tokenizer."""
        return estimate_tokens(request)

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """The next planned step, as the request's format expects: a reply, or the calls (native or as text)."""
        native = request.tools is not None  # the tools format; CoALM's text format lists tools in the prompt
        action = self._next()
        if isinstance(action, str):
            yield TextDelta(action if native else f"System: {action}")
        elif native:
            yield from (ToolCallDelta(name, arguments) for name, arguments in action)
        else:
            yield TextDelta("Action: " + ", ".join(call_text(name, arguments) for name, arguments in action))

    def _next(self) -> str | list[PlannedCall]:
        part = next((d for d in self.goal.domains if d.domain not in self.finished), None)
        if part is None:
            return "You are welcome. Is there anything else I can help with?"
        answers = self._answers(part)
        calls = self._find(part, answers) if venue_field(part.declared) else []
        if calls or calls is None:
            return calls or self._finish(part, None, None)
        venue = self._candidates(part, answers)[0] if venue_field(part.declared) else None
        booking = None
        if part.books:
            planned, booking = self._book(part, answers)
            if planned:
                return planned
            venue = self._booked_venue(part, answers, booking) or venue
        return self._finish(part, venue, booking)

    def _answers(self, part: DomainGoal) -> list[tuple[ToolCalled, Any]]:
        """This turn's calls of the domain's APIs, with their results."""
        turn = self.transcript.last_turn()
        if turn is None:
            return []
        apis = {name for name in (part.declared.find_api, part.declared.book_api) if name}
        answered = {e.call_id: e.result for e in turn.events if isinstance(e, ToolAnswered)}
        return [(e, answered.get(e.call_id)) for e in turn.events if isinstance(e, ToolCalled) and e.name in apis]

    def _find(self, part: DomainGoal, answers: list[tuple[ToolCalled, Any]]) -> list[PlannedCall] | None:
        """The Finds still to make ([] when made; None when they found nothing to offer)."""
        if part.declared.find is None:
            return []
        api = part.declared.find.api
        if not any(called.name == api for called, _result in answers):
            wanted = [part.constraints(), {}] if self.mistake == "venue" else [self._shifted(part.constraints())]
            return [(api, dict(c)) for c in ([part.fail_info] if part.fail_info else []) + wanted]
        return [] if self._candidates(part, answers) else None

    def _candidates(self, part: DomainGoal, answers: list[tuple[ToolCalled, Any]]) -> list[dict[str, Any]]:
        found = [result for called, result in answers if isinstance(result, Found)]
        if self.mistake == "venue" and len(found) >= 2:
            right = {row["key"] for row in found[-2].rows}
            return [row for row in found[-1].rows if row["key"] not in right] or found[-1].rows
        if not found:
            return []
        field = venue_field(part.declared)
        if field is None or field not in part.info:
            return list(found[-1].rows)
        # The named venue first: the fuzzy Find also returns look-alikes ("j restaurant" for "midsummer house
        # restaurant"), whose own names can be ambiguous to book.
        return sorted(found[-1].rows, key=lambda row: str(row.get(field, "")) != str(part.info[field]))

    def _book(self, part: DomainGoal, answers: list[tuple[ToolCalled, Any]]
              ) -> tuple[list[PlannedCall], Booked | None]:
        if part.declared.book is None:
            return [], None
        api = part.declared.book.api
        results = [result for called, result in answers if called.name == api]
        if results and isinstance(results[-1], Booked):
            return [], results[-1]
        if results and not isinstance(results[-1], Refused):
            return [], None  # an error: say so rather than loop
        candidates = self._candidates(part, answers) if venue_field(part.declared) else [None]
        plan = [(candidates[0], part.first_book)] + ([(candidates[0], part.book)] if part.fail_book else [])
        if "name" not in part.info:  # both refused: another venue that fits will do
            plan += [(venue, part.book) for venue in candidates[1:]]
        if len(results) >= len(plan):
            return [], None
        venue, slots = plan[len(results)]
        return [(api, {**self._entity(part, venue), **self._shifted(slots)})], None

    def _entity(self, part: DomainGoal, venue: dict[str, Any] | None) -> dict[str, Any]:
        """The arguments naming what to book: the venue's identifying fields, or the trip (taxi)."""
        declared = part.declared
        if venue is not None:
            return {k: venue[k] for k in declared.book_required + declared.book_optional if venue.get(k) is not None}
        places = [str(v.get("name")) for d, v in self.venues.items() if d != part.domain and v.get("name")]
        trip = {k: v for k, v in part.info.items() if k in declared.book_required + declared.book_optional}
        for slot in declared.book_required:
            if slot not in trip and places:
                trip[slot] = places.pop(0)
        return trip

    def _booked_venue(self, part: DomainGoal, answers: list[tuple[ToolCalled, Any]],
                      booking: Booked | None) -> dict[str, Any] | None:
        field = venue_field(part.declared)
        if booking is None or field is None:
            return None
        return next((r for r in self._candidates(part, answers) if r.get(field) == booking.details.get(field)), None)

    def _finish(self, part: DomainGoal, venue: dict[str, Any] | None, booking: Booked | None) -> str:
        self.finished.append(part.domain)
        field = venue_field(part.declared)
        if field and venue is None:
            return f"I am sorry, I found no {part.domain} for {part.constraints()}."
        if venue is not None:
            self.venues[part.domain] = venue
        source = {**(venue or {}), **(booking.details if booking else {})}
        facts = [f"{attribute} is {source.get(FIELD_OF_ATTRIBUTE.get(attribute, attribute))}"
                 for attribute in part.reqt]
        sentence = f"{venue[field]} fits." if venue is not None and field else f"Your {part.domain} is arranged."
        if part.books:
            sentence += f" Booked, reference {booking.reference}." if booking else " I could not book it, sorry."
        return " ".join([sentence, *(f"The {fact}." for fact in facts)])

    def _shifted(self, values: dict[str, Any]) -> dict[str, Any]:
        """`values`, with the day moved on by one in the "day" mistake."""
        if self.mistake != "day" or "day" not in values:
            return dict(values)
        return {**values, "day": WEEKDAYS[(WEEKDAYS.index(values["day"]) + 1) % 7]}
