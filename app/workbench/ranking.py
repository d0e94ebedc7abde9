"""Ranking systems from arena votes: Bradley-Terry strengths (choix) with bootstrap intervals, and win rates.

A tie or "both bad" counts as half a win for each side (as in LMSYS' Chatbot Arena): a decisive vote enters as
two comparisons, a tie as one in each direction. The bootstrap uses a fixed seed, so the same votes always give
the same table.
"""

from __future__ import annotations

from collections.abc import Sequence

import choix
import numpy as np
import pandas as pd

from app.workbench.arena_store import Vote

BOOTSTRAP_ROUNDS = 300
SEED = 20260101
REGULARISATION = 0.01  # keeps strengths finite when one system has won every vote


def comparisons(votes: Sequence[Vote], index: dict[str, int]) -> list[tuple[int, int]]:
    """(winner, loser) pairs for choix."""
    pairs: list[tuple[int, int]] = []
    for vote in votes:
        a, b = index[vote.system_a], index[vote.system_b]
        if vote.winner == "a":
            pairs += [(a, b), (a, b)]
        elif vote.winner == "b":
            pairs += [(b, a), (b, a)]
        else:
            pairs += [(a, b), (b, a)]
    return pairs


def strengths(votes: Sequence[Vote], systems: list[str]) -> np.ndarray:
    """Bradley-Terry strengths of the systems (in the order given), centred on zero."""
    index = {name: i for i, name in enumerate(systems)}
    params = choix.ilsr_pairwise(len(systems), comparisons(votes, index), alpha=REGULARISATION)
    return params - params.mean()


def ranking(votes: Sequence[Vote], rounds: int = BOOTSTRAP_ROUNDS) -> pd.DataFrame:
    """Per system: Bradley-Terry strength (log scale, mean 0) with a 95% bootstrap interval, wins, losses,
    ties, both bad, win rate (wins over votes); best first."""
    columns = ["system", "strength", "ci_low", "ci_high", "votes", "wins", "losses", "ties", "both bad", "win rate"]
    systems = sorted({s for v in votes for s in (v.system_a, v.system_b)})
    if len(systems) < 2:
        return pd.DataFrame(columns=columns)
    point = strengths(votes, systems)
    rng = np.random.default_rng(SEED)
    samples = np.array([strengths([votes[i] for i in rng.integers(0, len(votes), len(votes))], systems)
                        for _ in range(rounds)])
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    rows = []
    for i, name in enumerate(systems):
        tally = _tally(votes, name)
        rows.append({"system": name, "strength": round(float(point[i]), 3), "ci_low": round(float(low[i]), 3),
                     "ci_high": round(float(high[i]), 3), **tally,
                     "win rate": round(tally["wins"] / tally["votes"], 3) if tally["votes"] else None})
    return pd.DataFrame(rows, columns=columns).sort_values(["strength", "system"], ascending=[False, True],
                                                           ignore_index=True)


def _tally(votes: Sequence[Vote], system: str) -> dict[str, int]:
    mine = [(v, "a" if v.system_a == system else "b") for v in votes if system in (v.system_a, v.system_b)]
    return {"votes": len(mine), "wins": sum(v.winner == side for v, side in mine),
            "losses": sum(v.winner in ("a", "b") and v.winner != side for v, side in mine),
            "ties": sum(v.winner == "tie" for v, _ in mine), "both bad": sum(v.winner == "bothbad" for v, _ in mine)}
