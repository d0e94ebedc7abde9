"""What a simulated run cost, as `python -m app.simulate` records it: every model call of the agent and of the user
simulator, with the token counts the server (or the local model's tokenizer) reported, exactly, or "not reported";
per-dialogue, per-turn and per-run totals that add up to the calls."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app.dialogue.costs import SIDES
from app.dialogue.transcript import ModelCalled, Transcript
from app.settings import REPO_ROOT
from app.simulation.cli import main
from tests.openai_stand_in import StandIn, agent_or_user

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
pytestmark = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                reason="the MultiWOZ test files are not beside the repository")


@pytest.fixture()
def simulate(tmp_path: Path, raw_db_dir: Path, monkeypatch, capsys):
    """`main(argv)` of app.simulate in this process, into tmp_path/sim; returns (exit status, stderr, --out)."""
    monkeypatch.setenv("WOZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "sim"

    def run(*argv: str) -> tuple[int, str, Path]:
        capsys.readouterr()
        status = main([*argv, "--test-dir", str(TEST_DIR), "--out", str(out)])
        return status, capsys.readouterr().err, out

    return run


def transcripts(out: Path) -> list[Transcript]:
    lines = (out / "transcripts.jsonl").read_text().splitlines()
    return [Transcript.from_data(json.loads(line)["transcript"]) for line in lines]


def calls_in(out: Path) -> list[ModelCalled]:
    return [e for t in transcripts(out) for e in t.events if isinstance(e, ModelCalled)]


def served(simulate, server: StandIn) -> tuple[Path, list[ModelCalled], dict]:
    """Two goals of two turns each, the agent and an LLM user both on the stand-in server."""
    try:
        status, err, out = simulate("--backend", "openai", "--base-url", server.url, "--model", "m", "--format",
                                    "coalm", "--user", "llm", "--user-model", "m", "--user-base-url", server.url,
                                    "--dialogues", "SNG0073", "PMUL4648", "--max-turns", "2", "--max-steps", "1")
    finally:
        server.close()
    assert status == 0, err
    return out, calls_in(out), json.loads((out / "metrics.json").read_text())


def test_a_server_that_reports_usage_has_exactly_its_counts_recorded_and_the_totals_add_up(simulate):
    server = StandIn(agent_or_user(), usage=True)
    out, calls, metrics = served(simulate, server)
    assert all(body["stream_options"] == {"include_usage": True} for body in server.bodies)  # asked for, streaming
    # One event per request the server answered, in order, with exactly the counts it sent.
    assert [(c.prompt_tokens, c.generated_tokens) for c in calls] == server.sent and len(calls) == 8
    assert all(c.counted_by == "server" and c.model == "stand-in" and c.ok for c in calls)
    assert [c.side for c in calls] == ["user", "agent"] * 4
    assert all(c.total_s >= (c.first_token_s or 0) > 0 for c in calls)
    costs = metrics["costs"]
    assert costs["prompt_tokens"] == sum(p for p, _ in server.sent)
    assert costs["generated_tokens"] == sum(g for _, g in server.sent)
    assert costs["model_calls"] == 8 and costs["calls_not_reported"] == 0
    for side in SIDES:
        mine = [c for c in calls if c.side == side]
        assert costs[side]["calls"] == len(mine) == 4
        assert costs[side]["prompt_tokens"] == sum(c.prompt_tokens for c in mine)
        assert costs[side]["generated_tokens"] == sum(c.generated_tokens for c in mine)
        assert costs[side]["model_s"] == pytest.approx(sum(c.total_s for c in mine), abs=1e-5)
    # The same totals per dialogue (verdicts.csv) and per turn (turn_costs.csv).
    dialogues, turns = pd.read_csv(out / "verdicts.csv"), pd.read_csv(out / "turn_costs.csv")
    assert len(dialogues) == 2 and len(turns) == 4
    for table in (dialogues, turns):
        assert table["agent_prompt_tokens"].sum() == costs["agent"]["prompt_tokens"]
        assert table["user_generated_tokens"].sum() == costs["user"]["generated_tokens"]
        assert table["model_calls"].sum() == 8
    assert costs["wall_s"] >= costs["model_s"] > 0


def test_a_server_that_reports_no_usage_is_recorded_as_not_reported(simulate):
    out, calls, metrics = served(simulate, StandIn(agent_or_user(), usage=False))
    assert len(calls) == 8
    assert all(c.counted_by == "not reported" and c.prompt_tokens is None and c.generated_tokens is None
               and c.model == "stand-in" for c in calls)  # the model that answered is still named
    costs = metrics["costs"]
    assert costs["prompt_tokens"] is None and costs["generated_tokens"] is None  # never a guess
    assert costs["calls_not_reported"] == costs["model_calls"] == 8
    assert costs["agent"]["model_s"] > 0 and costs["user"]["model_s"] > 0  # the times are still measured
    assert pd.read_csv(out / "verdicts.csv")["agent_prompt_tokens"].isna().all()


def test_the_tiny_local_model_as_the_user_records_its_tokenizers_counts(simulate, tiny_model_dir):
    from app.backends.transformers_backend import TransformersBackend
    from app.dialogue.goals import load_goals
    from app.simulation.users.llm import LLMUser

    status, err, out = simulate("--backend", "oracle", "--user", "llm", "--user-backend", "transformers",
                                "--user-model", str(tiny_model_dir), "--dialogues", "SNG0073", "--max-turns", "2")
    assert status == 0, err
    calls = calls_in(out)
    users = [c for c in calls if c.side == "user"]
    assert users and all(c.counted_by == "tokenizer" and c.model == str(tiny_model_dir) for c in users)
    assert all(0 < c.generated_tokens <= 96 for c in users)  # the simulator's token limit
    goal = next(g for g in load_goals(TEST_DIR) if g.id == "sng0073")
    backend = TransformersBackend(str(tiny_model_dir), concurrency=1, context_tokens=1024)
    first = LLMUser(goal, backend, "llm").request(Transcript(goal=goal))  # what it was asked before any turn
    assert users[0].prompt_tokens == backend.count_tokens(first)
    agents = [c for c in calls if c.side == "agent"]  # the oracle is no model: it reports no tokens
    assert agents and all(c.counted_by == "not reported" for c in agents)
    costs = json.loads((out / "metrics.json").read_text())["costs"]
    assert costs["user"]["prompt_tokens"] == sum(c.prompt_tokens for c in users)
    assert costs["user"]["generated_tokens"] == sum(c.generated_tokens for c in users)
    assert costs["prompt_tokens"] == costs["user"]["prompt_tokens"] and costs["agent"]["prompt_tokens"] is None
