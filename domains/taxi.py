"""Taxis between any two places; the service assigns a car."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domains.base import Accepted, BookSpec, DataFile, Decision, Declined, Domain, Slot, stable_hash
from domains.values import minutes


def _rows(raw: Any) -> list[dict[str, Any]]:
    # The canonical file is a one-element list, the convlab copy a bare object.
    fleet = raw[0] if isinstance(raw, list) else raw
    return [{"color": color, "type": brand} for brand in fleet["taxi_types"] for color in fleet["taxi_colors"]]


@dataclass(frozen=True)
class TaxiDispatch:
    """Always a car; the phone is an 11-digit UK mobile number, as in the MultiWOZ corpus."""

    def decide(self, entity: dict[str, Any], request: dict[str, Any], booked: list[dict[str, Any]]) -> Decision:
        """Accepted unless the request has no time, goes nowhere, or arrives before it leaves."""
        if not (request.get("leaveat") or request.get("arriveby")):
            return Declined("a taxi needs a time", "give leaveat or arriveby (24-hour HH:MM)")
        if request["departure"] == request["destination"]:
            return Declined("departure and destination are the same place", "give two different places")
        leave, arrive = request.get("leaveat"), request.get("arriveby")
        if leave and arrive and minutes(arrive) <= minutes(leave):
            return Declined(f"arriveby {arrive} is not after leaveat {leave}", "give one of them, or a later arrival")
        return self.accept(entity, request)

    def accept(self, entity: dict[str, Any], request: dict[str, Any]) -> Accepted:
        """The trip as booked, with the assigned car and a phone number fixed by the request."""
        phone = "07" + f"{stable_hash('taxi-phone', *sorted(request.items())) % 10**9:09d}"
        trip = {k: request[k] for k in ("departure", "destination", "leaveat", "arriveby") if request.get(k)}
        return Accepted({**trip, "car": f"{entity['color']} {entity['type']}", "phone": phone})


DOMAIN = Domain(
    name="taxi",
    description="Taxi rides in and around Cambridge.",
    slots=(
        Slot("departure", "Where the taxi picks you up."),
        Slot("destination", "Where the taxi takes you."),
        # The corpus writes rides after midnight as 24:00-24:45 (40 test labels), as it does train arrivals.
        Slot("leaveat", "Pick-up time, 24-hour HH:MM.", "time", past_midnight=True),
        Slot("arriveby", "Time to arrive by, 24-hour HH:MM.", "time", past_midnight=True),
    ),
    data=DataFile("taxi_db.json", (
        "6b676ae412ef17a15c24594bec99f61ed6a18b0fbecf6ed89d409baa924b89c1",
        "4305d9410d8674313ea1e227c3f9bfa5f15ff0bb2a4976d9ab8d656aa558ee23",
    )),
    to_rows=_rows,
    key=lambda row: f"{row['color']} {row['type']}",
    book=BookSpec("BookTaxi", "Book a taxi; give leaveat or arriveby. Returns the car and a contact phone.",
                  TaxiDispatch(), required=("departure", "destination"), optional=("leaveat", "arriveby")),
)
