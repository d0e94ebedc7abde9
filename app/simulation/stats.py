"""How sure a simulated score is: bootstrap confidence intervals over goals, pass^k over repeated runs, and the
smallest difference between two runs that is more than noise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Interval:
    """An estimate in percent with the low and high ends of its confidence interval."""

    estimate: float  # percent
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        """The interval as a report entry: value, low, high."""
        return {"value": self.estimate, "low": self.low, "high": self.high}


def bootstrap_ci(per_goal: Sequence[float]) -> Interval:
    """The mean (in %) of per-goal scores, with a percentile-bootstrap 95% interval resampling goals."""
    data = np.asarray(per_goal, dtype=float)
    if data.size == 0:
        return Interval(0.0, 0.0, 0.0)
    mean = float(data.mean())
    if np.all(data == data[0]) and data[0] not in (0.0, 1.0):
        return _pct(Interval(mean, mean, mean))
    if np.all(data == data[0]):
        # Nothing varies, so resampling sees no spread; 1,000 of 1,000 still leaves doubt: Wilson's interval.
        wilson = stats.binomtest(round(data.sum()), data.size).proportion_ci(CONFIDENCE, method="wilson")
        return _pct(Interval(mean, float(wilson.low), float(wilson.high)))
    result = stats.bootstrap((data,), np.mean, confidence_level=CONFIDENCE, n_resamples=RESAMPLES,
                             method="percentile", rng=np.random.default_rng(SEED))
    return _pct(Interval(mean, float(result.confidence_interval.low), float(result.confidence_interval.high)))


def pass_hat_k(successes: Sequence[int], trials: int, k: int) -> float:
    """tau-bench's pass^k (in %): the chance that k runs of a goal, drawn from its `trials`, all succeed,
    averaged over goals (successes[i] of goal i out of `trials`)."""
    if not successes or k > trials:
        return 0.0
    return round(100 * sum(math.comb(c, k) for c in successes) / (len(successes) * math.comb(trials, k)), 2)


def pass_hat_k_over_goals(outcomes: Sequence[tuple[int, int]], k: int) -> float:
    """pass^k (in %) over every goal, each with its own (successes, runs): a goal with fewer than k runs cannot
    show k passes and counts as not passing (it stays in the denominator; see `report` for the list)."""
    if not outcomes:
        return 0.0
    chances = [math.comb(c, k) / math.comb(n, k) if n >= k else 0.0 for c, n in outcomes]
    return round(100 * sum(chances) / len(chances), 2)


def smallest_real_difference(per_goal: Sequence[float]) -> float:
    """The difference (in points) two independent runs over these goals must show to be real at 95%: two
    bootstrap standard errors of the mean combined (sqrt 2), times the normal quantile."""
    data = np.asarray(per_goal, dtype=float)
    if data.size < 2:
        return 100.0
    if data.std():
        errors = float(stats.bootstrap((data,), np.mean, n_resamples=RESAMPLES, method="percentile",
                                       rng=np.random.default_rng(SEED)).standard_error)
    else:  # all alike: the bootstrap sees no spread, Agresti-Coull's standard error (2 successes, 2 failures added)
        adjusted = (data.sum() + 2) / (data.size + 4)
        errors = math.sqrt(adjusted * (1 - adjusted) / (data.size + 4))
    return round(100 * float(stats.norm.ppf(0.5 + CONFIDENCE / 2)) * math.sqrt(2) * errors, 2)


def paired_difference(mine: Sequence[float], theirs: Sequence[float]) -> tuple[Interval, bool]:
    """This run minus another over the same goals (paired), with its 95% interval; real when it excludes 0."""
    differences = np.asarray(mine, dtype=float) - np.asarray(theirs, dtype=float)
    interval = bootstrap_ci(differences)
    return interval, interval.low > 0 or interval.high < 0


def _pct(interval: Interval) -> Interval:
    return Interval(*(round(100 * v, 2) for v in (interval.estimate, interval.low, interval.high)))
