"""`python -m app.simulate`, its statistics, and the LLM user simulator (scripted, and a real small model)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.backends.scripted import ScriptedBackend
from app.dialogue.goals import load_goals
from app.dialogue.session import run_dialogue
from app.dialogue.transcript import Transcript, UserSaid
from app.settings import REPO_ROOT
from app.simulation.oracle import GoalOracle
from app.simulation.stats import bootstrap_ci, paired_difference, pass_hat_k, smallest_real_difference
from app.simulation.users.llm import END, LLMUser

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
needs_test_data = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                     reason="the MultiWOZ test files are not beside the repository")


def test_pass_hat_k_by_hand():
    # three goals, three runs each: 3, 1 and 0 successes
    assert pass_hat_k([3, 1, 0], 3, 1) == round(100 * 4 / 9, 2)
    assert pass_hat_k([3, 1, 0], 3, 2) == round(100 * (3 + 0 + 0) / (3 * 3), 2)  # C(3,2)=3, C(1,2)=0
    assert pass_hat_k([3, 1, 0], 3, 3) == round(100 / 3, 2)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_pass_hat_k_never_rises_with_k(successes):
    values = [pass_hat_k(successes, 5, k) for k in range(1, 6)]
    assert all(0 <= v <= 100 for v in values)
    assert values == sorted(values, reverse=True)


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_goals():
    small, large = bootstrap_ci([1, 0] * 25), bootstrap_ci([1, 0] * 500)
    assert small.low < 50 < small.high and large.low < 50 < large.high
    assert large.high - large.low < (small.high - small.low) / 2
    # every goal met: resampling sees no spread, yet 40 of 40 leaves doubt (Wilson: 91.2 to 100)
    assert bootstrap_ci([1] * 40).as_dict() == {"value": 100.0, "low": 91.24, "high": 100.0}
    assert bootstrap_ci([0] * 1000).high > 0
    # two independent runs of 1,000 goals at ~50% need about 4.4 points (1.96 * sqrt(2 * 0.25 / 1000))
    assert math.isclose(smallest_real_difference([1, 0] * 500), 100 * 1.96 * math.sqrt(0.5 / 1000), rel_tol=0.1)
    # a perfect run still has noise: a later run a point lower is not worse for that alone
    assert 0.2 < smallest_real_difference([1] * 1000) < 2  # Agresti-Coull: 0.39 points


def test_a_paired_difference_is_real_only_when_its_interval_excludes_zero():
    better = [1] * 60 + [0] * 40
    assert paired_difference(better, [1] * 30 + [0] * 70)[1]
    assert not paired_difference(better, [1] * 58 + [0] * 2 + [0] * 40)[1]


@needs_test_data
def test_simulate_runs_resumes_and_reports(tmp_path: Path, raw_db_dir: Path, monkeypatch):
    from app.simulation.cli import main

    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    out = tmp_path / "sim"
    assert main(["--backend", "oracle", "--goals", "12", "--runs", "2", "--workers", "2", "--out", str(out)]) == 0
    lines = (out / "transcripts.jsonl").read_text().splitlines()
    assert len(lines) == 24 and {(json.loads(x)["goal"], json.loads(x)["run"]) for x in lines} == {
        (g.id, r) for g in load_goals(TEST_DIR)[:12] for r in range(2)}
    record = json.loads(lines[0])
    assert Transcript.from_data(record["transcript"]).goal.id == record["goal"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["pass_hat_k"]) == {"1", "2"} and metrics["dialogues"] == 24
    assert metrics["rates"]["inform"]["value"] == 100.0 and metrics["user_alignment"] == 100.0
    assert (out / "rates.png").stat().st_size > 1000 and (out / "verdicts.csv").read_text().count("\n") == 25
    # resumable: a second call runs only what is missing (a third run), and a cut-off last line is dropped
    (out / "transcripts.jsonl").write_text("\n".join(lines) + "\n" + lines[-1][:50])
    assert main(["--backend", "oracle", "--goals", "12", "--runs", "3", "--out", str(out)]) == 0
    assert len((out / "transcripts.jsonl").read_text().splitlines()) == 36
    assert set(json.loads((out / "metrics.json").read_text())["pass_hat_k"]) == {"1", "2", "3"}
    # a wrong system over the same goals, compared with the oracle's run: a real difference
    wrong = tmp_path / "wrong"
    assert main(["--backend", "oracle-wrong-venue", "--goals", "12", "--out", str(wrong), "--compare", str(out)]) == 0
    compared = json.loads((wrong / "metrics.json").read_text())["compared_with"]
    assert compared["goals"] == 12 and compared["real"] and compared["complete_difference"]["high"] < 0


@needs_test_data
def test_a_rerun_of_another_system_into_the_same_out_is_refused(tmp_path: Path, raw_db_dir: Path, monkeypatch,
                                                                capsys):
    """Resuming skips the (goal, run) pairs already there: another system (or user) into the same --out would have
    reported the first system's dialogues under its own name."""
    from app.simulation.cli import main

    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    out = tmp_path / "sim"
    assert main(["--backend", "oracle", "--goals", "3", "--out", str(out)]) == 0
    before = (out / "transcripts.jsonl").read_text()
    assert main(["--backend", "oracle-wrong-venue", "--goals", "3", "--out", str(out)]) == 2
    assert "system oracle" in capsys.readouterr().err
    assert (out / "transcripts.jsonl").read_text() == before
    assert json.loads((out / "metrics.json").read_text())["system"] == "oracle"
    assert main(["--backend", "oracle", "--goals", "4", "--out", str(out)]) == 0  # the same system resumes


