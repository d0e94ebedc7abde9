"""Find: MultiWOZ query semantics over the domain tables, with SQL built only from bound expressions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Engine, Table, func, or_, select

from db.schema import domain_table
from domains.base import Domain, Slot
from domains.values import minutes

FUZZY_CUTOFF = 90  # the standard evaluator's partial-ratio threshold for names, food and stations
UNKNOWN = "?"  # MultiWOZ writes unknown attraction fields as "?", which match any constraint


@dataclass(frozen=True)
class FindResult:
    count: int
    rows: list[dict[str, Any]]  # the full MultiWOZ record plus its "key"


class Catalogue:
    """Queries one database; caches each fuzzy column's distinct values (the data never changes)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._vocabulary: dict[tuple[str, str], tuple[str, ...]] = {}

    def find(self, domain: Domain, constraints: Mapping[str, Any], limit: int | None) -> FindResult:
        """Rows matching every constraint; the caller drops `dontcare` and empty values first."""
        table = domain_table(domain)
        conditions = [self._condition(domain, table, domain.slot(name), value) for name, value in constraints.items()]
        order = [table.c[domain.order_by]] if domain.order_by else []
        query = (
            select(table.c.key, table.c.record, func.count().over().label("total"))
            .where(*conditions)
            .order_by(*order, table.c.row)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            found = connection.execute(query).all()
        return FindResult(found[0].total if found else 0, [{**r.record, "key": r.key} for r in found])

    def close_matches(self, domain: Domain, slot: Slot, value: str, limit: int = 3) -> list[str]:
        """Known values that look like `value`, to suggest when nothing matched."""
        found = process.extract(value, self.vocabulary(domain, slot), scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
        return [match for match, _score, _index in found]

    def vocabulary(self, domain: Domain, slot: Slot) -> tuple[str, ...]:
        key = (domain.name, slot.name)
        if key not in self._vocabulary:
            column = domain_table(domain).c[slot.name]
            with self.engine.connect() as connection:
                self._vocabulary[key] = tuple(connection.scalars(select(column).distinct().where(column.is_not(None))))
        return self._vocabulary[key]

    def _condition(self, domain: Domain, table: Table, slot: Slot, value: Any) -> ColumnElement[bool]:
        column = table.c[slot.name]
        if slot.match == "at_or_after":
            return column >= minutes(value)
        if slot.match == "at_or_before":
            return column <= minutes(value)
        if slot.match == "fuzzy":
            # Resolve against the column's distinct values, then match exactly: same result, one indexed query.
            found = process.extract(value, self.vocabulary(domain, slot), scorer=fuzz.partial_ratio,
                                    score_cutoff=FUZZY_CUTOFF, limit=None)
            return column.in_([match for match, _score, _index in found] + [UNKNOWN])
        return or_(column == str(value), column == UNKNOWN)
