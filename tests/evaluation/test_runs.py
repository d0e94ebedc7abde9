"""`python -m app.evaluate` as a careless or hostile user drives it: a folder of another run, a second run into
the same folder, Ctrl-C and SIGTERM, and arguments that make no sense. Each answer is one line and exit status 2,
and nothing already in the folder is lost or mixed."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from app.dialogue.transcript import Transcript
from app.evaluation.cli import main
from tests.run_helpers import (
    command_env,
    in_process,
    lines_in,
    needs_test_files,
    one_line,
    start,
    wait_for_lines,
)

pytestmark = needs_test_files


@pytest.fixture()
def evaluate(tmp_path: Path, raw_db_dir: Path, monkeypatch, capsys):
    """`main(argv)` of app.evaluate in this process; returns (exit status, stderr)."""
    return in_process(main, tmp_path / "home", raw_db_dir, monkeypatch, capsys)


@pytest.fixture()
def gold_run(tmp_path: Path, evaluate) -> Path:
    out = tmp_path / "gold"
    status, err = evaluate("--backend", "gold", "--dialogues", "SNG0073", "--out", str(out))
    assert status == 0, err
    return out


def test_a_run_into_another_systems_folder_is_refused_and_changes_nothing(tmp_path, evaluate, gold_run):
    """Resuming skips the dialogues a folder holds: another system there would be credited with the gold
    oracle's numbers (a scripted system was reported at JGA 90.7 / Success 100)."""
    before = {name: (gold_run / name).read_bytes() for name in ("results.jsonl", "metrics.json", "predictions.json")}
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["System: I cannot help."] * 20))
    status, err = evaluate("--backend", "scripted", "--script", str(script), "--dialogues", "SNG0073",
                           "--out", str(gold_run))
    assert status == 2 and "system gold" in one_line(err) and "another --out" in err
    status, err = evaluate("--backend", "gold", "--labels", "2.1", "--dialogues", "SNG0073", "--out", str(gold_run))
    assert status == 2 and "labels 2.4" in one_line(err)  # the oracle's states follow the labels it read
    assert {name: (gold_run / name).read_bytes() for name in before} == before
    status, err = evaluate("--backend", "gold", "--dialogues", "SNG0073", "PMUL4648", "--out", str(gold_run))
    assert status == 0, err  # the same setup resumes
    assert len(lines_in(gold_run / "results.jsonl")) == 2


def test_scoring_a_file_into_a_run_folder_is_refused(tmp_path, evaluate, gold_run):
    """--score into a run's folder replaced its metrics and left its predictions: two systems in one folder."""
    theirs = tmp_path / "theirs.json"
    theirs.write_text(json.dumps({"sng0073": [{"response": "ok"}] * 4}))
    metrics = (gold_run / "metrics.json").read_bytes()
    status, err = evaluate("--score", str(theirs), "--out", str(gold_run))
    assert status == 2 and "an evaluate run of system gold" in one_line(err)
    assert (gold_run / "metrics.json").read_bytes() == metrics
    scored = tmp_path / "scored"
    assert evaluate("--score", str(theirs), "--out", str(scored))[0] == 0
    assert evaluate("--score", str(theirs), "--out", str(scored))[0] == 0  # scoring the same file again is fine
    status, err = evaluate("--score", str(gold_run / "predictions.json"), "--out", str(scored))
    assert status == 2 and "theirs.json" in one_line(err)


def test_an_empty_predictions_file_is_refused_before_anything_is_written(tmp_path, evaluate):
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    out = tmp_path / "scored"
    status, err = evaluate("--score", str(empty), "--out", str(out))
    assert status == 2 and "holds no dialogues" in one_line(err)
    assert not out.exists()  # metrics.json was written before the crash


def test_evaluation_and_simulation_folders_do_not_mix(tmp_path, evaluate, gold_run, monkeypatch, capsys):
    from app.simulation.cli import main as simulate

    sim = tmp_path / "sim"
    assert simulate(["--backend", "oracle", "--goals", "1", "--out", str(sim)]) == 0
    status, err = evaluate("--backend", "gold", "--dialogues", "SNG0073", "--out", str(sim))
    assert status == 2 and "a simulate run" in one_line(err)
    assert not (sim / "results.jsonl").exists() and not (sim / "eval.sqlite3").exists()
    capsys.readouterr()
    assert simulate(["--backend", "oracle", "--goals", "1", "--out", str(gold_run)]) == 2
    assert "an evaluate run" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(("argv", "says"), [
    (["--limit", "0"], "--limit: must be at least 1"),
    (["--limit", "-1"], "--limit: must be at least 1"),
    (["--workers", "0"], "--workers: must be at least 1"),
    (["--dialogues", "NOPE"], "NOPE is not a test dialogue"),
    (["--dialogues", "SNG0073", "NOPE", "PMUL9999"], "NOPE, PMUL9999 are not test dialogues"),
    (["--max-steps", "0"], "--max-steps"),
])
def test_arguments_that_make_no_sense_are_refused_in_one_line(tmp_path, evaluate, argv, says):
    out = tmp_path / "out"
    status, err = evaluate("--backend", "gold", *argv, "--out", str(out))
    assert status == 2 and says in one_line(err)
    assert not out.exists()  # refused before anything was made


def test_an_out_that_is_a_file_is_refused(tmp_path, evaluate):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    status, err = evaluate("--backend", "gold", "--dialogues", "SNG0073", "--out", str(taken))
    assert status == 2 and "is a file" in one_line(err) and taken.read_text() == "mine"


def test_sigterm_stops_the_run_within_seconds_and_a_second_run_into_it_is_refused(tmp_path, raw_db_dir):
    """Before: the signal was ignored until every queued dialogue had run (63 s), then their results were thrown
    away; and two runs into one folder wrote every dialogue twice."""
    out, env = tmp_path / "run", command_env(tmp_path / "home", raw_db_dir)
    first = start("app.evaluate", "--backend", "gold", "--workers", "2", "--out", str(out), env=env)
    try:
        wait_for_lines(out / "results.jsonl", 3, first)
        second = start("app.evaluate", "--backend", "gold", "--out", str(out), env=env)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2 and "another run is writing" in one_line(err)
        at_signal = len(lines_in(out / "results.jsonl"))
        signalled = time.monotonic()
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        first.kill()
    # What proves that nothing queued ran is below (lines and bookings); the time only catches a hang, with room
    # for a machine shared by many test runs (about 2 s when it is not).
    assert first.returncode == 128 + signal.SIGTERM and took < 30, (took, err)
    assert "Stopped by SIGTERM" in err and "resumes" in err
    results = [json.loads(line) for line in lines_in(out / "results.jsonl")]  # every line whole
    assert at_signal <= len(results) <= at_signal + 3 < 1000  # at most the running ones finished; nothing queued ran
    transcripts = [Transcript.from_json(line) for line in lines_in(out / "transcripts.jsonl")]
    assert sorted(str(t.meta["test_dialogue"]) for t in transcripts) == sorted(r["id"] for r in results)
    kept = {t.id for t in transcripts} | {Transcript.from_json(line).id for line in lines_in(out / "stopped.jsonl")}
    with sqlite3.connect(out / "eval.sqlite3") as database:
        booked = {row[0] for row in database.execute("SELECT DISTINCT dialogue_id FROM bookings")}
    assert booked <= kept  # every booking has its dialogue's transcript
    assert not (out / "metrics.json").exists()  # a stopped run is not reported as if it were whole
