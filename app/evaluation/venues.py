"""The standard evaluator's venue lookup (mwzeval's `MultiWOZVenueDatabase.query`) over the project's tables.

Not the Find API: Inform must not move when Find's ranking or aliases change, so the evaluator keeps its own
semantics. A constraint matches a row when the row's value is "?", or equals it (partial ratio >= 90 for
names, foods and stations), or for times when the train leaves at or after / arrives at or before it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from sqlalchemy import Engine, select

from app.evaluation import normalise
from db.schema import domain_table
from domains import domain as find_domain

# mwzeval's fixed lists, per MultiWOZ domain (they define the evaluator, not the app's domains).
IGNORED_COLUMNS = {"attraction": ("location", "openhours"), "hotel": ("location", "price", "takesbookings"),
                   "restaurant": ("location", "introduction", "signature")}
FUZZY_COLUMNS = {"hotel": {"name"}, "attraction": {"name"}, "restaurant": {"name", "food"},
                 "train": {"departure", "destination"}}
IDENTITY = {"train": "trainid"}  # what a match returns; "id" elsewhere
VENUE_DOMAINS = ("restaurant", "hotel", "attraction", "train")
DONTCARE = {"dontcare", "not mentioned", "don't care", "dont care", "do n't care", "do not care"}
FUZZY_RATIO = 90
UNKNOWN = "?"


def column_name(name: str) -> str:
    """A database field under mwzeval's column name (`id` stays as it is)."""
    return name if name == "id" else normalise.mwzeval_slot(name)


@dataclass
class VenueDatabase:
    """Rows per venue domain, in database order, with mwzeval's column names (`arrive`, `leave`, `entrancefee`)."""

    rows: Mapping[str, list[dict[str, Any]]]
    corrected: bool = False
    _cache: dict[tuple[str, frozenset], tuple[str, ...]] = field(default_factory=dict, repr=False)
    _fuzzy: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_records(cls, records: Mapping[str, list[dict[str, Any]]], corrected: bool = False) -> VenueDatabase:
        """A database of the given records, without the columns mwzeval ignores, under its column names."""
        rows = {}
        for domain, raw in records.items():
            ignored = IGNORED_COLUMNS.get(domain, ())
            rows[domain] = [{column_name(k): v for k, v in r.items() if k not in ignored} for r in raw]
        return cls(rows, corrected)

    @classmethod
    def from_engine(cls, engine: Engine, corrected: bool = False) -> VenueDatabase:
        """A database of the venue tables in the project's database, in row order."""
        records = {}
        with engine.connect() as connection:
            for name in VENUE_DOMAINS:
                table = domain_table(find_domain(name))
                records[name] = list(connection.scalars(select(table.c.record).order_by(table.c.row)))
        return cls.from_records(records, corrected)

    def query(self, domain: str, constraints: Mapping[str, str]) -> tuple[str, ...]:
        """The identities (ids, train ids) of the rows matching `constraints` (mwzeval slot names)."""
        if domain not in self.rows:
            return ()
        wanted = self._constraints(domain, constraints)
        key = (domain, frozenset(wanted.items()))
        if key not in self._cache:
            identity = IDENTITY.get(domain, "id")
            self._cache[key] = tuple(r[identity] for r in self.rows[domain] if self._matches(domain, r, wanted))
        return self._cache[key]

    def _constraints(self, domain: str, constraints: Mapping[str, str]) -> dict[str, str | int]:
        # mwzeval's columns are those of the first row; other constraint slots (book day, ...) are ignored.
        columns = self.rows[domain][0].keys()
        wanted: dict[str, str | int] = {}
        for slot, value in constraints.items():
            if slot not in columns or value in DONTCARE:
                continue
            text = normalise.slot_value(slot, value, self.corrected)
            wanted[slot] = normalise.minutes(text) if slot in ("arrive", "leave") else text
        return wanted

    def _matches(self, domain: str, row: dict[str, Any], wanted: dict[str, str | int]) -> bool:
        for slot, value in wanted.items():
            have = row.get(slot)
            if have == UNKNOWN:
                continue
            if slot == "arrive":
                ok = normalise.minutes(str(have)) <= int(value)
            elif slot == "leave":
                ok = normalise.minutes(str(have)) >= int(value)
            elif slot in FUZZY_COLUMNS.get(domain, ()):
                ok = have in self._fuzzy_matches(domain, slot, str(value))
            else:
                ok = have == value
            if not ok:
                return False
        return True

    def _fuzzy_matches(self, domain: str, slot: str, value: str) -> frozenset[str]:
        """The column's values whose partial ratio with `value` reaches 90 (rounded as fuzzywuzzy rounds)."""
        key = (domain, slot, value)
        if key not in self._fuzzy:
            column = {str(r.get(slot)) for r in self.rows[domain]}
            self._fuzzy[key] = frozenset(v for v in column if partial_ratio(v, value) >= FUZZY_RATIO)
        return self._fuzzy[key]


def partial_ratio(first: str, second: str) -> int:
    """fuzzywuzzy's `partial_ratio` (with python-Levenshtein, as mwzeval installs it), built on rapidfuzz.

    Not rapidfuzz's own partial ratio, which finds the best window: fuzzywuzzy only tries the windows that
    start where a matching block would align, so it scores some pairs lower ("the junction" against
    "junction theatre": 67, not 80)."""
    if first == second:
        return 100
    if not first or not second:
        return 0
    shorter, longer = sorted((first, second), key=len)
    best = 0.0
    for block in Levenshtein.opcodes(shorter, longer).as_matching_blocks():
        start = max(block.b - block.a, 0)
        score = fuzz.ratio(shorter, longer[start:start + len(shorter)]) / 100
        if score > 0.995:
            return 100
        best = max(best, score)
    return round(100 * best)
