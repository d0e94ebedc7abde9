"""Book: resolve the entity, ask the domain's availability rule, store the booking with a fresh reference."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.availability import BASELINE, Availability
from db.catalogue import Catalogue
from db.engine import exclusive
from db.schema import Booking
from domains.base import Accepted, Declined, Domain, stable_hash

REFERENCE_ALPHABET = string.ascii_uppercase + string.digits
REFERENCE_LENGTH = 8
AMBIGUOUS_SHOWN = 5
# Built once: constructing statements costs more than running them on tables this small.
_BOOKED = select(Booking.details).where(
    Booking.dialogue_id == bindparam("dialogue_id"), Booking.domain == bindparam("domain"),
    Booking.entity_key == bindparam("entity_key"))
_INSERT = insert(Booking)


@dataclass(frozen=True)
class Confirmed:
    """A booking the desk has just stored: its new reference and what the customer is told."""

    reference: str
    details: dict[str, Any]


@dataclass(frozen=True)
class StoredBooking:
    """A booking as the store holds it (its details include the rule's own bookkeeping)."""

    reference: str
    domain: str
    entity_key: str
    details: dict[str, Any]


def new_reference() -> str:
    """A fresh random booking reference: 8 capital letters and digits."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


class BookingDesk:
    """Makes bookings for dialogues: finds the one entity asked for, asks the availability, stores the booking."""

    def __init__(self, engine: Engine, catalogue: Catalogue) -> None:
        self.engine = engine
        self.catalogue = catalogue

    def book(self, domain: Domain, request: dict[str, Any], dialogue_id: str,
             availability: Availability = BASELINE, picked_as: str | None = None) -> Confirmed | Declined:
        """The stored booking, or the rule's refusal; ValueError when the request names no single entity.
        `availability` decides whether there is room (a goal-driven dialogue's script; by default the baseline).
        `picked_as`: the dialogue whose id picks an assigned entity (a taxi's car), so that a forked dialogue's
        restored booking gets the car its parent got."""
        entity = self._entity(domain, request, picked_as or dialogue_id)
        for _attempt in range(10):  # 36^8 references: a clash is rare, but the unique index has the last word
            try:
                return self._decide_and_store(domain, entity, request, dialogue_id, availability)
            except IntegrityError:
                continue
        raise RuntimeError("could not draw an unused booking reference")

    def _decide_and_store(self, domain: Domain, entity: dict[str, Any], request: dict[str, Any],
                          dialogue_id: str, availability: Availability) -> Confirmed | Declined:
        # Reading what is booked, deciding and inserting are one locked step: two calls at once in one dialogue
        # must not both see the last free room.
        with exclusive(self.engine, "booking", dialogue_id, domain.name, entity["key"]) as connection:
            booked = list(connection.scalars(_BOOKED, {"dialogue_id": dialogue_id, "domain": domain.name,
                                                       "entity_key": entity["key"]}))
            decision = availability.decide(domain, entity, request, booked)
            if not isinstance(decision, Accepted):
                return decision
            reference = new_reference()
            connection.execute(_INSERT, {  # Core insert: a third of the ORM's cost per booking
                "reference": reference, "dialogue_id": dialogue_id, "domain": domain.name,
                "entity_key": entity["key"], "details": {**decision.details, **decision.bookkeeping},
                "created_at": datetime.now(UTC)})
        return Confirmed(reference, decision.details)

    def bookings(self, dialogue_id: str) -> list[StoredBooking]:
        """This dialogue's bookings, oldest first; other dialogues' bookings are never visible."""
        with Session(self.engine) as session:
            rows = session.scalars(select(Booking).where(Booking.dialogue_id == dialogue_id).order_by(Booking.id))
            return [StoredBooking(b.reference, b.domain, b.entity_key, b.details) for b in rows]

    def _entity(self, domain: Domain, request: dict[str, Any], dialogue_id: str) -> dict[str, Any]:
        if not domain.find:  # nothing to search by name (a taxi): the service assigns an entity (a car)
            return self.catalogue.pick(domain, stable_hash(dialogue_id, *sorted(map(str, request.items()))))
        given = {k: request[k] for k in domain.book_required + domain.book_optional if request.get(k) is not None}
        # "cityroomz" also fuzzily matches longer names, and leaveat 05:16 also later trains: an exact match wins,
        # looked up by value, however many fuzzy neighbours rank before it.
        exact = self.catalogue.exact(domain, given)
        if len(exact) == 1:
            return exact[0]
        found = self.catalogue.find(domain, given, limit=AMBIGUOUS_SHOWN + 1)
        if found.count == 1:
            return found.rows[0]
        described = ", ".join(f"{k}={v!r}" for k, v in given.items())
        if found.count == 0:
            return self._no_match(domain, given, described)
        keys = "; ".join(row["key"] for row in found.rows[:AMBIGUOUS_SHOWN])
        more = ", narrow it with " + ", ".join(domain.book_optional) if domain.book_optional else ""
        raise ValueError(f"{described} matches {found.count} {domain.name}s ({keys}); name exactly one{more}")

    def _no_match(self, domain: Domain, given: dict[str, Any], described: str) -> dict[str, Any]:
        target = domain.slot(domain.book_required[0])
        close = self.catalogue.close_matches(domain, target, str(given.get(target.name, "")))
        suggestion = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"no {domain.name} matches {described}{suggestion}")
