"""Restaurants in Cambridge; tables are booked per day and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domains.base import (
    AREA,
    BOOK_DAY,
    BOOK_PEOPLE,
    PRICERANGE,
    Accepted,
    BookSpec,
    DataFile,
    Decision,
    Declined,
    Domain,
    FindSpec,
    Slot,
    baseline_free,
    stable_hash,
)
from domains.values import minutes

PEOPLE_PER_TABLE = 4
FULL_PERCENT = 12  # share of restaurant time slots fully booked before anyone asks
NEARBY_STEPS = (-30, 30, -60, 60, -90, 90, -120, 120)  # minutes around a refused time, nearest first


@dataclass(frozen=True)
class TableInventory:
    """Each restaurant has 4-11 tables; some times of some days are full (fixed per restaurant, day, time)."""

    def free(self, restaurant: str, day: str, time: str, booked: list[dict[str, Any]]) -> int:
        """Tables free at the restaurant at that day and time for this dialogue: the baseline less what it booked."""
        tables = 4 + stable_hash("tables", restaurant) % 8
        baseline = baseline_free(tables, FULL_PERCENT, "restaurant-slot", restaurant, day, time)
        taken = sum(b["tables"] for b in booked if b["day"] == day and b["time"] == time)
        return max(0, baseline - taken)

    def decide(self, entity: dict[str, Any], request: dict[str, Any], booked: list[dict[str, Any]]) -> Decision:
        """Accepted when enough tables are free; else Declined, with up to three free times nearby that day."""
        name, day, time, people = entity["name"], request["day"], request["time"], request["people"]
        tables = -(-people // PEOPLE_PER_TABLE)
        if self.free(name, day, time, booked) >= tables:
            return self.accept(entity, request)
        start = minutes(time)
        nearby = [f"{m // 60:02d}:{m % 60:02d}" for m in (start + step for step in NEARBY_STEPS) if 0 <= m < 24 * 60]
        free = [t for t in nearby if self.free(name, day, t, booked) >= tables][:3]
        hint = f"free on {day} at {', '.join(free)}" if free else f"no table nearby on {day}; try another day"
        return Declined(f"no table for {people} at {name} on {day} at {time}", hint)

    def accept(self, entity: dict[str, Any], request: dict[str, Any]) -> Accepted:
        """The booking as told (restaurant, day, time, people), keeping the tables it takes."""
        people = request["people"]
        return Accepted({"name": entity["name"], "day": request["day"], "time": request["time"], "people": people},
                        {"tables": -(-people // PEOPLE_PER_TABLE)})


DOMAIN = Domain(
    name="restaurant",
    description="Places to eat in Cambridge.",
    slots=(
        AREA,
        PRICERANGE,
        Slot("food", "Cuisine, such as italian, chinese, british or modern european.", match="fuzzy"),
        Slot("name", "Name of the restaurant.", match="fuzzy"),
    ),
    data=DataFile("restaurant_db.json", ("7864b4e36027af0907d6afe9ed962fecd6c6966cd626b8ae9341708a04ea201a",)),
    to_rows=lambda raw: [dict(record) for record in raw],
    key=lambda row: row["name"],
    find=FindSpec("FindRestaurant", "Search restaurants; every argument is optional."),
    book=BookSpec("BookRestaurant", "Book a table at a restaurant.", TableInventory(), required=("name",),
                  slots=(BOOK_DAY, BOOK_PEOPLE, Slot("time", "Time of the booking, 24-hour HH:MM.", "time"))),
    hidden_fields=("location", "id", "introduction", "signature"),
)
