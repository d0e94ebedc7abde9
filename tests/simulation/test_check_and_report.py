"""`python -m app.simulate` with the rule-based system and seeds, the reports (blame, pass^k over every goal), and
`--check FILE` over simulation runs, evaluation runs, saved dialogues and the corpus itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.dialogue.transcript import Booked, ToolAnswered, ToolError, Transcript, UserSaid
from app.settings import REPO_ROOT
from app.simulation.report import report

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
needs_test_data = pytest.mark.skipif(not (TEST_DIR / "test_mwz24" / "original.json").is_file(),
                                     reason="the MultiWOZ test files are not beside the repository")


def record(goal: str, run: int, complete: bool, blame: str | None = None, conveyed: bool = True) -> dict[str, Any]:
    verdict = {"inform": complete, "success": complete, "book": None, "complete": complete, "blame": blame,
               "blame_reason": "", "user_conveyed": conveyed,
               "domains": [{"domain": "attraction", "inform": complete, "passed": complete,
                            "problems": [] if complete else ["no venue was offered"], "requested": {}}],
               "extra_bookings": []}
    return {"goal": goal, "run": run, "turns": 6, "corpus_turns": 7, "alignment": 1.0 if conveyed else 0.5,
            "verdict": verdict, "transcript": {"meta": {}}}


def test_pass_hat_k_counts_every_goal_and_names_those_short_of_runs():
    """Goal a: 4 runs, 3 complete; goal b: 2 runs (two were lost), both complete; goal c: 4 runs, none."""
    records = [record("a", r, r < 3) for r in range(4)] + [record("b", r, True) for r in range(2)] \
        + [record("c", r, False, "agent") for r in range(4)]
    metrics = report(records, 4, {"system": "s", "user": "u"})
    # pass^1: a 3/4, b 2/2, c 0 -> (0.75 + 1 + 0) / 3; pass^3: a 1/4, b cannot show 3 passes, c 0
    assert metrics["pass_hat_k"] == {"1": round(100 * 1.75 / 3, 2), "2": round(100 * (3 / 6 + 1) / 3, 2),
                                     "3": round(100 * 0.25 / 3, 2), "4": 0.0}
    assert metrics["goals_short_of_runs"] == {"b": 2} and metrics["goals"] == 3


def test_infrastructure_failures_stay_out_of_the_rates_and_blame_is_counted():
    records = [record("a", 0, True), record("b", 0, False, "agent"), record("c", 0, False, "user", conveyed=False),
               record("d", 0, False, "infrastructure")]
    metrics = report(records, 1, {"system": "s", "user": "u"})
    assert metrics["blame"] == {"agent": 1, "user": 1, "infrastructure": 1}
    assert metrics["infrastructure_failures"] == 1
    assert metrics["rates"]["complete"]["value"] == round(100 / 3, 2)  # a, b, c: the infrastructure's d is out
    assert metrics["rates_conveyed"]["complete"]["value"] == 50.0 and metrics["rates_conveyed"]["dialogues"] == 2
    assert metrics["mean_turns"] == 6 and metrics["corpus_turns"] == 7


@needs_test_data
def test_rules_with_seeded_users_then_checked_again_from_the_file(tmp_path: Path, raw_db_dir: Path, monkeypatch,
                                                                  capsys):
    from app.simulation.cli import main

    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    out = tmp_path / "rules"
    assert main(["--backend", "rules", "--goals", "8", "--runs", "2", "--seed", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pass^2" in printed and "by blame" in printed and "the corpus' users took" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rates"]["complete"]["value"] == 100.0 and metrics["seed"] == 7
    assert set(metrics["pass_hat_k"]) == {"1", "2"} and metrics["user_alignment"] == 100.0
    records = [json.loads(line) for line in (out / "transcripts.jsonl").read_text().splitlines()]
    words = {(r["goal"], r["run"]): [e.text for e in Transcript.from_data(r["transcript"]).events
                                     if isinstance(e, UserSaid)] for r in records}
    differ = [goal for goal, run in words if run == 0 and words[goal, 0] != words[goal, 1]]
    assert len(differ) >= 6  # seed 7 and seed 8 talk differently
    # The same dialogues checked again from the file: the same verdicts.
    again = tmp_path / "again"
    assert main(["--check", str(out / "transcripts.jsonl"), "--out", str(again)]) == 0
    checked = json.loads((again / "metrics.json").read_text())
    assert checked["dialogues"] == 16 and checked["rates"] == metrics["rates"]
    assert checked["costs"] == metrics["costs"] and checked["costs"]["model_calls"] > 0  # read from the transcripts
    assert checked["provenance"]["data"] == metrics["provenance"]["data"] and checked["provenance"]["model"] is None
    assert (again / "verdicts.csv").read_text().count("\n") == 17
    # One saved dialogue (as the page downloads it) is checked too.
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"transcript": records[0]["transcript"], "ratings": []}))
    assert main(["--check", str(single), "--out", str(tmp_path / "one")]) == 0
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["dialogues"] == 1


@needs_test_data
def test_a_file_that_holds_no_transcripts_is_refused_in_one_line(tmp_path: Path, capsys):
    from app.simulation.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\nnor this\n")
    assert main(["--check", str(bad), "--out", str(tmp_path / "out"), "--test-dir", str(TEST_DIR)]) == 2
    error = capsys.readouterr().err.strip()
    assert "line 1" in error and "\n" not in error and "Traceback" not in error


@needs_test_data
def test_evaluation_transcripts_and_the_corpus_are_checked(tmp_path: Path, raw_db_dir: Path, monkeypatch, capsys):
    """An evaluation run's transcripts (their goal found by test dialogue), and the corpus replayed with the human's
    words: it books the train the human booked (by its id), and the cross-check with mwzeval is written."""
    from app.evaluation.cli import main as evaluate
    from app.simulation.cli import main

    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    dialogues = ["MUL1598", "SNG0073", "PMUL4134", "MUL2499"]  # trains booked in the first and third
    assert evaluate(["--backend", "gold", "--dialogues", *dialogues, "--out", str(tmp_path / "eval")]) == 0
    assert main(["--check", str(tmp_path / "eval" / "transcripts.jsonl"), "--out", str(tmp_path / "evalcheck")]) == 0
    assert json.loads((tmp_path / "evalcheck" / "metrics.json").read_text())["dialogues"] == 4
    out = tmp_path / "corpus"
    assert main(["--check", str(TEST_DIR / "test_mwz21" / "test.json"), "--dialogues", *dialogues,
                 "--out", str(out)]) == 0
    assert "Against mwzeval's Success" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dialogues"] == 4 and metrics["crosscheck"]["dialogues"] == 4
    assert sum(metrics["crosscheck"]["categories"].values()) == 4
    replayed = {json.loads(line)["goal"]: Transcript.from_data(json.loads(line)["transcript"])
                for line in (out / "checked.jsonl").read_text().splitlines()}
    for goal in ("mul1598", "pmul4134"):
        answers = [e.result for e in replayed[goal].events if isinstance(e, ToolAnswered)]
        assert any(isinstance(a, Booked) and a.domain == "train" for a in answers), goal
        assert not any(isinstance(a, ToolError) and "trainid" in a.message for a in answers), goal
    assert (out / "crosscheck.csv").read_text().count("\n") == 5
