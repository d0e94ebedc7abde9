"""Hotels and guesthouses in Cambridge; rooms are booked per night."""

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
    frozen,
    stable_hash,
)
from domains.values import WEEKDAYS

_YES_NO = frozen({"free": "yes", "true": "yes", "y": "yes", "included": "yes", "none": "no", "false": "no", "n": "no"})
_STARS = frozen({
    alias: str(n) for n, word in enumerate(("zero", "one", "two", "three", "four", "five"))
    for alias in (word, f"{n} star", f"{n} stars", f"{n}-star", f"{word} star", f"{word} stars")
})
PEOPLE_PER_ROOM = 2
FULL_PERCENT = 12  # share of hotel nights fully booked before anyone asks


def _rows(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for record in raw:
        row = dict(record)
        if "n" in row:  # the convlab copy misspells one hotel's "takesbookings" as "n"
            row["takesbookings"] = row.pop("n")
        rows.append(row)
    return rows


@dataclass(frozen=True)
class RoomInventory:
    """Each hotel has 5-10 rooms; some nights are fully booked, others partly (fixed per hotel and weekday)."""

    def rooms(self, hotel: str) -> int:
        """How many rooms the hotel has: 5 to 10, fixed per hotel."""
        return 5 + stable_hash("rooms", hotel) % 6

    def free(self, hotel: str, night: str, booked: list[dict[str, Any]]) -> int:
        """Rooms free at the hotel on that night for this dialogue: the baseline less what it booked."""
        baseline = baseline_free(self.rooms(hotel), FULL_PERCENT, "hotel-night", hotel, night)
        taken = sum(b["rooms"] for b in booked if night in b["nights"])
        return max(0, baseline - taken)

    def decide(self, entity: dict[str, Any], request: dict[str, Any], booked: list[dict[str, Any]]) -> Decision:
        """Accepted when enough rooms are free every night of the stay; else Declined, with how many nights
        are free from that day, or another day the whole stay fits."""
        hotel, day, stay = entity["name"], request["day"], request["stay"]
        rooms = -(-request["people"] // PEOPLE_PER_ROOM)
        nights = _nights(day, stay)
        possible = self._free_nights(hotel, nights, rooms, booked)
        if possible == stay:
            return self.accept(entity, request)
        plural = "s" if rooms > 1 else ""
        reason = f"no {rooms} room{plural} free at {hotel} for {stay} night{'s' if stay > 1 else ''} from {day}"
        if possible:
            nights_free = f"{possible} nights are" if possible > 1 else "1 night is"
            return Declined(reason, f"only {nights_free} available from {day}")
        # A hint must hold when followed: the whole stay has to fit from the day it offers, not its first night.
        other = [d for d in WEEKDAYS if d != day and self._free_nights(hotel, _nights(d, stay), rooms, booked) == stay]
        return Declined(reason, f"rooms are free from {other[0]}" if other else "try another hotel")

    def accept(self, entity: dict[str, Any], request: dict[str, Any]) -> Accepted:
        """The booking as told (hotel, day, stay, people), keeping the rooms and nights it takes."""
        day, stay, people = request["day"], request["stay"], request["people"]
        return Accepted({"name": entity["name"], "day": day, "stay": stay, "people": people},
                        {"rooms": -(-people // PEOPLE_PER_ROOM), "nights": _nights(day, stay)})

    def _free_nights(self, hotel: str, nights: list[str], rooms: int, booked: list[dict[str, Any]]) -> int:
        """How many of `nights`, from the first on, have `rooms` free."""
        return next((i for i, night in enumerate(nights) if self.free(hotel, night, booked) < rooms), len(nights))


def _nights(day: str, stay: int) -> list[str]:
    start = WEEKDAYS.index(day)
    return [WEEKDAYS[(start + i) % 7] for i in range(stay)]


DOMAIN = Domain(
    name="hotel",
    description="Places to stay in Cambridge.",
    slots=(
        AREA,
        PRICERANGE,
        Slot("type", "Kind of place.", "category", ("hotel", "guesthouse"),
             frozen({"guest house": "guesthouse", "guesthouses": "guesthouse", "hotels": "hotel", "b&b": "guesthouse",
                     "bed and breakfast": "guesthouse"})),
        Slot("stars", "Star rating.", "category", ("0", "1", "2", "3", "4", "5"), _STARS),
        Slot("parking", "Free parking (yes or no).", "category", ("yes", "no"), _YES_NO),
        Slot("internet", "Free wifi (yes or no).", "category", ("yes", "no"), _YES_NO),
        Slot("name", "Name of the hotel.", match="fuzzy"),
    ),
    data=DataFile("hotel_db.json", (
        "7f7d0fa564f6735b6a168a3ab72c7ca6f1180c49fa8a285bd9ebf7dac10e5e45",
        "972bbd65beada7c64f0b87322c694fd9173b46cf8e61ca3bbe951717ac1d1662",
    )),
    to_rows=_rows,
    key=lambda row: row["name"],
    find=FindSpec("FindHotel", "Search hotels and guesthouses; every argument is optional."),
    book=BookSpec("BookHotel", "Book rooms at a hotel (two people per room) for consecutive nights.", RoomInventory(),
                  required=("name",),
                  slots=(BOOK_DAY, BOOK_PEOPLE, Slot("stay", "Number of nights.", "count", low=1, high=14))),
)
