"""`python -m app.review`: transcript files and runs become queue items; bad files are named, nothing lost."""

from __future__ import annotations

import json

from app.dialogue.transcript import AgentSaid, Transcript, UserSaid
from app.workbench.review_cli import main
from app.workbench.review_store import ReviewStore
from db.engine import make_engine


def transcript(name: str, model: str) -> Transcript:
    t = Transcript(id=name, meta={"backend": "openai", "model": model, "format": "tools"})
    t.append(UserSaid(turn=0, text="a train to ely"))
    t.append(AgentSaid(turn=0, text="When would you like to leave?"))
    return t


def test_files_and_runs_become_items_and_bad_files_are_reported(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'q.sqlite3'}"
    monkeypatch.setenv("WOZ_DB_URL", url)
    single = tmp_path / "one.json"
    single.write_text(transcript("d1", "m1").to_json())
    run = tmp_path / "results.jsonl"
    run.write_text("".join(json.dumps({"id": n, "transcript": transcript(n, "m2").to_data()}) + "\n"
                           for n in ("d2", "d3")))
    broken = tmp_path / "broken.json"
    broken.write_text('{"events": [{"kind": "nonsense"}]}')
    assert main(["add", str(single), str(run), str(broken)]) == 1
    out, err = capsys.readouterr()
    assert "3 new item(s)" in out and "broken.json: not a transcript file" in err
    store = ReviewStore(make_engine(url))
    assert store.systems() == {"d1": "openai m1 (tools)", "d2": "openai m2 (tools)", "d3": "openai m2 (tools)"}
    assert Transcript.from_data(store.item("d2").transcript | {"meta": {}}).last_turn().reply.text.startswith("When")
    assert main(["add", str(single)]) == 0 and "0 new item(s)" in capsys.readouterr().out
    unnamed = tmp_path / "transcripts.jsonl"
    unnamed.write_text(Transcript(id="e1", meta={"test_dialogue": "SNG01"}).to_json() + "\n")
    assert main(["add", str(unnamed), "--backend", "gold", "--format", "coalm"]) == 0
    assert store.systems()["e1"] == "gold (coalm)"
    capsys.readouterr()
    assert main(["status"]) == 0 and "4 items, 4 still need raters" in capsys.readouterr().out
