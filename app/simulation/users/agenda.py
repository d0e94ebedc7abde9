"""An agenda-based user simulator that talks like a MultiWOZ user: it pursues a goal from its structure, with no
language model, in the words people use (never a slot name).

Per goal domain, in the corpus dialogue's order: it reveals its constraints a few at a time (the goal's first
choice, if the message gives one), answers what the agent asks from the goal ("I don't mind" where the goal says
nothing), switches to the goal's alternative only when a reply says nothing matched, asks to book once a venue is
recommended (the fallback only after a reply says the first choice is full), asks for the attributes it wants, and
moves on when it has been told them, never to come back. It reads only what the agent said (see `reading`), and
ends the dialogue once every domain is done (or after `patience` turns on one without progress).

A seed varies the order of the constraints, how many it says per turn, whether it asks for the attributes before
or after booking, and the wording: `AgendaUser(goal, seed=1)` and `seed=2` talk differently; one seed always talks
the same way, so a run can be reproduced.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from app.dialogue.goals import DomainGoal, Goal
from app.dialogue.transcript import Transcript, UserSaid
from app.simulation.evidence import venue_field
from app.simulation.users import phrasing
from app.simulation.users.reading import Screen, asked

PATIENCE = 3  # turns spent on one domain without progress, before the user moves on
TIMES = {"leaveat", "arriveby"}  # "when would you like to leave or arrive?" is answered by either
OPENINGS = ("I'm looking for {}", "I need {}", "Can you help me find {}?", "Hi, I want to find {}", "I'd like {}")
MORE = ("I'd like one {}.", "Ideally one {}.", "Could it be one {}?", "I'd prefer one {}.")
SWITCH = ("If there is none like that, how about one {} instead?", "Then how about one {}?",
          "Okay, what about one {} instead?")
BOOK = ("Please book it {}.", "Could you book it {}?", "Yes, I'd like to book it {}.", "Can you make a booking {}?")
FALLBACK = ("Could you try {} instead?", "How about {}, then?", "Then can you try {}?")
ASK = ("Could you give me {}?", "Can you tell me {}?", "What is {}?", "I'd also like to know {}.")
MOVING_ON = ("Thank you. ", "Great, thanks. ", "Thanks. ", "Perfect. ")
FAREWELL = ("That is all I need. Goodbye!", "That's everything. Bye!", "That is all for today, goodbye.")


@dataclass
class _Domain:
    """How far the user is with one domain."""

    chunks: list[list[str]]  # constraint slots still to say, in the seeded order and grouping
    order: tuple[str, ...]  # "book" and "ask" in the seeded order
    phase: str = "find"
    turns: int = 0
    stalls: int = 0
    switched: bool = False  # the goal's alternative replaced its failed first choice
    fallback: bool = False  # the fallback booking was asked for after a refusal
    stated_at: int = -1  # where the user last stated a constraint: a venue counts once recommended after it
    book_said: set[str] = field(default_factory=set)
    booking_asked: bool = False
    last_asked: list[str] = field(default_factory=list)  # the attributes asked for last time


@dataclass
class AgendaUser:
    """A UserSide for one goal; `seed` varies what it says and when (see the module's docstring)."""

    goal: Goal
    seed: int = 0
    patience: int = PATIENCE
    current: int = 0  # index of the domain being pursued
    ended: bool = False
    states: dict[str, _Domain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.random = random.Random(f"{self.seed}:{self.goal.id}")  # noqa: S311 - variation, not secrecy

    def next(self, transcript: Transcript) -> UserSaid | None:
        """The next message: for the domain being pursued, or with thanks for the next one once it is done; a
        farewell after the last; None after that."""
        if self.ended:
            return None
        screen, prefix = Screen.of(transcript), ""
        while self.current < len(self.goal.domains):
            part = self.goal.domains[self.current]
            state = self.states.setdefault(part.domain, self._plan(part))
            text = self._act(part, state, screen, len(transcript.events))
            if text is not None:
                state.turns += 1
                if prefix and text.startswith("Hi, "):  # a greeting opens the dialogue, not its next domain
                    text = text[4].upper() + text[5:]
                return transcript.user_said(prefix + text)
            self.current += 1
            prefix = self.random.choice(MOVING_ON)
        self.ended = True
        return transcript.user_said(prefix + self.random.choice(FAREWELL))

    def _plan(self, part: DomainGoal) -> _Domain:
        slots = [s for s in (part.fail_info or part.info) if venue_field(part.declared)]
        self.random.shuffle(slots)
        chunks: list[list[str]] = []
        while slots:
            size = self.random.choice((1, 1, 2, 2, 3)) if not chunks else self.random.choice((1, 1, 2))
            chunks.append(slots[:size])
            slots = slots[size:]
        order = ("book", "ask") if self.random.random() < 0.7 else ("ask", "book")
        return _Domain(chunks, tuple(p for p in order if p != "book" or part.books))

    def _act(self, part: DomainGoal, state: _Domain, screen: Screen, here: int) -> str | None:
        """What to say next about this domain; None once it is done (or patience ran out)."""
        if state.stalls >= self.patience:
            return None
        if not venue_field(part.declared):
            return self._trip(part, state, screen)
        if state.turns == 0:
            state.stated_at = here
            return self._opening(part, state)
        if state.phase == "find":
            text = self._find(part, state, screen, here)
            if text is not None:
                return text
            state.phase, state.stalls = state.order[0] if state.order else "done", 0
        while state.phase != "done":
            text = self._book(part, state, screen) if state.phase == "book" else self._ask(part, state, screen)
            if text is not None:
                return text
            rest = state.order[state.order.index(state.phase) + 1:]
            state.phase, state.stalls = rest[0] if rest else "done", 0
        return None

    # -- finding --------------------------------------------------------------------------------------------
    def _values(self, part: DomainGoal, state: _Domain) -> dict[str, Any]:
        return part.info if state.switched or not part.fail_info else part.fail_info

    def _opening(self, part: DomainGoal, state: _Domain) -> str:
        values = self._values(part, state)
        chunk = state.chunks.pop(0) if state.chunks else []
        noun = phrasing.PLACES[part.domain][self.random.randrange(3)]
        if "type" in chunk and part.domain in ("hotel", "attraction"):
            noun, chunk = phrasing.thing(part.domain, str(values["type"])), [s for s in chunk if s != "type"]
        if "name" in chunk:
            noun = f"{'an' if part.domain[0] in 'aeiou' else 'a'} {part.domain}"
        said = phrasing.listed([phrasing.constraint(part.domain, s, values[s], self.random) for s in chunk])
        opening = self.random.choice(OPENINGS).format(f"{noun} {said}".strip())
        return opening if opening.endswith("?") else f"{opening}."

    def _find(self, part: DomainGoal, state: _Domain, screen: Screen, here: int) -> str | None:
        values = self._values(part, state)
        questions = [s for s in asked(screen.last_reply) if s in {*(s.name for s in part.declared.slots)}]
        if screen.no_match() and part.fail_info and not state.switched:
            state.switched, state.stated_at = True, here
            changed = {k: v for k, v in part.info.items() if part.fail_info.get(k) != v}
            said = phrasing.listed([phrasing.constraint(part.domain, k, v, self.random) for k, v in changed.items()])
            return self.random.choice(SWITCH).format(said)
        if questions or state.chunks:
            state.stated_at = here
            wanted = [s for s in questions if s in values] or (state.chunks[0] if not questions else [])
            state.chunks = [[s for s in chunk if s not in wanted] for chunk in state.chunks]
            state.chunks = [chunk for chunk in state.chunks if chunk]
            unknown = [s for s in questions if s not in values and not (s in TIMES and TIMES & set(values))]
            text = " ".join(self.random.choice(MORE).format(phrasing.constraint(part.domain, s, values[s], self.random))
                            for s in wanted)
            return " ".join([text, *(_no_preference(s, self.random) for s in unknown)]).strip()
        if screen.recommended(part, state.stated_at) is not None:
            return None
        ask = "Could you recommend one?" if not screen.no_match() else \
            f"Could you look again for one {self._all(part, values)}?"
        booking = {k: v for k, v in self._booking_values(part, state).items() if k not in state.book_said}
        if booking:  # stuck before booking: say what it is for, so that the whole goal is told all the same
            state.book_said |= set(booking)
            ask = f"I need it {phrasing.booking(booking, self.random)}. {ask}"
        return self._stall(state, ask)

    def _all(self, part: DomainGoal, values: dict[str, Any]) -> str:
        return phrasing.listed([phrasing.constraint(part.domain, k, v, self.random) for k, v in values.items()])

    # -- booking and asking ---------------------------------------------------------------------------------
    def _booking_values(self, part: DomainGoal, state: _Domain) -> dict[str, Any]:
        return part.book if state.fallback else part.first_book

    def _book(self, part: DomainGoal, state: _Domain, screen: Screen) -> str | None:
        values = self._booking_values(part, state)
        if screen.booked(part) is not None:
            left = {k: v for k, v in values.items() if k not in state.book_said}
            state.book_said |= set(left)
            return f"That is {phrasing.booking(left, self.random)}, right?" if left else None
        if state.booking_asked and screen.refused() and part.fail_book and not state.fallback:
            state.fallback = True
            changed = {k: v for k, v in part.book.items() if part.first_book.get(k) != v}
            state.book_said |= set(changed)
            return self.random.choice(FALLBACK).format(phrasing.booking(changed, self.random))
        questions = [s for s in asked(screen.last_reply) if s in values] if state.booking_asked else []
        unsaid = [s for s in values if s not in state.book_said]
        if questions or unsaid:
            size = len(unsaid) if self.random.random() < 0.6 else max(1, len(unsaid) - 1)
            chunk = questions or unsaid[:size]
            state.book_said |= set(chunk)
            state.booking_asked = True
            told = phrasing.booking({k: values[k] for k in chunk}, self.random)
            return self.random.choice(BOOK).format(told) if not questions else f"{told[0].upper()}{told[1:]}, please."
        state.booking_asked = True
        return self._stall(state, "Could you book it, please?")

    def _ask(self, part: DomainGoal, state: _Domain, screen: Screen) -> str | None:
        missing = screen.untold(part, part.reqt, state.stated_at)
        if not missing:
            return None
        return self._asking(state, missing, len(missing) if self.random.random() < 0.7 else 1)

    def _asking(self, state: _Domain, missing: list[str], size: int) -> str:
        if missing == state.last_asked:  # asked already and still not told
            state.stalls += 1
        state.last_asked = missing
        question = self.random.choice(ASK)
        asked = phrasing.asking(missing[:size], self.random)
        if question.startswith("What is") and phrasing.is_clause(asked):  # not "What is whether there is parking?"
            question = "Can you tell me {}?"
        return question.format(asked)

    # -- a trip (taxi) ----------------------------------------------------------------------------------------
    def _trip(self, part: DomainGoal, state: _Domain, screen: Screen) -> str | None:
        booked = screen.booked(part)
        trip = self._trip_values(part, screen)
        if booked is not None:
            unsaid = [s for s in trip if s not in state.book_said and s in part.info]
            if unsaid:  # booked before the user said everything: say it, so that nothing is left to chance
                state.book_said |= set(unsaid)
                return f"That is {' and '.join(self._trip_words(trip, unsaid))}, right?"
            missing = screen.untold(part, part.reqt, -1)
            return self._asking(state, missing, len(missing)) if missing else None
        said = state.book_said
        questions = [s for s in asked(screen.last_reply) if s in trip] if state.turns else []
        unsaid = [s for s in trip if s not in said]
        chunk = questions or (unsaid if state.turns or self.random.random() < 0.5 else unsaid[:2])
        if not chunk:
            return self._stall(state, "Could you book the taxi, please?")
        said |= set(chunk)
        parts = self._trip_words(trip, chunk)
        if state.turns == 0:
            noun = phrasing.PLACES["taxi"][self.random.randrange(3)]
            return f"I also need {noun} {' '.join(parts)}." if self.current else f"I need {noun} {' '.join(parts)}."
        return f"I'd like it {' and '.join(parts)}."

    def _trip_words(self, trip: dict[str, Any], slots: list[str]) -> list[str]:
        return [phrasing.trip_part(s, trip[s], self.random) if s in ("departure", "destination")
                else phrasing.taxi_time(s, trip[s], self.random) for s in slots]

    def _trip_values(self, part: DomainGoal, screen: Screen) -> dict[str, Any]:
        """The trip: the goal's places and times; where it names no place, its two venues in its direction (by the
        name the agent gave them, or as "the hotel" when none was given)."""
        trip = {k: v for k, v in part.info.items() if k in ("departure", "destination", "leaveat", "arriveby")}
        for slot, domain in zip(("departure", "destination"), part.trip, strict=False):
            other = self.goal.domain(domain)
            venue = None if other is None else screen.booked(other) or screen.recommended(other, -1)
            trip.setdefault(slot, str(venue["name"]) if venue and venue.get("name") else f"the {domain}")
        order = [s for s in ("departure", "destination", "leaveat", "arriveby") if s in trip]
        return {s: trip[s] for s in order}

    def _stall(self, state: _Domain, text: str) -> str:
        state.stalls += 1
        return text


def _no_preference(slot: str, rng: random.Random) -> str:
    """"I don't mind about the area", in the words for the slot; nothing for a slot without such words."""
    words = {"pricerange": "price range", "stars": "star rating", "type": "type", "food": "food", "area": "area",
             "parking": "parking", "internet": "internet", "leaveat": "time", "arriveby": "time"}.get(slot)
    if words is None:
        return ""
    return rng.choice([f"I don't mind about the {words}.", f"Any {words} is fine.",
                       f"I have no preference for the {words}."])
