"""Trains between Cambridge and nearby cities; seats are booked per train."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domains.base import (
    BOOK_PEOPLE,
    Accepted,
    BookSpec,
    DataFile,
    Decision,
    Declined,
    Domain,
    FindSpec,
    Slot,
    stable_hash,
)

STATIONS = ("birmingham new street", "bishops stortford", "broxbourne", "cambridge", "ely", "kings lynn",
            "leicester", "london kings cross", "london liverpool street", "norwich", "peterborough",
            "stansted airport", "stevenage")
_RENAMED = {"trainID": "trainid", "leaveAt": "leaveat", "arriveBy": "arriveby"}


def _rows(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{_RENAMED.get(k, k): v for k, v in record.items()} for record in raw]


@dataclass(frozen=True)
class SeatInventory:
    """Most trains have plenty of seats; about one in ten is sold out or nearly so (fixed per train)."""

    def free(self, train_key: str, booked: list[dict[str, Any]]) -> int:
        """Seats left on the train for this dialogue: the baseline less the people it booked."""
        draw = stable_hash("train-seats", train_key) % 100
        baseline = 0 if draw < 4 else 1 + draw % 4 if draw < 12 else 150
        return max(0, baseline - sum(b["people"] for b in booked))

    def decide(self, entity: dict[str, Any], request: dict[str, Any], booked: list[dict[str, Any]]) -> Decision:
        """Accepted when there are seats for everyone; else Declined, saying how many are left or that it is
        sold out."""
        people, free = request["people"], self.free(DOMAIN.key(entity), booked)
        train = f"{entity['trainid']} on {entity['day']} at {entity['leaveat']}"
        if free >= people:
            return self.accept(entity, request)
        if free:
            return Declined(f"only {free} seat{'s' if free > 1 else ''} left on {train}",
                           f"book at most {free} people on it or choose another train")
        return Declined(f"{train} is sold out", "choose another train (FindTrain lists them)")

    def accept(self, entity: dict[str, Any], request: dict[str, Any]) -> Accepted:
        """The booking as told: the train, the people, and the fare for them all."""
        people = request["people"]
        fare = float(entity["price"].split()[0]) * people
        keys = ("trainid", "day", "departure", "destination", "leaveat", "arriveby")
        return Accepted({**{k: entity[k] for k in keys}, "people": people, "price": f"{fare:.2f} pounds"})


DOMAIN = Domain(
    name="train",
    description="Trains to and from Cambridge.",
    slots=(
        Slot("departure", f"Station the train leaves from: one of {', '.join(STATIONS)}.", match="fuzzy"),
        Slot("destination", "Station the train goes to (same stations).", match="fuzzy"),
        Slot("day", "Day of travel (a weekday name).", "day"),
        Slot("leaveat", "Earliest departure time, 24-hour HH:MM.", "time", match="at_or_after",
             past_midnight=True),
        Slot("arriveby", "Latest arrival time, 24-hour HH:MM.", "time", match="at_or_before",
             past_midnight=True),
        Slot("trainid", "Train id such as TR7075.", belief=False),
    ),
    data=DataFile("train_db.json", ("4818e735bae20690f6d0d06bb2ae8eec1981c0b680258a970dc01c9073f3fec9",)),
    to_rows=_rows,
    # trainid alone is not unique (2462 ids over 2828 rows); id, day and departure time are.
    key=lambda row: f"{row['trainid']} {row['day']} {row['leaveat']}",
    find=FindSpec("FindTrain", "Search trains; every argument is optional. Results are ordered by departure time.",
                  order_by="leaveat"),
    book=BookSpec("BookTrain", "Book seats on a train found by FindTrain. The same train id runs on several days: "
                               "give day (and leaveat) when it does.", SeatInventory(),
                  required=("trainid",), optional=("day", "departure", "destination", "leaveat"),
                  slots=(BOOK_PEOPLE,)),
)
