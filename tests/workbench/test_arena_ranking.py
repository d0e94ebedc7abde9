"""Arena votes and the Bradley-Terry ranking: known strengths, side symmetry, ties, intervals, the store."""

from __future__ import annotations

import math

import pytest

from app.workbench.arena_store import ArenaStore, Vote
from app.workbench.ranking import ranking
from db.engine import make_engine


def votes(a: str, b: str, winners: str) -> list[Vote]:
    """One match per letter, with one vote: a, b, t(ie), x (both bad)."""
    names = {"a": "a", "b": "b", "t": "tie", "x": "bothbad"}
    return [Vote(f"{a}-{b}-m{i}", a, b, names[w], None, "v")  # type: ignore[arg-type]
            for i, w in enumerate(winners)]


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
    table = ranking(votes("p", "q", "ttxx" * 2)).set_index("system")
    assert table.loc["p", "strength"] == pytest.approx(table.loc["q", "strength"], abs=1e-6)
    assert table.loc["p", ["ties", "both bad", "wins", "win rate"]].tolist() == [4, 4, 0, 0.0]


def test_three_systems_order_and_reproducible_intervals():
    mixed = votes("s1", "s2", "aaab") + votes("s2", "s3", "aaab") + votes("s1", "s3", "aaab")
    first, again = ranking(mixed), ranking(list(mixed))
    assert first["system"].tolist() == ["s1", "s2", "s3"]
    assert first.equals(again)
    assert (first["ci_low"] <= first["strength"]).all() and (first["strength"] <= first["ci_high"]).all()


def test_one_system_is_no_ranking():
    assert ranking([]).empty


@pytest.mark.parametrize("winners", ["a", "aaa", "aab", "ab" * 2 + "a"])
def test_too_few_matches_say_so_instead_of_a_certain_looking_number(winners):
    """One vote gave strengths of +-2.3 from the regularisation alone, with a zero-width interval."""
    table = ranking(votes("coalm", "tools", winners))
    assert table["strength"].isna().all() and table["ci_low"].isna().all() and table["ci_high"].isna().all()
    assert table["note"].str.startswith(f"too few votes: {len(winners)} of the 6 matches").all()
    assert table["votes"].tolist() == [len(winners)] * 2  # the tally stays


def test_three_votes_on_one_match_are_one_match():
    one_match = [Vote("m1", "coalm", "tools", "a", turn, "v") for turn in (0, 1, 2)]  # type: ignore[arg-type]
    table = ranking(one_match).set_index("system")
    assert table.loc["coalm", "matches"] == 1 and table.loc["coalm", "votes"] == 3
    assert table["strength"].isna().all()


def test_a_clean_sweep_gets_no_zero_width_interval():
    table = ranking(votes("coalm", "tools", "a" * 8)).set_index("system")
    assert table["strength"].isna().all() and table["ci_low"].isna().all()
    assert table.loc["coalm", "note"] == "no interval: all 8 matches went the same way"
    assert table.loc["coalm", "wins"] == 8


def test_votes_of_one_match_are_resampled_together():
    """Ten matches, ten turn votes each, every vote of a match for that match's winner: resampling single votes
    treats that as 100 independent votes and gives an interval about sqrt(10) times too narrow."""
    per_match = [Vote(f"m{m}", "coalm", "tools", "a" if m < 7 else "b", turn, "v")  # type: ignore[arg-type]
                 for m in range(10) for turn in range(10)]
    as_if_independent = [Vote(f"{v.match_id}-{v.turn}", v.system_a, v.system_b, v.winner, v.turn, v.voter)
                         for v in per_match]
    grouped = ranking(per_match).set_index("system")
    loose = ranking(as_if_independent).set_index("system")
    assert grouped.loc["coalm", "strength"] == pytest.approx(loose.loc["coalm", "strength"])
    width = grouped.loc["coalm", "ci_high"] - grouped.loc["coalm", "ci_low"]
    assert width > 2 * (loose.loc["coalm", "ci_high"] - loose.loc["coalm", "ci_low"])
    assert grouped.loc["coalm", "matches"] == 10 and grouped.loc["coalm", "votes"] == 100


def test_the_store_keeps_one_vote_per_voter_and_turn(tmp_path):
    store = ArenaStore(make_engine(f"sqlite:///{tmp_path / 'arena.sqlite3'}"))
    store.record_match("m1", "coalm", "tools", "m1-a", "m1-b")
    assert store.vote("m1", "a", "ann", turn=0) is False
    assert store.vote("m1", "b", "ann", turn=0) is True  # a change of mind replaces the vote
    assert store.vote("m1", "tie", "ann") is False and store.vote("m1", "a", "ann") is True
    store.vote("m1", "a", "bob", turn=0)
    assert sorted((v.voter, str(v.turn), v.winner) for v in store.votes()) == [
        ("ann", "0", "b"), ("ann", "None", "a"), ("bob", "0", "a")]
    assert ranking(store.votes())[["votes"]].sum().item() == 6  # three votes, each counted for both systems


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
