"""The loop survives whatever the model writes; the terminal chat works end to end."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.dialogue.transcript import AgentSaid, InterimReply, ReplyChunk, Thought, Transcript, TurnFailed
from app.settings import REPO_ROOT
from tests.agent.test_parsing import FRAGMENTS
from tests.agent_helpers import run, scripted_agent

OUTPUT = st.one_of(
    st.text(max_size=200),
    st.lists(FRAGMENTS, max_size=30).map("".join),
    st.builds(lambda name, args: f"Action: {name}({args})",
              st.sampled_from(["FindHotel", "BookHotel", "BookTaxi", "FindTrain", "Nope", "__import__"]),
              st.text(max_size=60)),
    st.fixed_dictionaries({"tool_calls": st.lists(st.fixed_dictionaries({
        "name": st.sampled_from(["FindHotel", "BookTrain", "", "x" * 300]),
        "arguments": st.one_of(st.text(max_size=40),
                               st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3)),
    }), max_size=2)}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outputs=st.lists(OUTPUT, min_size=1, max_size=5), format_name=st.sampled_from(["coalm", "tools"]))
def test_loop_never_raises_on_arbitrary_model_output(toolbox, outputs, format_name):
    agent, _ = scripted_agent(toolbox, outputs, format_name=format_name, max_steps=4)
    dialogue = Transcript()
    events = run(agent, dialogue, "hello")
    assert isinstance(events[-1], AgentSaid | TurnFailed)
    turn = dialogue.turns()[-1]
    assert turn.status in ("done", "fallback", "failed")
    assert (turn.status == "failed") == isinstance(events[-1], TurnFailed)
    assert Transcript.from_json(dialogue.to_json()) == dialogue


def test_terminal_chat(tmp_path, raw_db_dir):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        "Thought: look\nAction: FindAttraction(area='centre', type='museum')",
        "System: There are several museums in the centre.",
        "System: Goodbye!",
    ]))
    saved = tmp_path / "dialogue.json"
    done = subprocess.run(
        [sys.executable, "-m", "app.chat", "--backend", "scripted", "--script", str(script), "--save", str(saved)],
        input="any museums in the centre?\nthanks, bye\n", capture_output=True, text=True, cwd=REPO_ROOT,
        timeout=120, env={"PATH": "/usr/bin:/bin", "WOZ_HOME": str(tmp_path), "WOZ_DATA_DIR": str(raw_db_dir)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  thought: look" in lines and "  -> FindAttraction(area='centre', type='museum')" in lines
    assert any(line.startswith("  <- ") and line.endswith(" ms)") and "found" in line for line in lines)
    assert "System: There are several museums in the centre." in lines and "System: Goodbye!" in lines
    dialogue = Transcript.from_json(saved.read_text())
    assert [t.reply.text for t in dialogue.turns()] == ["There are several museums in the centre.", "Goodbye!"]
    assert dialogue.belief() == {"attraction-area": "centre", "attraction-type": "museum"}


def test_terminal_chat_explains_a_missing_script(tmp_path):
    done = subprocess.run([sys.executable, "-m", "app.chat", "--backend", "scripted"], input="", capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "WOZ_HOME": str(tmp_path)})
    assert done.returncode == 2 and "WOZ_SCRIPT" in done.stderr


def shown_per_step(events: list) -> dict[int, str]:
    """What the user saw stream in, per step: chunks belong to the step of the next stored event."""
    shown: dict[int, str] = {}
    pending = ""
    for event in events:
        if isinstance(event, ReplyChunk):
            pending += event.text
        elif pending:
            shown[event.step] = shown.get(event.step, "") + pending
            pending = ""
    return shown


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outputs=st.lists(OUTPUT, min_size=1, max_size=5), format_name=st.sampled_from(["coalm", "tools"]))
def test_what_the_user_sees_is_what_is_recorded(toolbox, outputs, format_name):
    agent, _ = scripted_agent(toolbox, outputs, format_name=format_name, max_steps=4)
    dialogue = Transcript()
    events = run(agent, dialogue, "hello")
    for step, text in shown_per_step(events).items():
        stored = [e for e in dialogue.events if e.step == step]
        said = "".join(e.text for e in stored if isinstance(e, InterimReply | AgentSaid))
        thought = "".join(e.text for e in stored if isinstance(e, Thought))
        assert text == said or text in thought, (step, text, stored)

