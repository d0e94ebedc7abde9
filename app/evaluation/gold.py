"""The oracle: each turn, the calls implied by the gold belief state and the human response.

It is an ordinary backend behind the real loop, parser, tools and belief tracker, so its scores are the ceiling
of the pipeline. It knows its test dialogue and reads the transcript it answers in (which turn, what the belief
state is), as a model reads its prompt. Its reply is the human's delexicalised response (turn-level evaluation).

With `corpus`, it replays the human dialogue as it happened, for the goal checker: it books when the human booked
(what the corpus records as booked: a train by its id, a venue by its name), tries a goal's first booking choice
where the human asked for it, and replies with the human's own words, where the booking particulars the human made
up (references, a taxi's car and phone) are the ones this replay's bookings got."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.agent.parsing import call_text
from app.backends.base import Delta, ModelRequest
from app.backends.scripted import ScriptedBackend
from app.dialogue.transcript import Booked, ToolAnswered, ToolCalled, Transcript
from app.evaluation.data import GoldTurn, LabelVersion, TestDialogue
from app.evaluation.labels import app_key, canonical, domain_of
from domains import all_domains
from domains import domain as find_domain

# What a booked corpus entry names the booked thing by, as the booking API's argument.
ENTITY_FIELDS = {"trainID": "trainid", "name": "name"}
LATER = "\x00"  # stands for the lexicalised reply until the turn's bookings are made
Calls = list[tuple[str, dict[str, Any]]]


class GoldBackend(ScriptedBackend):
    """A scripted model that writes its script at the start of each turn from the gold annotations."""

    def __init__(self, test: TestDialogue, labels: LabelVersion, format_name: str, transcript: Transcript,
                 corpus: bool = False) -> None:
        super().__init__([], piece_chars=10_000)
        self.label = "gold"
        self.corpus = corpus
        self.writes_placeholders = not corpus  # its replies are the human's delexicalised text ("[name] is booked")
        self.test, self.labels, self.format_name, self.transcript = test, labels, format_name, transcript
        self.turn: int | None = None

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """At a new turn, write the turn's script from its gold state and response; then replay it."""
        turn = self.transcript.last_turn()
        if turn is not None and turn.number != self.turn and turn.number < len(self.test.turns):
            self.turn, gold = turn.number, self.test.turns[turn.number]
            belief = self.transcript.belief(at=turn.events[0].id)  # as the turn began
            entities = {d.name: booked_entity(self.test, turn.number, d.name) for d in all_domains()}
            bookings = self._corpus_bookings(turn.number) if self.corpus else None
            response = LATER if self.corpus else gold.system_delex
            self.outputs[:] = gold_outputs(gold.states[self.labels], belief, response, self.format_name, entities,
                                           bookings)
        if self.outputs and isinstance(self.outputs[0], str) and LATER in self.outputs[0]:  # the reply's step:
            made = [e.result for e in self.transcript.events  # this turn's bookings are made by now
                    if isinstance(e, ToolAnswered) and isinstance(e.result, Booked)]
            self.outputs[0] = self.outputs[0].replace(LATER, lexicalise(self.test.turns[self.turn or 0], made))
        return super().stream(request)

    def _corpus_bookings(self, number: int) -> Calls:
        """The bookings the human made at this turn, and a goal's first choice where the human asked for it."""
        gold, before = self.test.turns[number], self.test.turns[number - 1].bookings if number else {}
        # What the labels of this version lack (a taxi's departure, now and then), the other version may have.
        state = {app_key(k): v for version in ("2.1", self.labels) for k, v in gold.states[version].items()}
        calls: Calls = []
        for domain in all_domains():
            record = gold.bookings.get(domain.name)
            if domain.book_api is None:
                continue
            slots = {s.name: v for s in domain.book_slots
                     if (v := state.get(f"{domain.name}-book{s.name}") or (record or {}).get(s.name)) is not None}
            entity = booked_entity(self.test, number, domain.name)
            informable = {s: state[f"{domain.name}-{s}"] for s in domain.book_required + domain.book_optional
                          if f"{domain.name}-{s}" in state and state[f"{domain.name}-{s}"] != "dontcare"
                          and not (s == "leaveat" and "trainid" in entity)}  # a train's time is a wish, not its id
            booked_now = record and len(record["booked"]) > len(before.get(domain.name, {}).get("booked", []))
            if booked_now or self._first_choice_asked(domain.name, slots):
                calls.append((domain.book_api, {**informable, **entity, **slots}))
        return calls

    def _first_choice_asked(self, domain: str, slots: dict[str, Any]) -> bool:
        """Whether the state asks for the goal's first booking choice (one it expects refused), not yet tried."""
        part = self.transcript.goal.domain(domain) if self.transcript.goal else None
        if part is None or not part.fail_book:
            return False
        try:
            asked = {k: find_domain(domain).slot(k).normalise(v) for k, v in slots.items()}
        except ValueError:
            return False
        tried = any(isinstance(e, ToolCalled) and e.name == find_domain(domain).book_api
                    and all(str(e.arguments.get(k)) == str(v) for k, v in part.fail_book.items())
                    for e in self.transcript.events)
        return not tried and all(asked.get(k) == v for k, v in part.first_book.items())


