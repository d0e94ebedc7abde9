"""MultiWOZ test goals as typed objects, in MultiWOZ 2.2 slot names (derived from the domain declarations).

A goal per test dialogue: per domain the `info` constraints, the `fail_info` constraints asked first (the
corpus expects them to find nothing), the `book` slots and the `fail_book` values of a first booking attempt
that the corpus expects to be refused, and the attributes the user wants to be told (`reqt`). Read from the
same test file the evaluator reads (`test_mwz21/test.json`).

What a MultiWOZ user was told is the goal's `message`, so a goal holds what the message tells: a `fail_info` the
message never mentions (177 of the 394 in the test goals, e.g. pmul2636's hotel "avalon") is no first choice,
and a taxi between two venues goes the way the message says ("leave the attraction by 13:45": from the
attraction; "arrives the restaurant by the booked time": to the restaurant).
"""

from __future__ import annotations

import html
import json
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from app.dialogue.events import valid_data
from db.availability import BASELINE, Availability, Expected, Scripted
from domains import all_domains
from domains import domain as find_domain
from domains.base import Domain
from domains.values import DONTCARE, is_dontcare

log = logging.getLogger(__name__)
TEST_FILE = Path("test_mwz21") / "test.json"
Value = str | int
_TAG = re.compile(r"<[^>]+>")


class _GoalPart(BaseModel):
    """Frozen, strict about unknown fields, and valid Unicode in every string (a goal is saved with its
    transcript, which must always be writable as UTF-8)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return valid_data(data) if isinstance(data, dict) else data


class DomainGoal(_GoalPart):
    """What the user wants from one domain. (Pydantic: goals travel inside saved transcripts.)"""

    domain: str
    info: dict[str, Value]  # the constraints the final venue must satisfy
    fail_info: dict[str, Value] = {}  # constraints asked first, replaced by `info` when nothing matches
    book: dict[str, Value] = {}  # the booking slots that must be booked (after any refusal)
    fail_book: dict[str, Value] = {}  # the values of a first booking attempt, replaced by `book` when refused
    reqt: tuple[str, ...] = ()  # attributes the user asks to be told (record fields: "phone", "entrance fee", ...)
    trip: tuple[str, ...] = ()  # a taxi between two of the goal's venues: (from domain, to domain)

    @property
    def declared(self) -> Domain:
        """The domain's declaration (slots, APIs) from the domain registry."""
        return find_domain(self.domain)

    @property
    def books(self) -> bool:
        """Whether the user books in this domain: the goal asks for a booking, or the domain can only be booked."""
        return bool(self.book) or (not self.declared.find_api and self.declared.book_api is not None)

    @property
    def first_info(self) -> dict[str, Value]:
        """The constraints the user states first."""
        return self.fail_info or self.info

    @property
    def first_book(self) -> dict[str, Value]:
        """The booking the user asks for first; `book` is the fallback when it is refused."""
        return {**self.book, **self.fail_book}

    @property
    def expected(self) -> Expected | None:
        """How its bookings go, as the goal says: the first choice refused if it has `fail_book`, `book` granted."""
        if not self.book:
            return None
        return Expected(granted=self.book, refused=self.first_book if self.fail_book else {})

    def constraints(self) -> dict[str, Value]:
        """`info` without `dontcare`: what a Find for the final venue is given."""
        return {k: v for k, v in self.info.items() if v != DONTCARE}


