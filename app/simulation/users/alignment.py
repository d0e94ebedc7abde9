"""Did the user simulator convey its goal? Every constraint and booking value, checked in what the user said."""

from __future__ import annotations

import re

from app.dialogue.goals import Goal
from app.dialogue.transcript import Transcript, UserSaid
from domains.values import DONTCARE

YES_NO = ("yes", "no")


def conveyed(goal: Goal, transcript: Transcript) -> dict[str, bool]:
    """`domain-slot` -> whether the user said its value (info and book slots; dontcare is not checked)."""
    said = " ".join(e.text for e in transcript.events if isinstance(e, UserSaid)).lower()
    result = {}
    for part in goal.domains:
        # A booking value counts in its first-choice or its fallback form: the fallback is said only when needed.
        for slot, values in {**{k: {v} for k, v in part.info.items()},
                             **{k: {v, part.first_book[k]} for k, v in part.book.items()}}.items():
            if DONTCARE not in values:
                phrase = part.declared.slot(slot).description.split("(")[0].strip(" .").lower()  # "free wifi"
                result[f"{part.domain}-{slot}"] = any(_in(said, (slot, phrase), str(v).lower()) for v in values)
    return result


def alignment(goal: Goal, transcript: Transcript) -> float:
    """The share of the goal's values the user conveyed (1.0 when the goal has none)."""
    checked = conveyed(goal, transcript)
    return sum(checked.values()) / len(checked) if checked else 1.0


def _in(said: str, names: tuple[str, ...], value: str) -> bool:
    if value in YES_NO:  # "internet yes", "free wifi": the slot has to come up at all
        return any(name in said for name in names)
    if re.fullmatch(r"\d{1,2}:\d{2}", value):  # 17:15, also as 17.15 or 5:15 (pm)
        hour, minute = value.split(":")
        return any(f"{h}{sep}{minute}" in said for h in {hour, str(int(hour)), str(int(hour) % 12 or 12)}
                   for sep in ":.")
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", said) is not None
