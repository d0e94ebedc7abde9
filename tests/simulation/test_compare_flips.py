"""`python -m app.simulate --compare OTHER` lists the goals that flipped: passed in one run, failed in the other,
each with both runs' dialogue ids (printed, in metrics.json and in flips.csv)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app.settings import REPO_ROOT
from app.simulation.cli import main

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
pytestmark = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                reason="the MultiWOZ test files are not beside the repository")
# The oracle that books the wrong day fails the goals with a booking day; the rule-based system passes all three.
GOALS = ["SNG0073", "SNG01608", "SNG0888"]


def dialogue_ids(out: Path) -> dict[str, str]:
    records = [json.loads(line) for line in (out / "transcripts.jsonl").read_text().splitlines()]
    return {r["goal"]: r["transcript"]["id"] for r in records}


def test_compare_lists_the_goals_that_flipped_with_both_dialogues(tmp_path, raw_db_dir, monkeypatch, capsys):
    monkeypatch.setenv("WOZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    rules, wrong_day = tmp_path / "rules", tmp_path / "wrong-day"
    common = ["--dialogues", *GOALS, "--test-dir", str(TEST_DIR)]
    assert main(["--backend", "rules", *common, "--out", str(rules)]) == 0
    capsys.readouterr()
    assert main(["--backend", "oracle-wrong-day", *common, "--out", str(wrong_day), "--compare", str(rules)]) == 0
    printed = capsys.readouterr().out
    mine, theirs = dialogue_ids(wrong_day), dialogue_ids(rules)
    flips = pd.read_csv(wrong_day / "flips.csv")
    assert sorted(flips["goal"]) == ["sng01608", "sng0888"]  # sng0073 (a taxi: no day to get wrong) passed in both
    for flip in flips.itertuples():
        assert (flip.this_run, flip.other_run) == ("failed", "passed")
        assert (flip.this_dialogues, flip.other_dialogues) == (mine[flip.goal], theirs[flip.goal])
        assert flip.problems  # what went wrong on the failing side
        assert f"{flip.goal}: failed here ({mine[flip.goal]}), passed there ({theirs[flip.goal]})" in printed
    assert "2 goal(s) flipped" in printed and "sng0073:" not in printed
    compared = json.loads((wrong_day / "metrics.json").read_text())["compared_with"]
    assert [f["goal"] for f in compared["flipped"]] == ["sng01608", "sng0888"]


def test_compare_with_itself_in_another_folder_flips_nothing(tmp_path, raw_db_dir, monkeypatch, capsys):
    monkeypatch.setenv("WOZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    common = ["--backend", "rules", "--dialogues", *GOALS[:2], "--test-dir", str(TEST_DIR)]
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    assert main([*common, "--out", str(tmp_path / "two"), "--compare", str(tmp_path / "one")]) == 0
    assert "No goal flipped" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "two" / "flips.csv").empty


def test_with_several_runs_a_goal_passes_only_when_every_run_completes():
    from app.simulation.report import flipped

    def record(goal: str, run: int, complete: bool, side: str) -> dict:
        verdict = {"complete": complete, "domains": [{"domain": "hotel", "problems": [] if complete else ["wrong"],
                                                      "requested": {}}]}
        return {"goal": goal, "run": run, "verdict": verdict, "transcript": {"id": f"{side}-{goal}-{run}"}}

    mine = [record("a", 0, True, "m"), record("a", 1, False, "m"), record("b", 0, True, "m"), record("b", 1, True, "m")]
    theirs = [record("a", 1, True, "t"), record("a", 0, True, "t"), record("b", 0, True, "t"),
              record("c", 0, True, "t")]
    assert flipped(mine, theirs) == [{"goal": "a", "this_run": "failed", "other_run": "passed",
                                      "this_dialogues": "m-a-0 m-a-1", "other_dialogues": "t-a-0 t-a-1",
                                      "problems": "hotel: wrong"}]