def booked_entity(test: TestDialogue, number: int, domain: str) -> dict[str, str]:
    """What the human booked in `domain` from this turn on (its train id, its name), as booking arguments."""
    for turn in test.turns[number:]:
        if record := turn.bookings.get(domain):
            return {ENTITY_FIELDS[k]: str(v) for k, v in record["booked"][-1].items() if k in ENTITY_FIELDS}
    return {}


def lexicalise(gold: GoldTurn, bookings: list[Booked]) -> str:
    """The human response, its references and taxi car and phone replaced by the replay's own bookings'."""
    words = gold.system.split(" ")
    latest = {b.domain: b for b in bookings}
    newest = bookings[-1] if bookings else None
    for act, slot, start, end in sorted(gold.spans, key=lambda s: -s[2]):
        domain = act.split("-")[0].lower()
        booking = latest.get(domain) or (newest if domain == "booking" else None)
        value = None
        if booking is not None and slot == "Ref":
            value = booking.reference
        elif booking is not None and domain == "taxi" and slot in ("Car", "Phone"):
            value = str(booking.details.get("car" if slot == "Car" else "phone", ""))
        if value and 0 <= start <= end < len(words):
            words[start:end + 1] = [value]
    return " ".join(words)


def gold_outputs(gold_state: dict[str, str], belief: dict[str, str], response: str, format_name: str,
                 entities: dict[str, dict[str, str]] | None = None, bookings: Calls | None = None
                 ) -> list[str | dict[str, Any]]:
    """Model outputs for one turn: the calls that move `belief` to `gold_state` (label names), then the reply.
    A booking names what the human booked where the state cannot (`entities`: a train's id); `bookings`,
    when given, are the turn's bookings instead of those the state's changes imply."""
    target = {app_key(k): v for k, v in gold_state.items()}
    changed = {domain_of(k) for k, v in target.items() if canonical(k, v) != canonical(k, belief.get(k, ""))}
    calls = []
    for domain in all_domains():
        if domain.name not in changed:
            continue
        informable = {s.name: target[key] for s in domain.slots if (key := f"{domain.name}-{s.name}") in target}
        booking = {s.name: target[key] for s in domain.book_slots if (key := f"{domain.name}-book{s.name}") in target}
        if domain.find_api and informable:
            calls.append((domain.find_api, informable))
        if bookings is None and domain.book_api and (booking or not domain.find_api):
            wanted = domain.book_required + domain.book_optional
            # Only what the belief state does not hold (a train's id): a name the state lacks would change the JGA.
            named = {k: v for k, v in (entities or {}).get(domain.name, {}).items()
                     if k not in informable and not domain.slot(k).belief}
            given = {k: v for k, v in informable.items() if k in wanted and v != "dontcare"}  # no booking of "any"
            calls.append((domain.book_api, {**given, **named, **booking}))
    calls += bookings or []
    if format_name == "tools":
        return ([{"tool_calls": [{"name": n, "arguments": json.dumps(a)} for n, a in calls]}] if calls else []) \
            + [response]
    action = ", ".join(call_text(name, arguments) for name, arguments in calls)
    outputs: list[str | dict[str, Any]] = [f"Action: {action}"] if calls else []
    return [*outputs, f"System: {response}"]
