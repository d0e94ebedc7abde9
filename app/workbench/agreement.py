"""Inter-annotator agreement from stored answers: Krippendorff's alpha per question, rater counts, disagreements.

Everything here is a pure function of the answers (sorted before use), so a reload shows the same numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np
import pandas as pd

from app.workbench.questions import QUESTIONS, Question, question


@dataclass(frozen=True)
class Answer:
    """One rater's answer to one question about an item: the whole dialogue, or one of its replies."""

    item_id: str
    rater: str
    question: str
    target: str  # "" for the dialogue, else the rated reply's event id
    value: str


@dataclass(frozen=True)
class Unit:
    """One thing several raters judged: a question about a dialogue or about one reply of it."""

    item_id: str
    question: str
    target: str


def units(answers: Iterable[Answer]) -> dict[Unit, dict[str, str]]:
    """Each unit's answers by rater (a rater's later answer to the same unit replaces the earlier one)."""
    grouped: dict[Unit, dict[str, str]] = defaultdict(dict)
    for a in answers:
        grouped[Unit(a.item_id, a.question, a.target)][a.rater] = a.value
    return dict(sorted(grouped.items(), key=lambda kv: (kv[0].item_id, kv[0].question, kv[0].target)))


def alpha(q: Question, answers: Sequence[Answer]) -> float | None:
    """Krippendorff's alpha (ordinal or nominal, as the question declares); None when it is undefined
    (fewer than two raters on any unit, or only one value ever given)."""
    judged = {u: r for u, r in units(a for a in answers if a.question == q.name).items() if len(r) >= 2}
    raters = sorted({rater for by_rater in judged.values() for rater in by_rater})
    if not judged or len({v for by_rater in judged.values() for v in by_rater.values()}) < 2:
        return None
    matrix = np.full((len(raters), len(judged)), np.nan)
    for column, by_rater in enumerate(judged.values()):
        for rater, value in by_rater.items():
            matrix[raters.index(rater), column] = q.code(value)
    return float(krippendorff.alpha(reliability_data=matrix, value_domain=list(range(len(q.options))),
                                    level_of_measurement=q.level))


def agreement_table(answers: Sequence[Answer]) -> pd.DataFrame:
    """Per question: its level, units with two or more raters, answers, and alpha."""
    rows = []
    for q in QUESTIONS:
        mine = [a for a in answers if a.question == q.name]
        paired = sum(len(r) >= 2 for r in units(mine).values())
        value = alpha(q, mine)
        rows.append({"question": q.label, "level": q.level, "units rated twice+": paired, "answers": len(mine),
                     "alpha": None if value is None else round(value, 3)})
    return pd.DataFrame(rows)


def rater_counts(answers: Sequence[Answer]) -> pd.DataFrame:
    """Per rater: dialogues rated (answered at dialogue level) and answers given."""
    dialogues: Counter[str] = Counter()
    given: Counter[str] = Counter()
    for unit, by_rater in units(answers).items():
        for rater in by_rater:
            given[rater] += 1
            dialogues[rater] += unit.target == "" and unit.question == "task_completed"
    rows = [{"rater": r, "dialogues": dialogues[r], "answers": given[r]} for r in sorted(given)]
    return pd.DataFrame(rows, columns=["rater", "dialogues", "answers"])


def disagreement(q: Question, values: Sequence[str]) -> float:
    """Mean distance over pairs of answers, 0 (all agree) to 1: nominal 0/1, ordinal |a-b| / (scale width)."""
    pairs = list(combinations([q.code(v) for v in values], 2))
    if not pairs:
        return 0.0
    width = max(len(q.options) - 1, 1)
    return float(np.mean([(a != b) if q.level == "nominal" else abs(a - b) / width for a, b in pairs]))


def most_disputed(answers: Sequence[Answer], limit: int = 10) -> list[tuple[Unit, float, dict[str, str]]]:
    """The units raters disagree on most (two raters or more), most disputed first, ties by unit."""
    scored = [(unit, disagreement(question(unit.question), list(by_rater.values())), by_rater)
              for unit, by_rater in units(answers).items() if len(by_rater) >= 2]
    disputed = [s for s in scored if s[1] > 0]
    return sorted(disputed, key=lambda s: -s[1])[:limit]  # sorted() is stable: unit order breaks ties


def final_label(by_rater: dict[str, str], adjudicated: str | None) -> str | None:
    """The lead's label when there is one, else the majority answer (None when the top answers tie)."""
    if adjudicated is not None:
        return adjudicated
    top = Counter(by_rater.values()).most_common(2)
    if not top or (len(top) == 2 and top[0][1] == top[1][1]):
        return None
    return top[0][0]
