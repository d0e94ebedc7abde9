"""The annotation export carries what each dialogue cost: token and time columns in dialogues.csv, and one row per
model call in model_calls.csv ("not reported" calls with empty counts)."""

from __future__ import annotations

import pandas as pd

from app.dialogue.transcript import AgentSaid, ModelCalled, Transcript, UserSaid
from app.workbench.annotations import AnnotationStore
from app.workbench.exports import model_call_rows
from db.engine import make_engine
from db.schema import create_all


def test_the_export_has_each_dialogues_costs_and_each_model_call(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    create_all(engine)
    store = AnnotationStore(engine)
    dialogue = Transcript(id="dlg-cost", events=[
        UserSaid(turn=0, text="hi"),
        ModelCalled(turn=0, step=1, backend="server", model="m", prompt_tokens=120, generated_tokens=7,
                    counted_by="server", first_token_s=0.1, total_s=0.4),
        ModelCalled(turn=0, step=2, backend="script", total_s=0.2),
        AgentSaid(turn=0, step=2, text="hello")])
    store.save_dialogue(dialogue.id, dialogue.to_data(), dialogue.meta)
    files = store.export(tmp_path / "export")
    calls = pd.read_csv(files.model_calls_csv)
    assert list(calls["prompt_tokens"].astype("Int64")) == [120, pd.NA] and list(calls["counted_by"]) == \
        ["server", "not reported"]
    assert calls["total_s"].tolist() == [0.4, 0.2]
    row = pd.read_csv(files.dialogues_csv).iloc[0]
    assert (row["agent_prompt_tokens"], row["agent_generated_tokens"], row["model_calls"],
            row["calls_not_reported"]) == (120, 7, 2, 1)
    assert row["agent_model_s"] == 0.6
    assert model_call_rows([dialogue])[0]["event"] == dialogue.events[1].id