class Goal(_GoalPart):
    """One MultiWOZ test goal: per domain what the user wants, the instructions they were given, and the corpus
    dialogue's first user turn. (Pydantic: a goal travels inside its saved transcript.)"""

    id: str  # lowercase dialogue id, as the evaluator names it: "sng0073"
    domains: tuple[DomainGoal, ...]  # in the order the corpus dialogue takes them up, trips last
    message: tuple[str, ...]  # the goal's instructions to the user, as plain sentences
    first_user_turn: str  # the corpus dialogue's first user turn ("" for a generated goal)
    generated: bool = False  # made from the database (app.dialogue.goal_generator), not a MultiWOZ test goal
    corpus_turns: int = 0  # how many turns the corpus' user took for this goal (0 for a generated goal)

    def domain(self, name: str) -> DomainGoal | None:
        """The goal's part for that domain, or None when the goal does not take it up."""
        return next((d for d in self.domains if d.domain == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        """The goal's domain names, in the order the dialogue takes them up."""
        return tuple(d.domain for d in self.domains)

    def availability(self) -> Scripted:
        """The goal's world: bookings succeed or fail as the goal says (see db.availability)."""
        return Scripted({d.domain: expected for d in self.domains if (expected := d.expected) is not None})


# Slots as people say them: in a constraint ("arriving by 10:00", "for 2 people") and in what they ask to be told
# ("the arrival time"); slots not listed read as "name value" ("type guesthouse").
CONSTRAINT_WORDS = {"area": "in the {}", "pricerange": "price range {}", "stars": "{} stars", "food": "{} food",
                    "name": "called {}", "internet": "free wifi: {}", "parking": "free parking: {}",
                    "departure": "from {}", "destination": "to {}", "day": "on {}", "leaveat": "leaving after {}",
                    "arriveby": "arriving by {}", "trainid": "train ID {}", "time": "at {}", "people": "for {} people",
                    "stay": "for {} nights"}
ATTRIBUTE_WORDS = {"pricerange": "price range", "leaveat": "departure time", "arriveby": "arrival time",
                   "trainid": "train ID", "phone": "phone number", "duration": "travel time", "internet": "wifi",
                   "parking": "parking", "stars": "star rating"}


def constraint_words(values: dict[str, Value]) -> str:
    """Constraints as people say them: "in the centre, price range cheap, free parking: yes, arriving by 10:00"."""
    return ", ".join(CONSTRAINT_WORDS.get(slot, f"{slot} {{}}").format("any" if value == DONTCARE else value)
                     for slot, value in values.items())


def attribute_words(names: tuple[str, ...] | list[str]) -> str:
    """What a person asks to be told, as they say it: "the phone number, train ID and travel time"."""
    words = [ATTRIBUTE_WORDS.get(name, name) for name in names]
    return ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)


def availability_of(goal: Goal | None) -> Availability:
    """A dialogue's availability from its goal (a transcript's `goal`); free chat has the baseline."""
    return BASELINE if goal is None else goal.availability()


def load_goals(folder: Path) -> list[Goal]:
    """Every test goal, in the file's order; `folder` holds test_mwz21/test.json (see evaluation.data.locate)."""
    return list(_goals_of(str(folder / TEST_FILE)))


@cache
def _goals_of(path: str) -> tuple[Goal, ...]:
    raw = json.loads(Path(path).read_text())
    return tuple(goal_of(name, record) for name, record in raw.items())


def goal_of(name: str, record: dict[str, Any]) -> Goal:
    """One corpus record (`goal` and `log`) as a Goal."""
    declared = {d.name: d for d in all_domains()}
    goal = record["goal"]
    listed = [d for d in goal if d in declared and goal[d]]
    order = _corpus_order(record["log"]) + listed  # domains the humans never named keep the goal's order
    # A trip (taxi: no Find) goes between the other domains' venues, so it comes after them.
    wanted = sorted(listed, key=lambda d: (declared[d].find_api is None, order.index(d)))
    raw_message = goal.get("message", [])
    message = tuple(plain(m) for m in (raw_message if isinstance(raw_message, list) else [raw_message]))
    venues = [d for d in wanted if declared[d].find_api and d != "train"]
    return Goal(
        id=name.removesuffix(".json").lower(),
        domains=tuple(_domain_goal(declared[d], goal[d], message, venues) for d in wanted),
        message=message,
        first_user_turn=record["log"][0]["text"] if record["log"] else "",
        corpus_turns=(len(record["log"]) + 1) // 2,
    )


def plain(sentence: str) -> str:
    """A goal message sentence without its HTML emphasis."""
    return " ".join(html.unescape(_TAG.sub("", sentence)).split())


def slot_of_goal_key(goal_key: str) -> str:
    """MultiWOZ 2.1 goal keys ("leaveAt", "trainID") in 2.2 names ("leaveat", "trainid")."""
    return goal_key.lower()


def _corpus_order(log: list[dict[str, Any]]) -> list[str]:
    """Domains in the order the human dialogue's dialogue acts first name them."""
    order: list[str] = []
    for turn in log:
        for act in turn.get("dialog_act") or {}:
            name = act.split("-")[0].lower()
            if name not in order:
                order.append(name)
    return order


def _domain_goal(domain: Domain, spec: dict[str, Any], message: tuple[str, ...], venues: list[str]) -> DomainGoal:
    book_slots = {s.name for s in domain.book_slots}
    info = _values(domain, spec.get("info", {}), {s.name for s in domain.slots})
    fail_info = _values(domain, spec.get("fail_info", {}), {s.name for s in domain.slots})
    told = any(f"no such {domain.name}" in sentence.lower() for sentence in message)
    return DomainGoal(
        domain=domain.name,
        info=info,
        fail_info=fail_info if told and fail_info != info else {},
        book=_values(domain, spec.get("book", {}), book_slots),
        fail_book=_values(domain, spec.get("fail_book", {}), book_slots),
        reqt=tuple(slot_of_goal_key(r) if slot_of_goal_key(r) in {s.name for s in domain.slots} else r
                   for r in spec.get("reqt", [])),
        trip=_trip(domain, info, message, venues),
    )


def _trip(domain: Domain, info: dict[str, Value], message: tuple[str, ...], venues: list[str]) -> tuple[str, ...]:
    """(from, to) venue domains of a taxi the goal sends between its two venues, as the message says."""
    if domain.find_api or len(venues) != 2 or "departure" in info or "destination" in info:
        return ()
    text = " ".join(message).lower()
    for venue in venues:
        other = next(d for d in venues if d != venue)
        if re.search(rf"\barrives? (?:at )?the {venue}\b", text):
            return (other, venue)
        if re.search(rf"\bleave the {venue}\b", text):
            return (venue, other)
    return ()


def _values(domain: Domain, given: dict[str, Any], known: set[str]) -> dict[str, Value]:
    """Goal values normalised by the domain's own slots; keys that are no slot ("invalid") are dropped."""
    values: dict[str, Value] = {}
    for key, value in given.items():
        name = slot_of_goal_key(key)
        if name in known:
            values[name] = normalised(domain, name, value)
    return values


def normalised(domain: Domain, name: str, value: object) -> Value:
    """The slot's canonical value; a value the slot does not allow stays as lowercase text, so a Find for it
    honestly finds nothing."""
    if is_dontcare(value):
        return DONTCARE
    try:
        return domain.slot(name).normalise(value)
    except ValueError:
        return " ".join(str(value).lower().split())
