"""`python -m app.simulate` as a careless or hostile user drives it: Ctrl-C in the middle, arguments that make no
sense, --compare with something that is not a simulation. Each answer is one line and exit status 2; a stopped
run keeps every finished dialogue and resumes."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from app.simulation.cli import main
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
def simulate(tmp_path: Path, raw_db_dir: Path, monkeypatch, capsys):
    """`main(argv)` of app.simulate in this process; returns (exit status, stderr)."""
    return in_process(main, tmp_path / "home", raw_db_dir, monkeypatch, capsys)


@pytest.mark.parametrize(("argv", "says"), [
    (["--goals", "0"], "--goals: must be at least 1, not 0"),  # ran all 1,000 goals
    (["--goals", "-1"], "--goals: must be at least 1, not -1"),  # ran 999
    (["--runs", "0"], "--runs: must be at least 1"),  # reported 0 dialogues, status 0
    (["--workers", "0"], "--workers: must be at least 1"),  # a traceback
    (["--max-turns", "0"], "--max-turns: must be at least 1"),
    (["--goals", "two"], "--goals: 'two' is not a whole number"),
    (["--dialogues", "NOPE"], "NOPE is not a test dialogue"),  # "Complete 0.0", status 0
])
def test_arguments_that_make_no_sense_are_refused_in_one_line(tmp_path, simulate, argv, says):
    out = tmp_path / "sim"
    status, err = simulate("--backend", "oracle", *argv, "--out", str(out))
    assert status == 2 and says in one_line(err)
    assert not out.exists()  # refused before anything was made


def test_compare_with_what_is_not_another_simulation_is_refused_before_the_run(tmp_path, simulate, raw_db_dir,
                                                                               monkeypatch):
    """--compare of a missing folder reported "+0.0", of an evaluation folder it raised."""
    from app.evaluation.cli import main as evaluate

    other, evaluation = tmp_path / "other", tmp_path / "evaluation"
    assert simulate("--backend", "oracle", "--dialogues", "SNG0073", "--out", str(other))[0] == 0
    assert evaluate(["--backend", "gold", "--dialogues", "SNG0073", "--out", str(evaluation)]) == 0
    out = tmp_path / "sim"
    for compared, says in [(tmp_path / "missing", "no such folder"), (evaluation, "an evaluate run"),
                           (out, "this run's own --out")]:
        status, err = simulate("--backend", "oracle", "--goals", "2", "--out", str(out), "--compare", str(compared))
        assert status == 2 and says in one_line(err), err
    status, err = simulate("--backend", "oracle", "--dialogues", "MUL1489", "--out", str(out), "--compare", str(other))
    assert status == 2 and "shares no goals" in one_line(err)
    assert not out.exists()
    status, err = simulate("--backend", "oracle-wrong-venue", "--dialogues", "SNG0073", "MUL1489", "--out", str(out),
                           "--compare", str(other))
    assert status == 0, err
    assert json.loads((out / "metrics.json").read_text())["compared_with"]["goals"] == 1


def test_an_out_that_is_a_file_is_refused(tmp_path, simulate):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    status, err = simulate("--backend", "oracle", "--goals", "1", "--out", str(taken))
    assert status == 2 and "is a file" in one_line(err) and taken.read_text() == "mine"


def test_ctrl_c_stops_within_seconds_keeps_what_finished_and_resumes(tmp_path, raw_db_dir):
    """Before: every queued dialogue still ran after Ctrl-C, then all their results were thrown away (34 dialogues
    had bookings and no transcript). Now nothing queued starts, the running ones end at their next step (kept in
    stopped.jsonl with their bookings), and the same command resumes."""
    out, env = tmp_path / "sim", command_env(tmp_path / "home", raw_db_dir)
    flags = ("--backend", "oracle", "--goals", "400", "--workers", "2", "--out", str(out))
    run = start("app.simulate", *flags, env=env)
    try:
        wait_for_lines(out / "transcripts.jsonl", 5, run)
        at_signal = len(lines_in(out / "transcripts.jsonl"))
        signalled = time.monotonic()
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        run.kill()
    # What proves that nothing queued ran is below (lines and bookings); the time only catches a hang, with room
    # for a machine shared by many test runs (about 2 s when it is not).
    assert run.returncode == 128 + signal.SIGINT and took < 30, (took, err)
    assert "Stopped by SIGINT" in err and "Traceback" not in err
    records = [json.loads(line) for line in lines_in(out / "transcripts.jsonl")]
    assert at_signal <= len(records) <= at_signal + 3 < 400  # at most the running ones finished; nothing queued ran
    stopped = [json.loads(line) for line in lines_in(out / "stopped.jsonl")]
    kept = {r["transcript"]["id"] for r in records} | {t["id"] for t in stopped}
    with sqlite3.connect(out / "sim.sqlite3") as database:
        booked = {row[0] for row in database.execute("SELECT DISTINCT dialogue_id FROM bookings")}
    assert booked and booked <= kept  # every booking has its dialogue's transcript
    resumed = start("app.simulate", *flags, env=env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    pairs = [(r["goal"], r["run"]) for r in map(json.loads, lines_in(out / "transcripts.jsonl"))]
    assert len(pairs) == len(set(pairs)) == 400
    assert json.loads((out / "metrics.json").read_text())["dialogues"] == 400


def test_a_run_killed_outright_leaves_its_folder_free_to_resume(tmp_path, raw_db_dir):
    """The folder's lock is the operating system's: kill -9 frees it (a lock file left behind would refuse every
    later run), and the rerun resumes what the killed run finished."""
    out, env = tmp_path / "sim", command_env(tmp_path / "home", raw_db_dir)
    run = start("app.simulate", "--backend", "oracle", "--goals", "200", "--out", str(out), env=env)
    try:
        wait_for_lines(out / "transcripts.jsonl", 3, run)
    finally:
        run.kill()
        run.communicate(timeout=60)
    finished = {json.loads(line)["goal"] for line in lines_in(out / "transcripts.jsonl")[:3]}
    resumed = start("app.simulate", "--backend", "oracle", "--goals", "5", "--out", str(out), env=env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    records = [json.loads(line) for line in lines_in(out / "transcripts.jsonl")]
    assert finished <= {r["goal"] for r in records} and json.loads((out / "metrics.json").read_text())["dialogues"] == 5
