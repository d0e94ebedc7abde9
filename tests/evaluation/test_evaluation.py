"""Evaluation: each metric on small hand-built dialogues with hand-worked answers; the harness end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.dialogue.transcript import Booked, CallWithAnswer, Found, ToolAnswered, ToolCalled, Transcript
from app.evaluation import normalise
from app.evaluation.delex import api_values, delexicalise
from app.evaluation.gold import gold_outputs
from app.evaluation.labels import canonical_state
from app.evaluation.metrics import StateScores
from app.evaluation.venues import VenueDatabase
from app.settings import REPO_ROOT

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
needs_test_data = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                     reason="the MultiWOZ test files are not beside the repository")


def test_jga_and_slot_scores_by_hand():
    scores = StateScores()
    gold = {"hotel-area": "north", "hotel-book day": "friday", "train-leaveat": "05:30", "train-day": "dontcare"}
    # 1: right, though written differently (app names, unpadded time, "center" style spellings)
    assert scores.add(canonical_state({"hotel-area": "North", "hotel-bookday": "friday", "train-leaveat": "5:30",
                                       "train-day": "don't care"}, keys_are_app_names=True), canonical_state(gold))
    # 2: one wrong value (tp 3, fp 1, fn 1) and a dontcare missed (fn 1)
    assert not scores.add(canonical_state({"hotel-area": "south", "hotel-bookday": "friday",
                                           "train-leaveat": "05:30"}, keys_are_app_names=True), canonical_state(gold))
    summary = scores.summary()
    assert summary["jga"] == 50.0 and summary["turns"] == 2
    assert summary["slot_precision"] == round(100 * 6 / 7, 2)  # 4 + 2 right of 4 + 3 predicted
    assert summary["slot_recall"] == 75.0  # 6 of 8
    assert summary["per_domain"]["hotel"]["jga"] == 50.0 and summary["per_domain"]["train"]["jga"] == 50.0


def test_guest_house_and_center_spellings_compare_equal():
    assert canonical_state({"hotel-type": "guest house", "hotel-area": "center", "taxi-departure": "saint john's"}) \
        == canonical_state({"hotel-type": "guesthouse", "hotel-area": "centre", "taxi-departure": "saint johns"})


@pytest.fixture(scope="module")
def venues(engine):
    return VenueDatabase.from_engine(engine)


def test_the_real_database_through_mwzevals_lookup(venues, raw_records):
    wanted = {"food": "indian", "area": "west", "pricerange": "expensive"}
    by_hand = tuple(r["id"] for r in raw_records["restaurant"] if all(r[k] == v for k, v in wanted.items()))
    assert len(by_hand) > 1 and venues.query("restaurant", wanted) == by_hand
    # "christ college" is one of mwzeval's aliases; its partial ratio with the real name is only 86
    assert venues.query("attraction", {"name": normalise.slot_value("name", "christ college")}) \
        == venues.query("attraction", {"name": "christ's college"}) != ()
    assert len(venues.query("train", {"day": "monday", "departure": "cambridge", "destination": "ely",
                                      "leave": "dontcare"})) > 5


def test_delexicalisation_uses_the_values_the_apis_returned():
    row = {"name": "acorn guest house", "phone": "01223353888", "postcode": "cb41da", "address": "154 chesterton road"}
    found = Found(domain="hotel", count=1, rows=[row])
    booked = Booked(domain="hotel", reference="K2BO09VQ", details={"name": "acorn guest house"})
    calls = [CallWithAnswer(ToolCalled(turn=0, call_id=str(n), name=name),
                            ToolAnswered(turn=0, call_id=str(n), result=result))
             for n, (name, result) in enumerate([("FindHotel", found), ("BookHotel", booked)])]
    text = "Acorn Guest House (154 Chesterton Road, cb41da, 01223353888) is booked: K2BO09VQ. Acornish stays."
    assert delexicalise(text, api_values(calls)) == \
        "[name] ([address], [postcode], [phone]) is booked: [reference]. Acornish stays."


def test_gold_outputs_are_calls_that_reach_the_gold_state():
    state = {"hotel-area": "north", "hotel-book day": "friday", "hotel-book people": "2", "hotel-name": "acorn"}
    outputs = gold_outputs(state, {"hotel-area": "north"}, "Done, [reference].", "coalm")
    assert outputs == [
        "Action: FindHotel(area='north', name='acorn'), BookHotel(name='acorn', day='friday', people='2')",
        "System: Done, [reference]."]
    assert gold_outputs(state, {"hotel-area": "north", "hotel-bookday": "friday", "hotel-bookpeople": "2",
                                "hotel-name": "acorn"}, "Hi", "tools") == ["Hi"]


def evaluate(*args, out):
    return subprocess.run([sys.executable, "-m", "app.evaluate", *args, "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)


@needs_test_data
def test_harness_end_to_end_and_resume(tmp_path):
    out = tmp_path / "run"
    first = evaluate("--backend", "gold", "--dialogues", "SNG0073", out=out)
    assert first.returncode == 0, first.stderr
    with (out / "results.jsonl").open("a") as results:
        results.write('{"id": "pmul4648", "turns": [')  # a crash in the middle of writing a line
    second = evaluate("--backend", "gold", "--dialogues", "SNG0073", "PMUL4648", "MUL1489", out=out)
    assert second.returncode == 0, second.stderr
    ids = [json.loads(line)["id"] for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(ids) == ["mul1489", "pmul4648", "sng0073"]  # the finished one was not run again
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(predictions) == {"mul1489", "pmul4648", "sng0073"}
    first_turn = predictions["sng0073"][0]
    assert set(first_turn) == {"response", "state", "active_domains"}
    assert first_turn["state"] == {"taxi": {"departure": "saint johns college", "destination": "pizza hut fenditton"}}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"] == "2.4" and metrics["dialogues"] == 3 and metrics["state"]["turns"] > 10
    assert (out / "per_domain.png").stat().st_size > 1000
    assert "inform" in (out / "dialogues.csv").read_text().splitlines()[0]
    # Each dialogue's transcript is kept: the agent's own replies, and the corpus' replies beside them.
    transcripts = [Transcript.from_json(line) for line in (out / "transcripts.jsonl").read_text().splitlines()]
    sng = next(t for t in transcripts if t.meta["test_dialogue"] == "sng0073")
    assert all(turn.reply is not None and turn.answered for turn in sng.turns())
    assert any(turn.history_reply != turn.reply.text for turn in sng.turns())  # "[name]" beside the real name


@needs_test_data
def test_a_resumed_run_keeps_one_whole_transcript_per_dialogue(tmp_path):
    """A crash after a transcript line was written but before its result line (or in the middle of the transcript
    line) must not leave a second transcript of the rerun dialogue, nor a broken line, in transcripts.jsonl."""
    out = tmp_path / "run"
    first = evaluate("--backend", "gold", "--dialogues", "SNG0073", "PMUL4648", out=out)
    assert first.returncode == 0, first.stderr
    assert "not a valid goal" not in first.stderr  # the corpus goal is no Goal: it was warned about every turn
    results = out / "results.jsonl"
    results.write_text("".join(line + "\n" for line in results.read_text().splitlines()
                               if json.loads(line)["id"] != "pmul4648"))  # its result line never written
    with (out / "transcripts.jsonl").open("a") as transcripts:
        transcripts.write('{"version": 2, "id": "eval-mul1489')  # a crash in the middle of a transcript
    second = evaluate("--backend", "gold", "--dialogues", "SNG0073", "PMUL4648", "MUL1489", out=out)
    assert second.returncode == 0, second.stderr
    lines = (out / "transcripts.jsonl").read_text().splitlines()
    dialogues = [Transcript.from_json(line).meta["test_dialogue"] for line in lines]
    assert sorted(dialogues) == ["mul1489", "pmul4648", "sng0073"]


def test_missing_test_data_says_where_to_put_it(tmp_path):
    done = subprocess.run([sys.executable, "-m", "app.evaluate", "--backend", "gold", "--test-dir",
                           str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "WOZ_HOME": str(tmp_path / "home")})
    assert done.returncode == 2 and "--test-dir" in done.stderr and "test.json" in done.stderr


@needs_test_data
def test_test_data_dir_fixture_path_is_what_the_cli_defaults_to(monkeypatch):
    from app.settings import Settings

    monkeypatch.delenv("WOZ_TEST_DIR", raising=False)
    assert Settings().test_dir == TEST_DIR
    monkeypatch.setenv("WOZ_TEST_DIR", "/elsewhere")
    assert Settings().test_dir == Path("/elsewhere")  # WOZ_TEST_DIR is read (the log advised it; nothing did)


def test_bad_predictions_files_get_a_clear_message(tmp_path):
    from app.evaluation.scoring import BadPredictions, load_predictions

    cases = {"{not json": "not in mwzeval's predictions format",
             '{"sng0073": [{"state": {}}]}': "sng0073.0.response: Field required",
             '{"sng0073": [{"response": "hi", "state": {"taxi": ["x"]}}]}': "sng0073.0.state.taxi",
             '["sng0073"]': "(top level)"}
    for text, expected in cases.items():
        path = tmp_path / "p.json"
        path.write_text(text)
        with pytest.raises(BadPredictions, match=re.escape(expected)):
            load_predictions(path)
    with pytest.raises(BadPredictions, match="cannot read"):
        load_predictions(tmp_path / "absent.json")
    path.write_text('{"SNG0073.json": [{"response": "hi", "state": {"taxi": {"leave at": 5}}}]}')
    assert load_predictions(path)["sng0073"][0].state == {"taxi": {"leave at": "5"}}  # ids and numbers as mwzeval


@needs_test_data
def test_score_a_file_made_elsewhere(tmp_path):
    predictions = {"sng0073": [{"response": "[taxi_type] , [value_phone] ."}] * 4,
                   "mul1489": [{"response": "ok"}] * 9}
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps(predictions))
    done = evaluate("--score", str(path), "--fix-mwzeval", out=tmp_path / "scored")
    assert done.returncode == 0, done.stderr
    assert "998 test dialogue(s) are not in" in done.stderr
    metrics = json.loads((tmp_path / "scored" / "metrics.json").read_text())
    assert metrics["dialogues"] == 2 and len(metrics["missing_dialogues"]) == 998
    assert metrics["inform"] == 50.0 and metrics["success"] == 50.0  # the taxi dialogue passes, mul1489 does not
    assert metrics["state"] is None and metrics["scorer"]["states"].startswith("gold MultiWOZ 2.4")
    scorer = metrics["scorer"]
    assert scorer["mwzeval_mistakes"] == "corrected" and scorer["active_domains"].startswith("estimated")
    assert metrics["per_domain"]["taxi"] == {"inform": 100.0, "success": 100.0, "dialogues": 1, "jga": None,
                                             "slot_f1": None}
    path.write_text(json.dumps({"xyz0001": [{"response": "hi"}]}))
    refused = evaluate("--score", str(path), out=tmp_path / "scored")
    assert refused.returncode == 2 and "not MultiWOZ test dialogues: xyz0001" in refused.stderr
