"""Fork a run's dialogue at one of its events: `python -m app.simulate --fork RUN_DIR:DIALOGUE_ID:EVENT_ID`.

The new dialogue holds the parent's events up to and including that event (its meta's `forked_from` names the
parent dialogue and the event). The bookings made up to there are made again through the toolbox under the new
dialogue's id (every booking call replayed in order, refused ones too, so the goal's availability script sees the
same history), and the copied events name the new references, so the database and the transcript agree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import JsonValue

from app.dialogue.goals import availability_of
from app.dialogue.session import UserSide
from app.dialogue.transcript import (
    FORKED_FROM,
    Booked,
    Refused,
    ToolAnswered,
    ToolCalled,
    Transcript,
    UserSaid,
    new_id,
)
from app.tools.toolbox import Toolbox
from app.workbench.runs import TRANSCRIPTS, NotARun, RunsFolder


class ForkRefused(Exception):
    """The fork cannot be made (a bad spec, a missing run, dialogue or event); the message is one line, in words for
    the page (the command line says `--fork: ` before it where it is about the spec)."""


@dataclass(frozen=True)
class ForkSpec:
    """Where to fork: the run's folder, the dialogue's id, the event's id."""

    run: Path
    dialogue: str
    event: str

    @classmethod
    def parse(cls, spec: str) -> ForkSpec:
        """RUN_DIR:DIALOGUE_ID:EVENT_ID (the run's folder may itself hold colons; the ids do not)."""
        run, _, rest = spec.rpartition(":")
        run, _, dialogue = run.rpartition(":")
        if not run or not dialogue or not rest:
            raise ForkRefused(f"--fork {spec!r}: give RUN_DIR:DIALOGUE_ID:EVENT_ID")
        return cls(Path(run), dialogue, rest)


def parent_of(spec: ForkSpec) -> Transcript:
    """The dialogue the spec names, read from its run's transcripts.jsonl; ForkRefused when there is none."""
    if not (spec.run / TRANSCRIPTS).is_file():
        raise ForkRefused(f"--fork: no run folder {spec.run} (a folder holding {TRANSCRIPTS})")
    try:
        return RunsFolder(spec.run).transcript("", spec.dialogue)
    except NotARun:
        raise ForkRefused(f"--fork: run {spec.run} has no dialogue {spec.dialogue!r}") from None


def fork_dialogue(parent: Transcript, event_id: str, toolbox: Toolbox) -> Transcript:
    """A new dialogue holding `parent` up to and including `event_id`, its bookings made again under its own id."""
    try:
        kept = parent.fork(event_id, id=f"{parent.id}-fork-{new_id()[:6]}")
    except KeyError:
        raise ForkRefused(f"dialogue {parent.id} has no event {event_id!r}") from None
    references = _restore_bookings(kept, parent.id, toolbox)
    text = kept.to_json()
    for old, new in references.items():  # references are 8 random capitals and digits: nothing else matches
        text = text.replace(old, new)
    forked = Transcript.from_json(text)
    restored: dict[str, JsonValue] = dict(references)
    forked.meta[FORKED_FROM] = {"transcript": parent.id, "event": event_id, "references": restored}
    return forked


def copied_events(transcript: Transcript) -> set[str]:
    """The ids of the events a fork copied from its parent (none for a dialogue that is not a fork): the replies
    among them are the parent's system's, not this dialogue's."""
    forked = transcript.meta.get(FORKED_FROM)
    at = forked.get("event") if isinstance(forked, dict) else None
    ids = [e.id for e in transcript.events]
    return set(ids[:ids.index(at) + 1]) if isinstance(at, str) and at in ids else set()


def event_number(number: float | None, count: int) -> int:
    """A slider's event number (1-based) as a fork takes it: whole, and within the `count` events there are."""
    return max(1, min(int(number or 1), count))


def fork_at(parent: Transcript, number: float | None, toolbox: Toolbox | None,
            meta: dict[str, JsonValue]) -> Transcript:
    """The page's fork (from a run, the chat or a review item): `parent` up to its event `number` (1-based, clamped
    to the events there are), its bookings restored, recorded with `meta` (who answers from there) and its parent.
    ForkRefused says why not, in words for the page."""
    if not parent.events:
        raise ForkRefused("There is nothing to fork yet: the dialogue has no events.")
    if toolbox is None:
        raise ForkRefused("The database is not available, so no booking can be restored; see the header.")
    event = parent.events[event_number(number, len(parent.events)) - 1]
    forked = fork_dialogue(parent, event.id, toolbox)
    forked.meta = {**meta, FORKED_FROM: forked.meta[FORKED_FROM]}
    return forked


def _restore_bookings(kept: Transcript, parent_id: str, toolbox: Toolbox) -> dict[str, str]:
    """Replay the kept booking calls under the new id (an assigned entity, a taxi's car, picked as the parent's
    was); the old reference -> the new one. ForkRefused when a call now answers otherwise."""
    answers = {e.call_id: e.result for e in kept.events if isinstance(e, ToolAnswered)}
    references: dict[str, str] = {}
    for event in kept.events:
        if not isinstance(event, ToolCalled) or not isinstance(was := answers.get(event.call_id), Booked | Refused):
            continue
        now = toolbox.call(event.name, event.arguments, kept.id, availability_of(kept.goal), picked_as=parent_id)
        differs = isinstance(now, Booked) and isinstance(was, Booked) and now.details != was.details
        if type(now) is not type(was) or differs:
            raise ForkRefused(f"{event.name} at event {event.id} answered {now.summary()} this time, "
                              f"not {was.summary()}; the world cannot be restored")
        if isinstance(was, Booked) and isinstance(now, Booked):
            references[was.reference] = now.reference
    return references


def catch_up(user: UserSide, transcript: Transcript) -> None:
    """Bring a user side that keeps its own state (the agenda user) to where `transcript` stands: it is shown the
    dialogue as it stood before each of its messages, as when the dialogue was made (what it says is dropped)."""
    for position, event in enumerate(transcript.events):
        if isinstance(event, UserSaid):
            user.next(Transcript(id=transcript.id, goal=transcript.goal, events=transcript.events[:position]))


def as_record(fork: Transcript, verdict: dict[str, object], goal: str, turns: int) -> str:
    """The forked dialogue as a line of transcripts.jsonl, as a simulation writes it."""
    return json.dumps({"goal": goal, "run": 0, "turns": turns, "verdict": verdict, "alignment": None,
                       "transcript": fork.to_data()})
