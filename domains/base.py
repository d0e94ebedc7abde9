"""The vocabulary for declaring a domain once; everything else is derived from these declarations."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from domains import values

SlotKind = Literal["category", "text", "time", "day", "count"]
# How a Find constraint on the slot matches a database row (MultiWOZ evaluator semantics).
Matching = Literal["exact", "fuzzy", "at_or_after", "at_or_before"]


@dataclass(frozen=True)
class Slot:
    """One argument of an API, named as in MultiWOZ 2.2."""

    name: str
    description: str
    kind: SlotKind = "text"
    allowed: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    match: Matching = "exact"
    low: int = 1
    high: int = 20
    belief: bool = True  # False for slots that are arguments but not belief-state slots (train id)
    past_midnight: bool = False  # times may run past 24:00, as train arrivals do in the data

    def normalise(self, value: object) -> str | int:
        """The canonical value, or ValueError saying what is allowed."""
        if self.kind == "category":
            return values.category(value, self.allowed, self.aliases)
        if self.kind == "time":
            return values.clock(value, self.past_midnight)
        if self.kind == "day":
            return values.weekday(value)
        if self.kind == "count":
            return values.count(value, self.low, self.high)
        return values.clean_text(value)

    @property
    def json_type(self) -> str:
        """The slot's JSON Schema type for native tool specs: integer for counts, else string."""
        return "integer" if self.kind == "count" else "string"

    @property
    def choices(self) -> tuple[str, ...]:
        """The values the slot allows (the weekdays for a day slot); empty when any text goes."""
        return self.allowed or (values.WEEKDAYS if self.kind == "day" else ())


@dataclass(frozen=True)
class DataFile:
    """A MultiWOZ database file and the SHA-256 digests of its accepted published versions."""

    name: str
    sha256: tuple[str, ...]


@dataclass(frozen=True)
class Accepted:
    """A booking rule's yes: what the customer is told, and what the rule keeps for its own counting."""

    details: dict[str, Any]  # what the customer is told: name, day, people, car, ...
    bookkeeping: dict[str, Any] = field(default_factory=dict)  # stored for the rule's own counting (rooms, nights)


@dataclass(frozen=True)
class Declined:
    """A booking rule's no: why, and a hint that holds when followed (the tool answers it as `Refused`)."""

    reason: str
    hint: str


Decision = Accepted | Declined


class BookingRule(Protocol):
    """Deterministic availability of one domain's bookings.

    `booked` holds the details of this dialogue's earlier bookings of the same entity: dialogues are
    isolated, so each one sees the same baseline availability minus only what it booked itself.
    """

    def decide(self, entity: dict[str, Any], request: dict[str, Any], booked: list[dict[str, Any]]) -> Decision:
        """Accepted (what `accept` records) when there is room, else Declined with a hint that holds when followed."""
        ...

    def accept(self, entity: dict[str, Any], request: dict[str, Any]) -> Accepted:
        """What a granted booking records, whatever decided that there was room (this rule, or a goal's script)."""
        ...


@dataclass(frozen=True)
class FindSpec:
    """The domain's search API: every informable slot is an optional argument."""

    api: str
    description: str
    order_by: str | None = None  # slot ordering the results (trains by departure time)


@dataclass(frozen=True)
class BookSpec:
    """The domain's booking API and its availability rule.

    `required` / `optional`: informable slots a booking must / may give; they name the entity to book (a hotel's
    name, a train's id, or, for a domain with no search, the trip itself: then the service assigns an entity, as
    a taxi firm assigns a car). `slots`: the booking's own slots (day, people, ...)."""

    api: str
    description: str
    rule: BookingRule
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    slots: tuple[Slot, ...] = ()


