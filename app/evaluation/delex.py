"""Delexicalise the agent's responses with the values it actually received from the APIs."""

from __future__ import annotations

import re
from functools import lru_cache

from app.dialogue.transcript import Booked, CallWithAnswer, Found
from app.tools.toolbox import all_tools

# Result fields whose values become placeholders, as in the standard evaluator's delexicalised references.
PLACEHOLDERS = {"name": "name", "address": "address", "phone": "phone", "postcode": "postcode",
                "trainid": "trainid", "reference": "reference"}
MIN_LENGTH = 3  # shorter values ("a", "no") would replace ordinary words


def api_values(calls: list[CallWithAnswer]) -> dict[str, str]:
    """value (lowercase) -> placeholder, for every value the APIs returned in these calls."""
    values: dict[str, str] = {}
    for call in calls:
        result = call.result
        rows = result.rows if isinstance(result, Found) else \
            [{"reference": result.reference, **result.details}] if isinstance(result, Booked) else []
        for row in rows:
            for field, placeholder in PLACEHOLDERS.items():
                value = row.get(field)
                if isinstance(value, str) and len(value) >= MIN_LENGTH and value != "?":
                    values[value.lower()] = placeholder
    return values


def delexicalise(text: str, values: dict[str, str]) -> str:
    """Replace each known value (longest first, whole words, any case) with its [placeholder]."""
    if not values:
        return text
    pattern = _pattern(tuple(sorted(values, key=len, reverse=True)))
    return pattern.sub(lambda m: f"[{values[m[0].lower()]}]", text)


@lru_cache(maxsize=1024)
def _pattern(ordered: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(" + "|".join(map(re.escape, ordered)) + r")(?!\w)", re.IGNORECASE)


def active_domains(calls: list[CallWithAnswer], changed: list[str], previous: list[str]) -> list[str]:
    """The domains a turn is about: those it called or changed, else those of the turn before."""
    called = {name for c in calls if (name := _domain(c))}
    mine = sorted(called | {k.split("-", 1)[0] for k in changed})
    return mine or previous


def _domain(call: CallWithAnswer) -> str | None:
    tool = all_tools().get(call.called.name)
    return tool.domain.name if tool else None


