"""Who decides whether a booking has room: the domains' own rules (free chat), or a goal's script.

Free chat gets the deterministic baseline of each domain's `BookingRule`. A goal-driven dialogue lives in its
goal's world instead, as the MultiWOZ goals describe it: the first choice of a goal with `fail_book` is refused
and the booking the goal asks for succeeds, whatever the baseline would say. Anything the goal says nothing about
(another domain, other values) keeps the baseline. A refusal's hint says what is free as a venue would: other
times that day, other days, shorter stays, each one that this world really grants (never "the goal's fallback"
as such, which no venue could know).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from domains.base import Accepted, Decision, Declined, Domain


class Availability(Protocol):
    """Decides one booking request; called inside the booking's lock, with this dialogue's earlier bookings of
    the same entity."""

    def decide(self, domain: Domain, entity: dict[str, Any], request: dict[str, Any],
               booked: list[dict[str, Any]]) -> Decision:
        """Accept or decline the request for `entity`, given this dialogue's earlier bookings of it."""
        ...


@dataclass(frozen=True)
class Baseline:
    """Each domain's own deterministic rule."""

    def decide(self, domain: Domain, entity: dict[str, Any], request: dict[str, Any],
               booked: list[dict[str, Any]]) -> Decision:
        """The domain's own rule; a ValueError for a domain that takes no bookings."""
        if domain.book is None:
            raise ValueError(f"{domain.name} takes no bookings")
        return domain.book.rule.decide(entity, request, booked)


BASELINE = Baseline()


@dataclass(frozen=True)
class Expected:
    """What a goal says about one domain's bookings: requests with the `refused` values fail (empty: none does),
    requests with the `granted` values succeed."""

    granted: Mapping[str, object]
    refused: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Scripted:
    """Availability as a goal scripts it, per domain name; the baseline for everything it does not script."""

    expected: Mapping[str, Expected]

    def decide(self, domain: Domain, entity: dict[str, Any], request: dict[str, Any],
               booked: list[dict[str, Any]]) -> Decision:
        """The goal's word where it has one: its refused values fail, its granted values succeed even where
        the baseline would decline; the baseline elsewhere."""
        script = self.expected.get(domain.name)
        if script is None or domain.book is None:
            return BASELINE.decide(domain, entity, request, booked)
        if script.refused and _asks_for(request, script.refused):
            return Declined(f"{domain.key(entity)} is fully booked for {_described(script.refused)}",
                           self.free_nearby(domain, entity, request, booked))
        decision = BASELINE.decide(domain, entity, request, booked)
        if isinstance(decision, Declined) and _asks_for(request, script.granted):
            return domain.book.rule.accept(entity, request)
        return decision

    def free_nearby(self, domain: Domain, entity: dict[str, Any], request: dict[str, Any],
                    booked: list[dict[str, Any]]) -> str:
        """What a venue would offer instead, each alternative one this world grants: the nearest free times that
        day, the next free days, the longest shorter stay."""
        offers = []
        # A venue offers another time first, then a shorter stay, then another day.
        for slot in sorted(domain.book_slots, key=lambda s: ("time", "count", "day").index(s.kind)
                           if s.kind in ("time", "count", "day") else 3):
            if slot.name not in request:
                continue
            free = [value for value in _nearby(slot.kind, slot.name, request[slot.name])
                    if isinstance(self.decide(domain, entity, {**request, slot.name: value}, booked), Accepted)]
            day = f" on {request['day']}" if "day" in request else ""
            if free and slot.kind == "time":
                offers.append(f"free at {_either(free[:3])}{day}")
            elif free and slot.kind == "day":
                offers.append(f"free on {_either(free[:2])}")
            elif free:
                start = f" from {request['day']}" if "day" in request else ""
                offers.append(f"{free[0]} night{'s are' if free[0] > 1 else ' is'} free{start}")
        return "; ".join(offers) or "nothing near that is free"


NEARBY_MINUTES = (30, -30, 60, -60, 90, -90, 120, -120)  # times a venue offers instead, nearest first
WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _nearby(kind: str, name: str, value: Any) -> list[Any]:
    """The values a venue would try instead of `value`: nearby times, the following days, shorter stays."""
    if kind == "time":
        hour, minute = map(int, str(value).split(":"))
        start = hour * 60 + minute
        return [f"{m // 60:02d}:{m % 60:02d}" for m in (start + step for step in NEARBY_MINUTES) if 0 <= m < 24 * 60]
    if kind == "day" and value in WEEK:
        return [WEEK[(WEEK.index(value) + step) % 7] for step in range(1, 7)]
    if name == "stay" and isinstance(value, int):
        return list(range(value - 1, 0, -1))
    return []


def _either(values: list[Any]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(map(str, values[:-1]))} or {values[-1]}"


def _asks_for(request: dict[str, Any], values: Mapping[str, object]) -> bool:
    return all(request.get(slot) == value for slot, value in values.items())


def _described(values: Mapping[str, object]) -> str:
    return ", ".join(f"{slot} {value}" for slot, value in values.items())
