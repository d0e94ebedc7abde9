"""Things to see and do in Cambridge; nothing to book."""

from __future__ import annotations

from typing import Any

from domains.base import AREA, DataFile, Domain, FindSpec, Slot, frozen

TYPES = ("architecture", "boat", "cinema", "college", "concerthall", "entertainment", "museum",
         "multiple sports", "nightclub", "park", "swimmingpool", "theatre")
_TYPE_ALIASES = frozen({
    "swimming pool": "swimmingpool", "pool": "swimmingpool", "concert hall": "concerthall",
    "sports": "multiple sports", "sport": "multiple sports", "theater": "theatre", "boating": "boat",
    "night club": "nightclub", "church": "architecture", "churches": "architecture",
    "mutliple sports": "multiple sports",  # the corpus' own misspelling, in its database and goals
    **{f"{t}s": t for t in TYPES if " " not in t and not t.endswith("s")},
})


def _rows(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The canonical file misspells one type; the evaluator's copy corrects it, and so do we.
    return [{**r, "type": "multiple sports" if r["type"] == "mutliple sports" else r["type"]} for r in raw]


DOMAIN = Domain(
    name="attraction",
    description="Attractions in Cambridge. A '?' in a result means unknown.",
    slots=(
        AREA,
        Slot("type", "Kind of attraction.", "category", TYPES, _TYPE_ALIASES),
        Slot("name", "Name of the attraction.", match="fuzzy"),
    ),
    data=DataFile("attraction_db.json", ("2aacc620af4025f1eada5ec83057a866f8e8b72b529f71d2f8bf93bcdd8f8751",)),
    to_rows=_rows,
    key=lambda row: row["name"],
    find=FindSpec("FindAttraction", "Search attractions; every argument is optional."),
)
