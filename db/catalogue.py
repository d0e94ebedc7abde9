"""Find: MultiWOZ query semantics over the domain tables, with SQL built only from bound expressions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import BindParameter, ColumnElement, Engine, Select, bindparam, case, func, or_, select

from db.schema import domain_table
from domains.base import Domain, Slot
from domains.values import minutes

FUZZY_CUTOFF = 90  # the standard evaluator's partial-ratio threshold for names, food and stations
UNKNOWN = "?"  # MultiWOZ writes unknown attraction fields as "?", which match any constraint


@dataclass(frozen=True)
class FindResult:
    """What a Find matched: how many rows in all, and the first few of them."""

    count: int
    rows: list[dict[str, Any]]  # the full MultiWOZ record plus its "key"


class Catalogue:
    """Queries one database. Caches each column's distinct values and each statement: the data never changes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._vocabulary: dict[tuple[str, str], tuple[str, ...]] = {}
        self._sizes: dict[str, int] = {}
        self._queries: dict[tuple[str, tuple[tuple[str, bool], ...], int | None], Select] = {}

    def find(self, domain: Domain, constraints: Mapping[str, Any], limit: int | None) -> FindResult:
        """Rows matching every constraint; the caller drops `dontcare` and empty values first."""
        slots = [domain.slot(name) for name in sorted(constraints)]
        shape = tuple((slot.name, self._has_unknown(domain, slot)) for slot in slots)
        params = {slot.name: self._parameter(domain, slot, constraints[slot.name]) for slot in slots}
        params |= {_exact(slot.name): str(constraints[slot.name]) for slot in slots if slot.match == "fuzzy"}
        with self.engine.connect() as connection:
            found = connection.execute(self._query(domain, shape, limit), params).all()
        return FindResult(found[0].total if found else 0, [{**r.record, "key": r.key} for r in found])

    def exact(self, domain: Domain, constraints: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows whose columns equal every constraint as written: found by value, never cut off by a fuzzy
        neighbour's rank ("j restaurant" is also a fuzzy match for dozens of "... restaurant"s)."""
        table = domain_table(domain)
        conditions = [table.c[name] == (minutes(value) if domain.slot(name).kind == "time" else str(value))
                      for name, value in constraints.items()]
        with self.engine.connect() as connection:
            found = connection.execute(select(table.c.key, table.c.record).where(*conditions)
                                       .order_by(table.c.row).limit(2)).all()
        return [{**r.record, "key": r.key} for r in found]

    def pick(self, domain: Domain, seed: int) -> dict[str, Any]:
        """One row chosen by `seed` (the same seed always gives the same row): how a taxi gets its car."""
        table = domain_table(domain)
        with self.engine.connect() as connection:
            if domain.name not in self._sizes:
                self._sizes[domain.name] = connection.scalar(select(func.count()).select_from(table)) or 0
            found = connection.execute(select(table.c.key, table.c.record)
                                       .where(table.c.row == seed % self._sizes[domain.name])).one()
        return {**found.record, "key": found.key}

    def close_matches(self, domain: Domain, slot: Slot, value: str, limit: int = 3) -> list[str]:
        """Known values that look like `value`, to suggest when nothing matched."""
        found = process.extract(value, self.vocabulary(domain, slot), scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
        return [match for match, _score, _index in found]

    def vocabulary(self, domain: Domain, slot: Slot) -> tuple[str, ...]:
        """The distinct values of the slot's column (cached: the data never changes)."""
        key = (domain.name, slot.name)
        if key not in self._vocabulary:
            column = domain_table(domain).c[slot.name]
            with self.engine.connect() as connection:
                self._vocabulary[key] = tuple(connection.scalars(select(column).distinct().where(column.is_not(None))))
        return self._vocabulary[key]

    def _query(self, domain: Domain, shape: tuple[tuple[str, bool], ...], limit: int | None) -> Select:
        """The statement for one combination of constrained slots, built once: values are bound per call."""
        key = (domain.name, shape, limit)
        if key not in self._queries:
            table = domain_table(domain)
            conditions = [_condition(table.c[name], domain.slot(name), unknown) for name, unknown in shape]
            # A value given exactly ranks first: "j restaurant" is also a fuzzy match for twenty "... restaurant"s,
            # and only the first few rows are shown.
            exact_first = [case((table.c[name] == bindparam(_exact(name)), 0), else_=1)
                           for name, _unknown in shape if domain.slot(name).match == "fuzzy"]
            order = [*exact_first, *([table.c[domain.order_by]] if domain.order_by else [])]
            self._queries[key] = (
                select(table.c.key, table.c.record, func.count().over().label("total"))
                .where(*conditions)
                .order_by(*order, table.c.row)
                .limit(limit)
            )
        return self._queries[key]

    def _parameter(self, domain: Domain, slot: Slot, value: Any) -> Any:
        if slot.kind == "time":
            return minutes(value)
        if slot.match == "fuzzy":
            # Resolve against the column's distinct values, then match exactly: same result, one indexed query.
            found = process.extract(value, self.vocabulary(domain, slot), scorer=fuzz.partial_ratio,
                                    score_cutoff=FUZZY_CUTOFF, limit=None)
            return [match for match, _score, _index in found]
        return str(value)

    def _has_unknown(self, domain: Domain, slot: Slot) -> bool:
        return slot.kind != "time" and UNKNOWN in self.vocabulary(domain, slot)


def _exact(name: str) -> str:
    """The bound parameter holding a fuzzy slot's value as given (to rank an exact match first)."""
    return f"{name}_as_given"


def _condition(column: ColumnElement[Any], slot: Slot, unknown: bool) -> ColumnElement[bool]:
    value: BindParameter[Any] = bindparam(slot.name, expanding=slot.match == "fuzzy")
    if slot.match == "at_or_after":
        return column >= value
    if slot.match == "at_or_before":
        return column <= value
    condition = column.in_(value) if slot.match == "fuzzy" else column == value
    return or_(condition, column == UNKNOWN) if unknown else condition
