"""Did the user simulator convey its goal? Every constraint and booking value, checked in what the user said, in
the forms people say them (see app.simulation.wording)."""

from __future__ import annotations

from app.dialogue.goals import Goal
from app.dialogue.transcript import Transcript, UserSaid
from app.simulation.wording import says_slot
from domains.values import DONTCARE


def conveyed(goal: Goal, transcript: Transcript) -> dict[str, bool]:
    """`domain-slot` -> whether the user said its value (info and book slots; dontcare is not checked)."""
    said = "\n".join(e.text for e in transcript.events if isinstance(e, UserSaid))
    result = {}
    for part in goal.domains:
        # A value counts in either of the goal's choices: the first choice, or the alternative said when it failed
        # (a first choice that worked leaves the alternative unsaid, as it should).
        choices = {**{k: {v, part.fail_info.get(k, v)} for k, v in part.info.items()},
                   **{k: {v, part.first_book[k]} for k, v in part.book.items()}}
        for slot, values in choices.items():
            if DONTCARE not in values:
                kind = part.declared.slot(slot).kind
                result[f"{part.domain}-{slot}"] = any(says_slot(slot, kind, v, said) for v in values)
    return result


def alignment(goal: Goal, transcript: Transcript) -> float:
    """The share of the goal's values the user conveyed (1.0 when the goal has none)."""
    checked = conveyed(goal, transcript)
    return sum(checked.values()) / len(checked) if checked else 1.0