@needs_test_data
def test_a_scripted_model_that_never_helps_meets_no_goal(tmp_path: Path, raw_db_dir: Path, monkeypatch):
    from app.simulation.cli import main

    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["System: I am sorry, I cannot help with that."] * 200))
    out = tmp_path / "sim"
    assert main(["--backend", "scripted", "--script", str(script), "--goals", "10", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rates"]["complete"]["value"] == 0.0 and metrics["rates"]["inform"]["value"] < 100


def test_an_llm_user_without_a_model_is_refused_with_a_message(tmp_path: Path, capsys):
    from app.simulation.cli import main

    assert main(["--backend", "oracle", "--user", "llm", "--out", str(tmp_path)]) == 2
    assert "--user-model" in capsys.readouterr().err


@needs_test_data
def test_the_autotod_user_opens_with_the_corpus_turn_and_ends_on_its_marker(toolbox):
    goal = next(g for g in load_goals(TEST_DIR) if g.id == "sng0073")
    model = ScriptedBackend(["It should leave after 17:15.", f"Thank you, that is all. {END}"])
    transcript = _dialogue(goal, LLMUser(goal, model, "autotod"), toolbox)
    said = [e.text for e in transcript.events if isinstance(e, UserSaid)]
    assert said == [goal.first_user_turn, "It should leave after 17:15.", "Thank you, that is all."]
    system = model.requests[0].messages[0]["content"]
    assert "The taxi should leave after 17:15" in system and END in system
    assert model.requests[1].messages[-1]["role"] == "user"  # the agent's latest reply, for the simulator


@needs_test_data
def test_the_reveal_when_asked_user_writes_its_own_opening(toolbox):
    goal = next(g for g in load_goals(TEST_DIR) if g.id == "sng0073")
    model = ScriptedBackend(["I need a taxi, please.", END])
    transcript = _dialogue(goal, LLMUser(goal, model, "llm"), toolbox)
    assert [e.text for e in transcript.events if isinstance(e, UserSaid)] == ["I need a taxi, please."]
    assert "only when the assistant asks" in model.requests[0].messages[0]["content"]


def _dialogue(goal, user, toolbox, max_turns: int = 6) -> Transcript:
    transcript = Transcript(goal=goal.model_dump(mode="json"))
    agent = Agent(GoalOracle(transcript), make_format("coalm", toolbox.tools), toolbox, Limits(max_steps=10))
    for _event in run_dialogue(agent, user, transcript, max_turns=max_turns):
        pass
    return transcript


@needs_test_data
def test_a_real_small_model_plays_the_user_against_the_agent(smollm_dir: Path, toolbox):
    """SmolLM2-135M-Instruct as the AutoTOD user for two generated turns: real text through the chat template,
    the agent answers each, and the checker gives a verdict on what happened."""
    from app.backends.transformers_backend import TransformersBackend
    from app.simulation.checker import GoalChecker

    goal = next(g for g in load_goals(TEST_DIR) if g.id == "sng0073")
    model = TransformersBackend(str(smollm_dir))
    transcript = _dialogue(goal, LLMUser(goal, model, "autotod"), toolbox, max_turns=3)
    said = [e.text for e in transcript.events if isinstance(e, UserSaid)]
    assert said[0] == goal.first_user_turn
    assert 1 <= len(said) - 1 <= 2 and all(text.strip() and END not in text for text in said[1:])
    assert "<|im_start|>" not in " ".join(said)  # decoded text, not template tokens
    assert len(transcript.turns()) == len(said) and all(t.reply is not None for t in transcript.turns())
    verdict = GoalChecker(toolbox).check(goal, transcript, toolbox.bookings(transcript.id))
    assert verdict.domains[0].domain == "taxi" and verdict.domains[0].booked  # the oracle booked the taxi


@needs_test_data
def test_the_llm_user_over_an_openai_compatible_server(tiny_server, tiny_model_dir: Path, toolbox):
    """The simulator's requests go over HTTP to `transformers serve`. The tiny model's noise depends on the
    prompt, which holds the oracle's random booking references: mostly it runs into the token limit, which
    the backend reports as an error (the dialogue ends there, saying why), and sometimes it stops at a line
    break, which is a user turn like any other. Either way the run goes on and says what happened."""
    from app.backends.openai_backend import OpenAIBackend

    goal = next(g for g in load_goals(TEST_DIR) if g.id == "sng0073")
    user = LLMUser(goal, OpenAIBackend(tiny_server, str(tiny_model_dir), None, timeout_s=120), "autotod")
    transcript = _dialogue(goal, user, toolbox, max_turns=3)
    said = [e.text for e in transcript.events if isinstance(e, UserSaid)]
    assert said[0] == goal.first_user_turn and transcript.turns()[0].reply is not None
    if user.failure:
        assert transcript.meta["user_failure"] == user.failure and user.next(transcript) is None
        assert "token limit" in user.failure, user.failure  # the server did answer: noise up to the limit
    else:  # the model's line became the next user turn, and the agent answered it
        assert len(said) >= 2 and all(text.strip() for text in said)
        assert "user_failure" not in transcript.meta and transcript.turns()[1].reply is not None
