"""Who decides whether a booking has room: the domains' own rules (free chat), or a goal's script.

Free chat gets the deterministic baseline of each domain's `BookingRule`. A goal-driven dialogue lives in its
goal's world instead, as the MultiWOZ goals describe it: the first choice of a goal with `fail_book` is refused
(with a hint naming the fallback) and the booking the goal asks for succeeds, whatever the baseline would say.
Anything the goal says nothing about (another domain, other values) keeps the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from domains.base import Decision, Declined, Domain


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
                           f"free for {_described(script.granted)}")
        decision = BASELINE.decide(domain, entity, request, booked)
        if isinstance(decision, Declined) and _asks_for(request, script.granted):
            return domain.book.rule.accept(entity, request)
        return decision


def _asks_for(request: dict[str, Any], values: Mapping[str, object]) -> bool:
    return all(request.get(slot) == value for slot, value in values.items())


def _described(values: Mapping[str, object]) -> str:
    return ", ".join(f"{slot} {value}" for slot, value in values.items())
