"""`python -m app.review`: transcript files and runs become queue items; every bad record is named with its file
and line, the good ones around it still go in, nothing stalls the queue."""

from __future__ import annotations

import json

import pytest

from app.dialogue.transcript import AgentSaid, Transcript, UserSaid
from app.workbench.review_cli import main
from app.workbench.review_store import ReviewStore
from db.engine import make_engine
from tests.workbench_seed import malformed, recorded_dialogue


def transcript(name: str, model: str) -> Transcript:
    t = Transcript(id=name, meta={"backend": "openai", "model": model, "format": "tools"})
    t.append(UserSaid(turn=0, text="a train to ely"))
    t.append(AgentSaid(turn=0, text="When would you like to leave?"))
    return t


@pytest.fixture()
def store_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'q.sqlite3'}"
    monkeypatch.setenv("WOZ_DB_URL", url)
    return url


def test_files_and_runs_become_items_and_bad_files_are_reported(tmp_path, store_url, capsys):
    single = tmp_path / "one.json"
    single.write_text(transcript("d1", "m1").to_json())
    run = tmp_path / "results.jsonl"
    run.write_text("".join(json.dumps({"id": n, "transcript": transcript(n, "m2").to_data()}) + "\n"
                           for n in ("d2", "d3")))
    broken = tmp_path / "broken.json"
    broken.write_text('{"events": [{"kind": "nonsense"}]}')
    assert main(["add", str(single), str(run), str(broken)]) == 1
    out, err = capsys.readouterr()
    assert "3 new item(s)" in out and "broken.json: not a transcript" in err
    store = ReviewStore(make_engine(store_url))
    assert store.systems() == {"d1": "openai m1 (tools)", "d2": "openai m2 (tools)", "d3": "openai m2 (tools)"}
    assert Transcript.from_data(store.item("d2").transcript | {"meta": {}}).last_turn().reply.text.startswith("When")
    assert main(["add", str(single)]) == 0 and "0 new item(s) in the review queue, 1 already there" in \
        capsys.readouterr().out
    unnamed = tmp_path / "transcripts.jsonl"
    unnamed.write_text(Transcript(id="e1", meta={"test_dialogue": "SNG01"}).to_json() + "\n")
    assert main(["add", str(unnamed), "--backend", "gold", "--format", "coalm"]) == 0
    assert store.systems()["e1"] == "gold (coalm)"
    capsys.readouterr()
    assert main(["status"]) == 0 and "4 items, 4 still need raters" in capsys.readouterr().out


def test_hostile_records_are_named_and_the_rest_of_the_batch_goes_in(tmp_path, store_url, capsys):
    good = [transcript(f"ok{i}", "m").to_json() for i in range(3)]
    deep = "[" * 900 + "]" * 900
    deep_meta = '{"id": "dm", "events": [], "meta": ' + '{"a": ' * 900 + "1" + "}" * 900 + "}"
    files = {
        "list.json": "[1, 2, 3]", "number.json": "42", "null.json": "null", "empty.json": "",
        "deep.json": deep, "deep-meta.json": deep_meta,
        "lines.jsonl": "\n".join([good[0], "[1, 2]", deep, '{"id": "x", "version": 2, "events": 5}', good[1]]),
        "old.json": json.dumps({"id": "old", "turns": [{"user": 5, "events": "nope", "status": ["done"]}]}),
        "old-list.json": json.dumps({"id": "old2", "turns": "not a list"}),
        "long-id.json": transcript("i" * 201, "m").to_json(),
        "ok.json": good[2],
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main(["add", *(str(tmp_path / name) for name in files)]) == 1
    out, err = capsys.readouterr()
    assert "3 new item(s)" in out  # the three good ones, whatever surrounds them
    assert "Traceback" not in err
    for expected in ("list.json: a JSON list, not a transcript", "number.json: a JSON int", "null.json: a JSON null",
                     "empty.json: the file is empty", "lines.jsonl:2: a JSON list", "lines.jsonl:4: not a transcript",
                     "old.json: not a transcript", "old-list.json: not a transcript",
                     "long-id.json: its id is 201 characters long"):
        assert expected in err, expected
    assert "deep.json" in err and "lines.jsonl:3" in err
    assert "deep-meta.json: not a transcript: nested too deeply" in err
    store = ReviewStore(make_engine(store_url))
    assert set(store.systems()) == {"ok0", "ok1", "ok2"}


def test_malformed_transcripts_never_reach_the_queue(tmp_path, store_url, toolbox, capsys):
    data = recorded_dialogue(toolbox, "good", 60).to_data()  # a number of its own: its bookings are its own
    lines = [json.dumps({**malformed(data, how), "id": f"bad-{how}"})
             for how in ("booking", "found", "belief", "gap", "duplicate")]
    (tmp_path / "bad.jsonl").write_text("\n".join([*lines, json.dumps(data)]) + "\n")
    assert main(["add", str(tmp_path / "bad.jsonl")]) == 1
    out, err = capsys.readouterr()
    assert "1 new item(s)" in out
    for line, reason in enumerate(("unknown domain 'spaceship'", "unknown domain 'spaceship'", "belief slot 'area'",
                                   "do not run 0, 1, 2", "event ids used twice"), 1):
        assert f"bad.jsonl:{line}: " in err and reason in err.splitlines()[line - 1], (line, reason)
    assert set(ReviewStore(make_engine(store_url)).systems()) == {data["id"]}


def test_a_reused_id_and_a_run_without_a_system_are_refused(tmp_path, store_url, capsys):
    (tmp_path / "first.json").write_text(transcript("same", "m1").to_json())
    other = transcript("same", "m1")
    other.append(UserSaid(turn=1, text="a different dialogue"))
    other.append(AgentSaid(turn=1, text="with the same id"))
    (tmp_path / "second.json").write_text(other.to_json())
    assert main(["add", str(tmp_path / "first.json")]) == 0
    capsys.readouterr()
    assert main(["add", str(tmp_path / "second.json")]) == 1
    assert "second.json: the id 'same' is already taken by a different dialogue" in capsys.readouterr().err
    anonymous = Transcript(id="anon", meta={"test_dialogue": "SNG01"})
    (tmp_path / "anon.json").write_text(anonymous.to_json())
    assert main(["add", str(tmp_path / "anon.json")]) == 1
    assert "does not say which system ran it" in capsys.readouterr().err


def test_simulation_runs_keep_their_systems_apart(tmp_path, store_url, capsys):
    """A simulation run names its system in meta["system"]; two runs of one format used to merge as "unknown"."""
    for system in ("scripted (4 outputs)", "oracle"):
        t = transcript(f"sim-{system[:6]}", "m")
        t.meta.clear()
        t.meta.update({"system": system, "user": "agenda", "format": "coalm", "run": 0})
        (tmp_path / f"{system[:6]}.jsonl").write_text(json.dumps({"goal": "SNG01", "transcript": t.to_data()}) + "\n")
    assert main(["add", str(tmp_path / "script.jsonl"), str(tmp_path / "oracle.jsonl")]) == 0
    assert sorted(ReviewStore(make_engine(store_url)).systems().values()) == ["oracle (coalm)",
                                                                              "scripted (4 outputs) (coalm)"]
