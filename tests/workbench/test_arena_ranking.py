"""Arena votes and the Bradley-Terry ranking: known strengths, side symmetry, ties, intervals, the store."""

from __future__ import annotations

import math

import pytest

from app.workbench.arena_store import ArenaStore, Vote
from app.workbench.ranking import ranking
from db.engine import make_engine


def votes(a: str, b: str, winners: str) -> list[Vote]:
    """One vote per letter: a, b, t(ie), x (both bad)."""
    names = {"a": "a", "b": "b", "t": "tie", "x": "bothbad"}
    return [Vote(f"m{i}", a, b, names[w], None, "v") for i, w in enumerate(winners)]  # type: ignore[arg-type]


def test_four_wins_in_five_give_a_strength_gap_of_log_four():
    table = ranking(votes("coalm", "tools", "aaaab" * 6)).set_index("system")
    gap = table.loc["coalm", "strength"] - table.loc["tools", "strength"]
    assert gap == pytest.approx(math.log(4), rel=0.05)
    assert table.loc["coalm", "ci_low"] > table.loc["tools", "ci_high"]  # 30 votes separate them
    assert table.loc["coalm", "win rate"] == 0.8 and table.index[0] == "coalm"


def test_which_side_a_system_sat_on_does_not_matter():
    left = votes("coalm", "tools", "aabtbx")
    swapped = [Vote(v.match_id, v.system_b, v.system_a, {"a": "b", "b": "a"}.get(v.winner, v.winner), None, "v")
               for v in left]
    assert ranking(swapped).equals(ranking(left))


def test_ties_and_both_bad_count_half_for_each_side_and_are_reported():
    table = ranking(votes("p", "q", "ttxx")).set_index("system")
    assert table.loc["p", "strength"] == pytest.approx(table.loc["q", "strength"], abs=1e-6)
    assert table.loc["p", ["ties", "both bad", "wins", "win rate"]].tolist() == [2, 2, 0, 0.0]


def test_three_systems_order_and_reproducible_intervals():
    mixed = votes("s1", "s2", "aaab") + votes("s2", "s3", "aaab") + votes("s1", "s3", "aaaa")
    first, again = ranking(mixed), ranking(list(mixed))
    assert first["system"].tolist() == ["s1", "s2", "s3"]
    assert first.equals(again)
    assert (first["ci_low"] <= first["strength"]).all() and (first["strength"] <= first["ci_high"]).all()


def test_one_system_is_no_ranking():
    assert ranking([]).empty


def test_the_store_keeps_votes_with_the_hidden_systems(tmp_path):
    store = ArenaStore(make_engine(f"sqlite:///{tmp_path / 'arena.sqlite3'}"))
    store.record_match("m1", "tools", "coalm", "m1-a", "m1-b")
    store.vote("m1", "b", "ann", turn=0)
    store.vote("m1", "tie", "ann")
    with pytest.raises(ValueError, match="one of"):
        store.vote("m1", "left", "ann")
    with pytest.raises(ValueError, match="no arena match"):
        store.vote("m2", "a", "ann")
    assert store.votes() == [Vote("m1", "tools", "coalm", "b", 0, "ann"), Vote("m1", "tools", "coalm", "tie", None,
                                                                                "ann")]
