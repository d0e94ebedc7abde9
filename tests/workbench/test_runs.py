"""The run reader behind the Runs tab: runs listed with their headline rates, dialogues filtered by verdict, blame,
domain and cost, transcripts found by id, the state at any event, and no folder outside the runs folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.workbench.runs import DialogueFilter, NotARun, RunsFolder, as_it_was, event_label
from tests.run_helpers import needs_test_files, rules_run

pytestmark = needs_test_files


@pytest.fixture(scope="module")
def root(tmp_path_factory, raw_db_dir) -> Path:
    """runs/sim-rules (3 goals, all complete) and runs/older/sim-broken (the same, one marked failed by the user)."""
    root = tmp_path_factory.mktemp("runs")
    rules_run(root / "sim-rules", raw_db_dir, tmp_path_factory.mktemp("home"))
    broken = root / "older" / "sim-broken"
    broken.mkdir(parents=True)
    shutil.copy(root / "sim-rules" / "run.json", broken / "run.json")
    records = [json.loads(line) for line in (root / "sim-rules" / "transcripts.jsonl").read_text().splitlines()]
    records[0]["verdict"].update(complete=False, blame="user")
    (broken / "transcripts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"cut short')
    return root


def test_runs_are_listed_with_system_user_date_and_rates(root):
    runs = {run.name: run for run in RunsFolder(root).runs()}
    assert set(runs) == {"sim-rules", "older/sim-broken"}
    made = runs["sim-rules"]
    assert (made.command, made.system, made.user, made.dialogues) == ("simulate", "rules", "agenda", 3)
    assert made.rates["complete"] == 100.0 and len(made.date) == 16
    assert runs["older/sim-broken"].dialogues == 3  # no metrics: counted from its readable lines
    assert [run.name for run in RunsFolder(root).runs("older")] == ["older/sim-broken"]


@pytest.mark.parametrize("name", ["/etc", "..", "../..", "sim-rules/../..", "nowhere", "sim-rules/run.json"])
def test_no_folder_outside_the_root_opens(root, name):
    with pytest.raises(NotARun):
        RunsFolder(root / "older").runs(name) if name != "/etc" else RunsFolder(root).runs(name)


def test_an_escape_by_link_is_refused(root, tmp_path):
    (tmp_path / "outside").mkdir()
    link = root / "older" / "link"
    link.symlink_to(tmp_path / "outside")
    try:
        with pytest.raises(NotARun):
            RunsFolder(root).runs("older/link")
    finally:
        link.unlink()


def test_dialogues_filter_by_verdict_blame_domain_and_cost(root):
    rows = RunsFolder(root).dialogues("older/sim-broken")
    assert len(rows) == 3  # the line cut short is skipped
    failed = [r for r in rows if DialogueFilter(verdict="not complete").keeps(r)]
    assert [r.id for r in failed] == [rows[0].id] and failed[0].blame == "user"
    assert len([r for r in rows if DialogueFilter(verdict="complete").keeps(r)]) == 2
    assert [r for r in rows if DialogueFilter(blame="agent").keeps(r)] == []
    domain = rows[1].domains[0]
    assert all(domain in r.domains for r in rows if DialogueFilter(domain=domain).keeps(r))
    assert rows[1] in [r for r in rows if DialogueFilter(domain=domain).keeps(r)]
    most = max(r.model_calls for r in rows)
    assert [r.model_calls for r in rows if DialogueFilter(min_calls=most).keeps(r)] == [most] * sum(
        r.model_calls == most for r in rows)
    assert all(r.tokens is None for r in rows)  # the rule-based system reports no tokens, and none are guessed


def test_a_dialogue_at_any_event(root):
    folder = RunsFolder(root)
    row = max(folder.dialogues("sim-rules"), key=lambda r: r.turns)
    transcript = folder.transcript("sim-rules", row.id)
    assert transcript.bookings() or transcript.belief()
    first = as_it_was(transcript, 0)
    assert len(first.events) == 1 and first.belief() == {} and first.id == transcript.id
    beliefs = [as_it_was(transcript, i).belief() for i in range(len(transcript.events))]
    assert beliefs[-1] == transcript.belief() and len({json.dumps(b, sort_keys=True) for b in beliefs}) > 2
    assert event_label(transcript, 0).startswith(f"event 1 of {len(transcript.events)} · turn 1 · user_said")
    with pytest.raises(NotARun):
        folder.transcript("sim-rules", "no-such-dialogue")


def test_two_runs_of_a_goal_part_at_their_first_different_event(root):
    from app.dialogue.transcript import AgentSaid
    from app.workbench.runs import by_goal, first_difference

    folder = RunsFolder(root)
    one, other = by_goal(folder.dialogues("sim-rules")), by_goal(folder.dialogues("older/sim-broken"))
    assert set(one) == set(other) and len(one) == 3
    goal = next(iter(one))
    a, b = folder.transcript("sim-rules", one[goal]), folder.transcript("older/sim-broken", other[goal])
    assert first_difference(a, b) is None  # the same dialogue: ids and times aside, nothing differs
    where = next(i for i, e in enumerate(a.events) if isinstance(e, AgentSaid))
    changed = a.model_copy(update={"events": [*a.events[:where], a.events[where].model_copy(
        update={"text": "Something else."}), *a.events[where + 1:]]})
    assert first_difference(a, changed) == (where, where)
    assert first_difference(a, a.fork(a.events[where].id, id="short")) == (where + 1, None)
