"""Fork a run's dialogue at an event: the copy stops at that event, names its parent and the event, and its
bookings are the parent's up to there, made again under its own id (the database and the copied events agree);
`python -m app.simulate --fork` goes on from there to a verdict, and a bad spec is one line and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.dialogue.transcript import Booked, ToolAnswered, Transcript
from app.simulation.cli import main
from app.simulation.fork import ForkRefused, ForkSpec, fork_dialogue, parent_of
from app.workbench.runs import RunsFolder
from tests.run_helpers import in_process, needs_test_files, one_line, rules_run

pytestmark = needs_test_files


@pytest.fixture(scope="module")
def run(tmp_path_factory, raw_db_dir) -> Path:
    return rules_run(tmp_path_factory.mktemp("fork-parent") / "sim-rules", raw_db_dir, tmp_path_factory.mktemp("h"))


@pytest.fixture(scope="module")
def parent(run) -> Transcript:
    """The run's dialogue that booked something."""
    return next(t for row in RunsFolder(run).dialogues("") if (t := RunsFolder(run).transcript("", row.id)).bookings())


def booked_at(transcript: Transcript) -> int:
    return next(i for i, e in enumerate(transcript.events) if isinstance(e, ToolAnswered)
                and isinstance(e.result, Booked))


def shown(booking: Booked) -> tuple[str, str]:
    return booking.domain, json.dumps(booking.details, sort_keys=True)


def test_a_fork_after_a_booking_restores_it_and_copies_nothing_later(parent, toolbox):
    at = parent.events[booked_at(parent) + 1]
    fork = fork_dialogue(parent, at.id, toolbox)
    assert fork.id != parent.id and fork.meta["forked_from"]["transcript"] == parent.id
    assert fork.meta["forked_from"]["event"] == at.id
    assert [e.id for e in fork.events] == [e.id for e in parent.events[:booked_at(parent) + 2]]
    assert len(fork.events) < len(parent.events)  # what came after the event is not copied
    stored = toolbox.bookings(fork.id)
    assert [(b.domain, json.dumps(b.details, sort_keys=True)) for b in stored] == \
        [shown(b) for b in parent.bookings()[:1]]  # the parent's booking, car and all
    assert [b.reference for b in stored] == [b.reference for b in fork.bookings()]  # the copy names the new one
    assert fork.bookings()[0].reference != parent.bookings()[0].reference  # references are unique in the world
    events = json.dumps([e.model_dump(mode="json") for e in fork.events])
    assert fork.bookings()[0].reference in events and parent.bookings()[0].reference not in events
    assert fork.meta["forked_from"]["references"] == {parent.bookings()[0].reference: fork.bookings()[0].reference}


def test_a_fork_before_the_booking_restores_none(parent, toolbox):
    fork = fork_dialogue(parent, parent.events[booked_at(parent) - 1].id, toolbox)
    assert toolbox.bookings(fork.id) == [] and fork.bookings() == []


def test_an_unknown_event_is_refused(parent, toolbox):
    with pytest.raises(ForkRefused, match="no event"):
        fork_dialogue(parent, "nope", toolbox)


def test_the_spec_names_run_dialogue_and_event(run, parent):
    spec = ForkSpec.parse(f"{run}:{parent.id}:{parent.events[0].id}")
    assert (spec.run, spec.dialogue, spec.event) == (run, parent.id, parent.events[0].id)
    assert parent_of(spec).id == parent.id


@pytest.fixture()
def simulate(tmp_path: Path, raw_db_dir: Path, monkeypatch, capsys):
    return in_process(main, tmp_path / "home", raw_db_dir, monkeypatch, capsys)


def test_fork_from_the_command_line_goes_on_to_a_verdict(run, parent, simulate, tmp_path, capsys):
    at = parent.events[booked_at(parent) + 1]
    status, err = simulate("--fork", f"{run}:{parent.id}:{at.id}", "--backend", "rules", "--out", str(tmp_path / "f"))
    assert status == 0, err
    lines = (tmp_path / "f" / "transcripts.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    fork = Transcript.from_data(record["transcript"])
    assert len(lines) == 1 and fork.meta["forked_from"]["transcript"] == parent.id
    assert fork.meta["forked_from"]["event"] == at.id
    assert len(fork.events) > booked_at(parent) + 2  # the user and the system went on from there
    assert record["verdict"]["complete"] is True  # the restored booking counts: its reference was said
    assert len(fork.bookings()) == len(parent.bookings())  # nothing booked twice


def test_a_fork_into_a_runs_folder_is_refused(run, parent, simulate):
    before = (run / "transcripts.jsonl").read_text()
    spec = f"{run}:{parent.id}:{parent.events[0].id}"
    status, err = simulate("--fork", spec, "--backend", "rules", "--out", str(run))
    assert status == 2 and "give a folder for forks" in one_line(err)
    assert (run / "transcripts.jsonl").read_text() == before


@pytest.mark.parametrize(("spec", "says"), [
    ("{run}-missing:{dialogue}:{event}", "no run folder"),
    ("{run}:no-such-dialogue:{event}", "has no dialogue 'no-such-dialogue'"),
    ("{run}:{dialogue}:no-such-event", "has no event 'no-such-event'"),
    ("only-one-part", "give RUN_DIR:DIALOGUE_ID:EVENT_ID"),
])
def test_a_bad_fork_spec_is_one_line_and_status_2(run, parent, simulate, tmp_path, spec, says):
    given = spec.format(run=run, dialogue=parent.id, event=parent.events[0].id)
    status, err = simulate("--fork", given, "--backend", "rules", "--out", str(tmp_path / "f"))
    assert status == 2 and says in one_line(err)
    assert not (tmp_path / "f").exists()  # nothing made for a refused fork
