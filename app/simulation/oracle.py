"""A goal-reading oracle system: a backend that calls the right APIs because it reads the dialogue's goal.

A plumbing check, not a ceiling: it reads the goal's hidden values (in 334 of the 1,000 test goals it calls with
values the user never said), so its score proves that the harness (agent loop, parser, tools, bookings, checker)
can carry a dialogue to its goal, not what a system could do. The honest ceiling is the rule-based system
(`app.simulation.rules`), which knows only what the user said and what the tools returned.

It follows the user from domain to domain (reading each message's domain as the rule-based system reads it), and
for the domain at hand: Find (the goal's constraints), Book the first choice (the fallback only once the first was
refused and the user then asked for it; another matching venue when both are refused), and a reply that names the
venue, the booking and every attribute the goal asks for. Its deliberately wrong variants (another venue, another
day) must fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from app.agent.parsing import call_text
from app.backends.base import Delta, ModelRequest, TextDelta, ToolCallDelta
from app.backends.scripted import estimate_tokens
from app.dialogue.goals import DomainGoal
from app.dialogue.transcript import Booked, Found, Refused, ToolAnswered, ToolCalled, Transcript, UserSaid
from app.simulation.checker import FIELD_OF_ATTRIBUTE, said_value, venue_field
from app.simulation.rules.understanding import KEYWORDS_ONLY, Ontology, understand
from domains.values import WEEKDAYS

Mistake = Literal["venue", "day"]
PlannedCall = tuple[str, dict[str, Any]]


class GoalOracle:
    """A Backend for one goal-driven dialogue: it reads `transcript.goal` and the dialogue's tool answers.

    `mistake` makes a wrong system for the harness' own tests: "venue" offers and books a venue that breaks
    the constraints (a Find without them, skipping the rows that satisfy them); "day" asks for the next day."""

    def __init__(self, transcript: Transcript, mistake: Mistake | None = None,
                 ontology: Ontology = KEYWORDS_ONLY) -> None:
        if transcript.goal is None:
            raise ValueError("the goal oracle needs a goal-driven transcript (transcript.goal is empty)")
        self.transcript = transcript
        self.goal = transcript.goal
        self.mistake = mistake
        self.ontology = ontology
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
        part = self._part()
        if part is None:
            return "You are welcome. Is there anything else I can help with?"
        answers = self._answers(part)
        venue = None
        if venue_field(part.declared):
            found = [result for _called, result in answers if isinstance(result, Found)]
            if not found:
                return self._find(part)
            candidates = self._candidates(part, answers)
            if not candidates:
                return f"I am sorry, I found no {part.domain} for {part.constraints()}."
            venue = candidates[0]
        booking, refused = None, False
        if part.books:
            planned, booking, refused = self._book(part, answers)
            if planned:
                return planned
            if booking is not None and venue_field(part.declared):
                venue = self._booked_venue(part, answers, booking) or venue
        return self._say(part, venue, booking, refused)

    def _part(self) -> DomainGoal | None:
        """The goal domain the user is talking about: the one their latest messages name, else the first."""
        active = self.goal.domains[0].domain if self.goal.domains else None
        for event in self.transcript.events:
            if isinstance(event, UserSaid):
                named = understand(event.text, self.ontology, active).domain
                active = named if named and self.goal.domain(named) else active
        return self.goal.domain(active) if active else None

    def _answers(self, part: DomainGoal) -> list[tuple[ToolCalled, Any]]:
        """The dialogue's calls of the domain's APIs, with their results."""
        apis = {name for name in (part.declared.find_api, part.declared.book_api) if name}
        answered = {e.call_id: e.result for e in self.transcript.events if isinstance(e, ToolAnswered)}
        return [(e, answered.get(e.call_id)) for e in self.transcript.events
                if isinstance(e, ToolCalled) and e.name in apis]

    def _find(self, part: DomainGoal) -> list[PlannedCall]:
        api = str(part.declared.find_api)
        wanted = [part.constraints(), {}] if self.mistake == "venue" else [self._shifted(part.constraints())]
        return [(api, dict(c)) for c in wanted]

    def _candidates(self, part: DomainGoal, answers: list[tuple[ToolCalled, Any]]) -> list[dict[str, Any]]:
        found = [result for called, result in answers if isinstance(result, Found)]
        if self.mistake == "venue" and len(found) >= 2:
            right = {row["key"] for row in found[-2].rows}
            return [row for row in found[-1].rows if row["key"] not in right] or found[-1].rows
        field = venue_field(part.declared)
        if not found or field is None:
            return list(found[-1].rows) if found else []
        # The goal's exact values first: the fuzzy Find also returns look-alikes ("european" for "modern european",
        # "pizza express" for "pizza express fen ditton").
        exact = {k: str(v).lower() for k, v in part.constraints().items() if part.declared.slot(k).match == "fuzzy"}
        return sorted(found[-1].rows, key=lambda row: sum(str(row.get(k, "")).lower() != v for k, v in exact.items()))

    def _book(self, part: DomainGoal, answers: list[tuple[ToolCalled, Any]]
              ) -> tuple[list[PlannedCall], Booked | None, bool]:
        """The booking call still to make, the booking made, and whether the latest attempt was refused."""
        if part.declared.book is None:
            return [], None, False
        api = part.declared.book.api
        attempts = [(called, result) for called, result in answers if called.name == api]
        if attempts and isinstance(attempts[-1][1], Booked):
            return [], attempts[-1][1], False
        if attempts and not isinstance(attempts[-1][1], Refused):
            return [], None, False  # an error: say so rather than loop
        candidates = self._candidates(part, answers) if venue_field(part.declared) else [None]
        plan = [(candidates[0] if candidates else None, part.first_book)]
        if part.fail_book:
            plan.append((plan[0][0], part.book))
        if "name" not in part.info:  # both refused: another venue that fits will do
            plan += [(venue, part.book) for venue in candidates[1:]]
        if len(attempts) >= len(plan):
            return [], None, True
        if attempts and not self._asked_again(part, attempts[-1][0]):
            return [], None, True  # refused: say so, and wait for the user to ask for something else
        venue, slots = plan[len(attempts)]
        return [(api, {**self._entity(part, venue), **self._shifted(slots)})], None, False

    def _asked_again(self, part: DomainGoal, refused_call: ToolCalled) -> bool:
        """Whether the user has asked for the fallback since the refused call."""
        position = self.transcript.events.index(refused_call)
        said = "\n".join(e.text for e in self.transcript.events[position:] if isinstance(e, UserSaid))
        changed = {k: v for k, v in part.book.items() if part.first_book.get(k) != v}
        return bool(said) and all(said_value(part, slot, value, said) for slot, value in changed.items())

    def _entity(self, part: DomainGoal, venue: dict[str, Any] | None) -> dict[str, Any]:
        """The arguments naming what to book: the venue's identifying fields, or the trip (taxi)."""
        declared = part.declared
        if venue is not None:
            return {k: venue[k] for k in declared.book_required + declared.book_optional if venue.get(k) is not None}
        trip = {k: v for k, v in part.info.items() if k in declared.book_required + declared.book_optional}
        for slot, domain in zip(("departure", "destination"), part.trip, strict=False):
            if domain in self.venues and self.venues[domain].get("name"):
                trip.setdefault(slot, str(self.venues[domain]["name"]))
        return trip

    def _booked_venue(self, part: DomainGoal, answers: list[tuple[ToolCalled, Any]],
                      booking: Booked) -> dict[str, Any] | None:
        field = str(venue_field(part.declared))
        return next((r for r in self._candidates(part, answers) if r.get(field) == booking.details.get(field)), None)

    def _say(self, part: DomainGoal, venue: dict[str, Any] | None, booking: Booked | None, refused: bool) -> str:
        field = venue_field(part.declared)
        if venue is not None:
            self.venues[part.domain] = venue
        source = {**(venue or {}), **(booking.details if booking else {})}
        facts = [_fact(attribute, source.get(FIELD_OF_ATTRIBUTE.get(attribute, attribute))) for attribute in part.reqt]
        sentence = f"I recommend {venue[field]}." if venue is not None and field else \
            f"Your {part.domain} is arranged."
        if part.books:
            sentence += f" Booked, reference {booking.reference}." if booking else \
                " I am sorry, it is fully booked then; would another time suit you?" if refused else ""
        return " ".join([sentence, *facts])

    def _shifted(self, values: dict[str, Any]) -> dict[str, Any]:
        """`values`, with the day moved on by one in the "day" mistake."""
        if self.mistake != "day" or "day" not in values:
            return dict(values)
        return {**values, "day": WEEKDAYS[(WEEKDAYS.index(values["day"]) + 1) % 7]}


def _fact(attribute: str, value: Any) -> str:
    """One attribute as a sentence; yes/no ones as what the venue has."""
    if attribute in ("internet", "parking"):
        thing = "free wifi" if attribute == "internet" else "free parking"
        return f"It has {thing}." if value == "yes" else f"It does not have {thing}."
    return f"The {attribute} is {value}."
