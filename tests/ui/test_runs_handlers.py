"""The Runs tab's handlers without a browser: a folder outside the runs folder is refused in words, filters narrow
the dialogues, the slider's panels follow the event, and a fork for the Chat tab carries the page's meta and its
parent (or says why it cannot be made)."""

from __future__ import annotations

import pytest

from app.dialogue.transcript import Transcript
from app.ui.runs_tab import MARK, RunsTab, _chat
from app.workbench.runs import RunsFolder
from tests.run_helpers import needs_test_files, rules_run

pytestmark = needs_test_files


@pytest.fixture(scope="module")
def tab(tmp_path_factory, raw_db_dir) -> RunsTab:
    root = tmp_path_factory.mktemp("runs")
    rules_run(root / "sim-rules", raw_db_dir, tmp_path_factory.mktemp("home"))
    return RunsTab(RunsFolder(root))


def test_listing_refuses_a_folder_outside_in_words(tab):
    status, *_rest = tab.list_runs("../")
    assert status.startswith("⚠️") and "not below the runs folder" in status
    status, frame, chooser = tab.list_runs("")
    assert status == "1 run found." and list(frame["run"]) == ["sim-rules"] and chooser["value"] == "sim-rules"


def test_filters_and_the_slider(tab):
    status, _frame, chooser, _domains = tab.dialogues("sim-rules", "not complete", "", "", 0)
    assert status.startswith("0 of 3") and chooser["choices"] == []
    status, frame, chooser, domains = tab.dialogues("sim-rules", "complete", "", "taxi", 0)
    assert status.startswith("1 of 3") and "taxi" in domains["choices"] and len(frame) == 1
    dialogue = chooser["value"]
    slider, label, _chat_messages, belief, *_tables = tab.open_dialogue("sim-rules", dialogue)
    assert slider["value"] == slider["maximum"] and "Nothing understood yet" not in belief
    label, _chat_messages, belief, *_tables = tab.at_event("sim-rules", dialogue, 1)
    assert label.startswith("event 1 of") and "Nothing understood yet" in belief


def test_a_fork_for_the_chat_carries_the_pages_meta_and_its_parent(tab, tmp_path, raw_db_dir):
    from app.ui.fork_panel import fork_into_chat
    from tests.ui.test_ui_handlers import STATE, started

    app = started(tmp_path, raw_db_dir, [])
    assert tab.transcript("sim-rules", None) is None
    assert fork_into_chat(app, tab.transcript("sim-rules", None), 1, "model", None)[0] == \
        "⚠️ Choose a dialogue with events first."
    dialogue = tab.dialogues("sim-rules", "any", "", "taxi", 0)[2]["value"]
    parent = tab.transcript("sim-rules", dialogue)
    forked = fork_into_chat(app, parent, 99, "model", None)[2][STATE]
    assert isinstance(forked, Transcript) and forked.meta["backend"] == "scripted"
    assert forked.meta["forked_from"]["transcript"] == dialogue and app.toolbox.bookings(forked.id)
    by_rules = fork_into_chat(app, parent, 99, "rules", None)[2][STATE]  # "Who answers the fork"
    assert by_rules.meta["backend"] == "rules" and by_rules.id != forked.id


def test_the_first_difference_is_marked_in_the_chat(tab):
    dialogue = tab.dialogues("sim-rules", "any", "", "taxi", 0)[2]["value"]
    transcript = tab.folder.transcript("sim-rules", dialogue)
    marked = [m for m in _chat(transcript, 1) if MARK in m["content"]]
    assert len(marked) == 1 and marked[0]["role"] == "assistant"  # the first message after the user's
    assert MARK in _chat(transcript, len(transcript.events))[-1]["content"]  # the other side went on
    assert not any(MARK in m["content"] for m in _chat(transcript))
