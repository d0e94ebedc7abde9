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


MIN_UNITS = 6  # below this, no interval: perfect agreement of two raters on a yes/no question could be chance
BOOTSTRAP_ROUNDS = 500
SEED = 20260101


def value_counts(q: Question, answers: Sequence[Answer]) -> np.ndarray:
    """Per unit judged by two raters or more (rows, in unit order), how many raters gave each option (columns,
    in scale order): what Krippendorff's alpha reads."""
    judged = [r for r in units(a for a in answers if a.question == q.name).values() if len(r) >= 2]
    counts = np.zeros((len(judged), len(q.options)), dtype=int)
    for row, by_rater in enumerate(judged):
        for value in by_rater.values():
            counts[row, q.code(value)] += 1
    return counts


def _alpha(q: Question, counts: np.ndarray) -> float | None:
    if len(counts) == 0 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None  # no unit with two raters, or one value only: alpha is undefined
    return float(krippendorff.alpha(value_counts=counts, level_of_measurement=q.level))


def alpha(q: Question, answers: Sequence[Answer]) -> float | None:
    """Krippendorff's alpha (ordinal or nominal, as the question declares); None when it is undefined
    (no unit with two raters or more, or only one value ever given)."""
    return _alpha(q, value_counts(q, answers))


def alpha_interval(q: Question, answers: Sequence[Answer], rounds: int = BOOTSTRAP_ROUNDS
                   ) -> tuple[float, float] | None:
    """A 95% interval for alpha from resampling units (Hayes & Krippendorff 2007 resample the units too), with a
    fixed seed; None with fewer than MIN_UNITS units or when no resample varies."""
    counts = value_counts(q, answers)
    if len(counts) < MIN_UNITS:
        return None
    rng = np.random.default_rng(SEED)
    drawn = [_alpha(q, counts[rng.integers(0, len(counts), len(counts))]) for _ in range(rounds)]
    values = [v for v in drawn if v is not None]
    if not values:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def agreement_table(answers: Sequence[Answer]) -> pd.DataFrame:
    """Per question: its level, the units alpha rests on (judged by two raters or more) and their raters, all
    answers, alpha with its 95% interval, and a note where the units are too few for an interval."""
    rows = []
    for q in QUESTIONS:
        mine = [a for a in answers if a.question == q.name]
        judged = {u: r for u, r in units(mine).items() if len(r) >= 2}
        value, interval = alpha(q, mine), alpha_interval(q, mine)
        note = (f"too few units: {len(judged)} of the {MIN_UNITS} an interval needs" if len(judged) < MIN_UNITS
                else "" if value is not None else "undefined: one answer given throughout")
        rows.append({"question": q.label, "level": q.level, "units": len(judged),
                     "raters": len({r for by_rater in judged.values() for r in by_rater}), "answers": len(mine),
                     "alpha": None if value is None else round(value, 3),
                     "95% CI": None if interval is None else f"{interval[0]:.2f} to {interval[1]:.2f}",
                     "note": note})
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
