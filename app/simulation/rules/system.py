"""A rule-based system under test: an ordinary Backend that answers from what the user said and what its tools
returned, never from the goal (the honest ceiling; the goal-reading oracle is only a plumbing check).

Each turn it reads the user's messages (`understanding`, `state`), then, in as many model steps as it needs:
Find with the user's constraints when they changed, keeping only the rows that match them exactly (a search for
"european" also returns "modern european" restaurants); offer one venue, or say that nothing matches; ask for
what a booking still lacks; Book once the user asked for it, and on a refusal say what the venue has free; and
answer what the user asked to be told. It writes its steps in the request's prompt format (CoALM's text, or
native tool calls).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.agent.parsing import call_text
from app.backends.base import Delta, ModelRequest, TextDelta, ToolCallDelta
from app.backends.scripted import estimate_tokens
from app.dialogue.transcript import Booked, Found, Refused, ToolError, Transcript
from app.simulation.rules import replies
from app.simulation.rules.state import Belief, Reading, called_this_turn, last_call, read
from app.simulation.rules.understanding import Ontology
from app.tools.toolbox import Toolbox
from domains import domain as find_domain
from domains.values import DONTCARE

PlannedCall = tuple[str, dict[str, Any]]
TRAIN_NEEDS = ("departure", "destination", "day")
ASK_WHEN_MORE_THAN = 8  # matches above which the system asks for a preference before offering one
PREFERENCES = {"hotel": ("area", "pricerange"), "restaurant": ("food", "area"), "attraction": ("type", "area")}


class RulesBackend:
    """A Backend for one dialogue: reads `transcript` (what the user said, what the tools answered) each step."""

    label = "rules"

    def __init__(self, transcript: Transcript, ontology: Ontology) -> None:
        self.transcript = transcript
        self.ontology = ontology
        self.asked: dict[int, list[str]] = {}  # turn -> the slots the system asked about in its reply
        self.asked_in: dict[str, set[str]] = {}  # domain -> every slot asked about
        self.offered: dict[str, dict[str, Any]] = {}  # domain -> the venue it offered

    @classmethod
    def factory(cls, toolbox: Toolbox):  # noqa: ANN206 - a backend_for for app.assembly.assemble
        """`backend_for` for `assemble`: a RulesBackend per dialogue, sharing one ontology of the database."""
        ontology = Ontology.of(toolbox)
        return lambda transcript: cls(transcript, ontology)

    def count_tokens(self, request: ModelRequest) -> int:
        """An estimate: the rules have no tokenizer."""
        return estimate_tokens(request)

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """The next step, as the request's format expects: a reply, or the calls (native or as text)."""
        action = self._next()
        if isinstance(action, str):
            yield TextDelta(action if request.tools is not None else f"System: {action}")
        elif request.tools is not None:
            yield from (ToolCallDelta(name, arguments) for name, arguments in action)
        else:
            yield TextDelta("Action: " + ", ".join(call_text(name, arguments) for name, arguments in action))

    # -- the policy -------------------------------------------------------------------------------------------
    def _next(self) -> str | list[PlannedCall]:
        reading = read(self.transcript, self.ontology, self.asked)
        latest, domain = reading.latest, reading.domain
        if domain is None or (latest.closing and not latest.values and not latest.requests and not latest.book):
            return replies.goodbye() if latest.closing else replies.greeting()
        belief = reading.beliefs[domain]
        if domain == "taxi":
            return self._taxi(belief, reading)
        return self._venue(domain, belief, reading)

    def _venue(self, domain: str, belief: Belief, reading: Reading) -> str | list[PlannedCall]:
        declared = find_domain(domain)
        values = dict(belief.values)
        if domain == "train" and (missing := [s for s in TRAIN_NEEDS if s not in values]):
            return self._ask(domain, missing)
        if domain == "train" and not {"leaveat", "arriveby"} & set(values):
            return self._ask(domain, ["leaveat"])
        if not values:
            return self._ask(domain, list(PREFERENCES.get(domain, ("area",)))[:1])
        find = last_call(self.transcript, declared.find_api)
        stale = find is None or find.called.arguments != values
        if stale and not called_this_turn(self.transcript, declared.find_api):
            return [(str(declared.find_api), values)]
        result = find.result if find is not None else None
        if not isinstance(result, Found):
            return replies.trouble(result)
        rows = exact_rows(result.rows, values)
        if not rows:
            self.offered.pop(domain, None)
            return replies.no_match(domain, values)
        unasked = [s for s in PREFERENCES.get(domain, ()) if s not in values and s not in self._asked_before(domain)]
        if result.count > ASK_WHEN_MORE_THAN and unasked and domain not in self.offered and not belief.wants_booking:
            return self._ask(domain, unasked[:1], prefix=replies.how_many(domain, result.count, values))
        previous = self.offered.get(domain)
        venue = previous if previous and previous["key"] in {r["key"] for r in rows} else rows[0]
        searched = bool(called_this_turn(self.transcript, declared.find_api))  # the user changed what they want
        news = replies.offer(domain, venue) if venue is not previous or searched else ""
        self.offered[domain] = venue
        return self._book_or_tell(domain, venue, belief, reading, news)

    def _book_or_tell(self, domain: str, venue: dict[str, Any], belief: Belief, reading: Reading,
                      news: str) -> str | list[PlannedCall]:
        declared = find_domain(domain)
        booking: Booked | None = None
        refusal = ""
        if belief.wants_booking and declared.book is not None:
            needed = [s.name for s in declared.book_slots if s.name not in belief.book]
            if needed:
                return self._ask(domain, needed, prefix=news)
            identity = declared.book_required + declared.book_optional
            request = {**{k: venue[k] for k in identity if venue.get(k) is not None}, **belief.book}
            made = last_call(self.transcript, declared.book_api)
            stale = made is None or made.called.arguments != request
            if stale and not called_this_turn(self.transcript, declared.book_api):
                return [(str(declared.book_api), request)]
            outcome = made.result if made is not None else None
            if isinstance(outcome, Booked):
                booking = outcome
            elif isinstance(outcome, Refused):
                refusal = replies.refused(domain, venue, outcome)
            else:
                return replies.trouble(outcome)
        facts = replies.facts(domain, venue, booking, reading.latest.requests)
        text = " ".join(t for t in (news, refusal, replies.booked(booking) if booking else "", facts) if t)
        return text or replies.anything_else(domain, venue, declared.book is not None and not booking)

    def _taxi(self, belief: Belief, reading: Reading) -> str | list[PlannedCall]:
        trip = {k: self._place(v) for k, v in belief.values.items() if v != DONTCARE}
        missing = [s for s in ("departure", "destination") if s not in trip]
        if not {"leaveat", "arriveby"} & set(trip):
            missing.append("leaveat")
        if missing:
            return self._ask("taxi", missing)
        made = last_call(self.transcript, "BookTaxi")
        stale = made is None or made.called.arguments != trip
        if stale and not called_this_turn(self.transcript, "BookTaxi"):
            return [("BookTaxi", trip)]
        outcome = made.result if made is not None else None
        if isinstance(outcome, Booked):
            return replies.taxi_booked(outcome, reading.latest.requests)
        return replies.taxi_trouble(outcome)

    def _place(self, value: Any) -> Any:
        """A trip's place: "@hotel" is the hotel this dialogue offered (or booked)."""
        if isinstance(value, str) and value.startswith("@"):
            venue = self.offered.get(value[1:])
            return str(venue["name"]) if venue and venue.get("name") else value[1:]
        return value

    def _ask(self, domain: str, slots: list[str], prefix: str = "") -> str:
        turn = self.transcript.last_turn()
        self.asked[turn.number if turn is not None else 0] = slots
        self.asked_in.setdefault(domain, set()).update(slots)
        return " ".join(t for t in (prefix, replies.question(domain, slots)) if t)

    def _asked_before(self, domain: str) -> set[str]:
        return self.asked_in.get(domain, set())


def exact_rows(rows: list[dict[str, Any]], values: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows whose values are the user's exactly, for the slots the Find matches loosely (foods, stations):
    a name too, unless no row has it exactly (then the user's spelling was off, and the loose matches stand)."""
    kept = [r for r in rows if all(str(r.get(k)).lower() in (str(v).lower(), "?") for k, v in values.items()
                                   if k in ("food", "departure", "destination") and v != DONTCARE)]
    named = [r for r in kept if "name" not in values or str(r.get("name")).lower() == str(values["name"]).lower()]
    return named or kept if "name" in values else kept


__all__ = ["RulesBackend", "ToolError", "exact_rows"]