@dataclass(frozen=True)
class Domain:
    """A MultiWOZ domain: its slots, data, and what can be done with it (find, book)."""

    name: str
    description: str
    slots: tuple[Slot, ...]
    data: DataFile
    to_rows: Callable[[Any], list[dict[str, Any]]]  # raw JSON -> records keyed by slot names
    key: Callable[[dict[str, Any]], str]  # stable, unique key of a record
    find: FindSpec | None = None
    book: BookSpec | None = None
    hidden_fields: tuple[str, ...] = ("location", "id")  # record fields not worth a model's tokens
    plural: str = ""  # how prompts name the domain's things ("hotels"); default: name + "s"

    def slot(self, name: str) -> Slot:
        """The informable or booking slot of that name."""
        return next(s for s in self.slots + self.book_slots if s.name == name)

    @property
    def things(self) -> str:
        """What prompts call the domain's things: `plural`, or the name plus "s"."""
        return self.plural or f"{self.name}s"

    # Views of the two specs, for code that only asks one question of them.
    @property
    def find_api(self) -> str | None:
        """The search API's name (`FindHotel`), or None when the domain has no search."""
        return self.find.api if self.find else None

    @property
    def find_description(self) -> str:
        """The search API's description for the model, or empty."""
        return self.find.description if self.find else ""

    @property
    def order_by(self) -> str | None:
        """The slot search results are ordered by, if any."""
        return self.find.order_by if self.find else None

    @property
    def book_api(self) -> str | None:
        """The booking API's name (`BookHotel`), or None when the domain takes no bookings."""
        return self.book.api if self.book else None

    @property
    def book_description(self) -> str:
        """The booking API's description for the model, or empty."""
        return self.book.description if self.book else ""

    @property
    def book_required(self) -> tuple[str, ...]:
        """The informable slots a booking must give."""
        return self.book.required if self.book else ()

    @property
    def book_optional(self) -> tuple[str, ...]:
        """The informable slots a booking may give."""
        return self.book.optional if self.book else ()

    @property
    def book_slots(self) -> tuple[Slot, ...]:
        """The booking's own slots (day, people, ...)."""
        return self.book.slots if self.book else ()

    @property
    def booking(self) -> BookingRule | None:
        """The rule that decides bookings, or None when the domain takes none."""
        return self.book.rule if self.book else None

    @property
    def searchable(self) -> tuple[Slot, ...]:
        """The slots its table indexes for Find: all of them with a search API, none without."""
        return self.slots if self.find else ()

    @property
    def belief_slots(self) -> tuple[str, ...]:
        """Belief-state keys in the MultiWOZ 2.2 style: `hotel-area`, `hotel-bookday`, ..."""
        informable = [f"{self.name}-{s.name}" for s in self.slots if s.belief]
        return tuple(informable + [f"{self.name}-book{s.name}" for s in self.book_slots if s.belief])


def stable_hash(*parts: object) -> int:
    """A hash that is the same in every process (Python's hash() is salted per run)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def baseline_free(capacity: int, full_percent: int, *key: object) -> int:
    """Units free before this dialogue booked anything: none in `full_percent` of cases, else 1..capacity,
    fixed by `key` (the entity and its period), so every run and every dialogue sees the same."""
    draw = stable_hash(*key) % 100
    return 0 if draw < full_percent else 1 + draw % capacity


def frozen(mapping: dict[str, str]) -> Mapping[str, str]:
    """A read-only view of the mapping (declarations are shared, so nothing may change them)."""
    return MappingProxyType(mapping)


AREA = Slot(
    "area", "Part of Cambridge.", "category", ("centre", "north", "south", "east", "west"),
    frozen({"center": "centre", "city centre": "centre", "city center": "centre", "town centre": "centre",
            "central": "centre", "downtown": "centre"}),
)
PRICERANGE = Slot(
    "pricerange", "Price range.", "category", ("cheap", "moderate", "expensive"),
    frozen({"inexpensive": "cheap", "budget": "cheap", "moderately priced": "moderate",
            "mid-range": "moderate", "mid range": "moderate", "pricey": "expensive", "upscale": "expensive"}),
)
BOOK_DAY = Slot("day", "Day of the booking (a weekday name).", "day")
BOOK_PEOPLE = Slot("people", "Number of people.", "count", low=1, high=20)
