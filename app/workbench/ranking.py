"""Ranking systems from arena votes: Bradley-Terry strengths (choix) with bootstrap intervals, and win rates.

A tie or "both bad" counts as half a win for each side (as in LMSYS' Chatbot Arena): a decisive vote enters as
two comparisons, a tie as one in each direction.

The interval resamples whole matches, not single votes: the votes on one match (its turns, its whole-dialogue
vote, several voters) share the same two dialogues, so they are not independent, and resampling them one by one
makes an interval look narrower than the data allow. The bootstrap uses a fixed seed, so the same votes always
give the same table.

Too few votes: a system needs MIN_MATCHES matches before it gets a strength and an interval. With fewer, even
a clean sweep cannot be told from a coin toss: if two systems were equal, n independent matches would all go
one way with probability 2 x 0.5^n, which is 0.0625 for n = 5 and first falls under 0.05 at n = 6 (0.031).
Below that the strength only reflects the regularisation (one vote gives +-2.3) and a percentile interval over
identical resamples has zero width, so the table says "too few votes" instead of a number. Where every match
went the same way the resamples are identical too, and the table says so rather than print a zero-width
interval (the strength of a clean sweep grows without bound as the regularisation shrinks).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import choix
import numpy as np
import pandas as pd

from app.workbench.arena_store import Vote

BOOTSTRAP_ROUNDS = 300
SEED = 20260101
REGULARISATION = 0.01  # keeps strengths finite when one system has won every vote
MIN_MATCHES = 6  # the fewest matches a clean sweep needs to differ from a coin toss at the 5% level (see above)
COLUMNS = ["system", "strength", "ci_low", "ci_high", "matches", "votes", "wins", "losses", "ties", "both bad",
           "win rate", "note"]


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


def match_bootstrap(votes: Sequence[Vote], systems: list[str], rounds: int) -> np.ndarray:
    """Strengths over `rounds` resamples of whole matches (rounds x systems); NaN where a resample holds no
    match of that system."""
    by_match: dict[str, list[Vote]] = defaultdict(list)
    for vote in votes:
        by_match[vote.match_id].append(vote)
    matches = sorted(by_match)
    rng = np.random.default_rng(SEED)
    samples = np.full((rounds, len(systems)), np.nan)
    for row in range(rounds):
        drawn = [vote for i in rng.integers(0, len(matches), len(matches)) for vote in by_match[matches[i]]]
        present = {s for v in drawn for s in (v.system_a, v.system_b)}
        result = strengths(drawn, systems)
        samples[row] = [value if name in present else np.nan for name, value in zip(systems, result, strict=True)]
    return samples


def ranking(votes: Sequence[Vote], rounds: int = BOOTSTRAP_ROUNDS) -> pd.DataFrame:
    """Per system: Bradley-Terry strength (log scale, mean 0) with a 95% interval from resampled matches, the
    matches and votes behind it, wins, losses, ties, both bad, win rate (wins over votes), and a note where there
    is no honest interval; best first, systems with too few votes last."""
    systems = sorted({s for v in votes for s in (v.system_a, v.system_b)})
    if len(systems) < 2:
        return pd.DataFrame(columns=COLUMNS)
    point = strengths(votes, systems)
    samples = match_bootstrap(votes, systems, rounds)
    rows = []
    for i, name in enumerate(systems):
        tally = _tally(votes, name)
        mine = samples[:, i][~np.isnan(samples[:, i])]
        low, high = (np.percentile(mine, [2.5, 97.5]) if len(mine) else (np.nan, np.nan))
        note, shown = "", True
        if tally["matches"] < MIN_MATCHES:
            note, shown = f"too few votes: {tally['matches']} of the {MIN_MATCHES} matches an interval needs", False
        elif not high - low > 1e-9:
            note, shown = f"no interval: all {tally['matches']} matches went the same way", False
        rows.append({"system": name, "strength": round(float(point[i]), 3) if shown else None,
                     "ci_low": round(float(low), 3) if shown else None,
                     "ci_high": round(float(high), 3) if shown else None, **tally,
                     "win rate": round(tally["wins"] / tally["votes"], 3) if tally["votes"] else None, "note": note})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["strength", "system"], ascending=[False, True], na_position="last", ignore_index=True)


def _tally(votes: Sequence[Vote], system: str) -> dict[str, int]:
    mine = [(v, "a" if v.system_a == system else "b") for v in votes if system in (v.system_a, v.system_b)]
    return {"matches": len({v.match_id for v, _ in mine}), "votes": len(mine),
            "wins": sum(v.winner == side for v, side in mine),
            "losses": sum(v.winner in ("a", "b") and v.winner != side for v, side in mine),
            "ties": sum(v.winner == "tie" for v, _ in mine), "both bad": sum(v.winner == "bothbad" for v, _ in mine)}
