"""The runs under one folder (`runs/` or WOZ_RUNS_DIR), read for the Runs tab: each evaluation and simulation run
with its system, user, date and headline rates; a run's dialogues with their verdict, blame, domains and cost; one
dialogue's transcript. Pure reading: nothing here writes, and no path outside the root is ever opened.

Runs are named by their path relative to the root ("sim-rules", "nightly/eval-gold"), never by a server path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.dialogue.costs import dialogue_costs
from app.dialogue.transcript import AnyEvent, ModelCalled, Transcript

TRANSCRIPTS = "transcripts.jsonl"
METRICS = "metrics.json"
SETUP = "run.json"
VERDICTS = ("any", "complete", "not complete")


class NotARun(Exception):
    """The name given is no run below the root (outside it, missing, or holding no dialogues); one line."""


@dataclass(frozen=True)
class RunSummary:
    """One run as listed: its name (relative to the root), command, system, user, date and headline rates."""

    name: str
    command: str
    system: str
    user: str
    date: str
    dialogues: int
    rates: dict[str, float | None]

    def row(self) -> dict[str, Any]:
        """The run as a table row."""
        return {"run": self.name, "command": self.command, "system": self.system, "user": self.user,
                "date": self.date, "dialogues": self.dialogues, **self.rates}


@dataclass(frozen=True)
class DialogueRow:
    """One dialogue of a run: its verdict (None for an evaluation's turn-level dialogue), blame, domains, cost."""

    id: str
    goal: str
    complete: bool | None
    blame: str
    domains: tuple[str, ...]
    turns: int
    model_calls: int
    tokens: int | None
    wall_s: float

    def row(self) -> dict[str, Any]:
        """The dialogue as a table row."""
        verdict = "—" if self.complete is None else "complete" if self.complete else "not complete"
        return {"dialogue": self.id, "goal": self.goal, "verdict": verdict, "blame": self.blame,
                "domains": " ".join(self.domains), "turns": self.turns, "model calls": self.model_calls,
                "tokens": self.tokens, "wall s": round(self.wall_s, 3)}


@dataclass(frozen=True)
class DialogueFilter:
    """What to keep: a verdict ("any", "complete", "not complete"), a blame and a domain ("" for any), and dialogues
    costing at least `min_calls` model calls and (when given) `min_tokens` tokens."""

    verdict: str = "any"
    blame: str = ""
    domain: str = ""
    min_calls: int = 0
    min_tokens: int | None = None

    def keeps(self, row: DialogueRow) -> bool:
        """Whether `row` passes every condition."""
        if self.verdict == "complete" and row.complete is not True:
            return False
        if self.verdict == "not complete" and row.complete is not False:
            return False
        if self.blame and row.blame != self.blame:
            return False
        if self.domain and self.domain not in row.domains:
            return False
        if row.model_calls < self.min_calls:
            return False
        return self.min_tokens is None or (row.tokens or 0) >= self.min_tokens


class RunsFolder:
    """The runs below `root`; every name is resolved inside it, and one that leaves it is refused."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def folder(self, name: str = "") -> Path:
        """The folder `name` (relative to the root; "" is the root); NotARun when it leaves the root or is missing."""
        cleaned = name.strip().strip("/")
        if Path(cleaned).is_absolute() or "\\" in cleaned:
            raise NotARun(f"{name!r}: give a folder below the runs folder, not a path on the server")
        path = (self.root / cleaned).resolve()
        if path != self.root and self.root not in path.parents:
            raise NotARun(f"{name!r} is not below the runs folder")
        if not path.is_dir():
            raise NotARun(f"{name!r}: no such folder below the runs folder")
        return path

    def runs(self, under: str = "") -> list[RunSummary]:
        """Every run in `under` (relative to the root) and its subfolders, newest first."""
        base = self.folder(under)
        found = [self._summary(path) for path in sorted(base.rglob(TRANSCRIPTS)) if path.is_file()]
        return sorted(found, key=lambda run: run.date, reverse=True)

    def dialogues(self, run: str) -> list[DialogueRow]:
        """The dialogues of the run `run`, in the order they finished."""
        return [_row(record, transcript) for record, transcript in self._records(run)]

    def transcript(self, run: str, dialogue_id: str) -> Transcript:
        """The transcript `dialogue_id` of the run `run`; NotARun when the run has no such dialogue."""
        for _record, transcript in self._records(run):
            if transcript.id == dialogue_id:
                return transcript
        raise NotARun(f"run {run!r} has no dialogue {dialogue_id!r}")

    def _records(self, run: str) -> list[tuple[dict[str, Any] | None, Transcript]]:
        path = self.folder(run) / TRANSCRIPTS
        if not path.is_file():
            raise NotARun(f"{run!r} holds no {TRANSCRIPTS}: not a run")
        stat = path.stat()  # read again only once the file changed: the slider asks at every event
        return list(_read(str(path), stat.st_mtime_ns, stat.st_size))

    def _summary(self, transcripts: Path) -> RunSummary:
        path = transcripts.parent
        setup, metrics = _json(path / SETUP), _json(path / METRICS)
        made = datetime.fromtimestamp((path / METRICS if (path / METRICS).exists() else transcripts).stat().st_mtime,
                                      UTC)
        command = str(setup.get("command") or ("simulate" if "rates" in metrics else "evaluate"))
        system = setup.get("system") or metrics.get("system") or metrics.get("backend") or "?"
        user = setup.get("user") or metrics.get("user") or ("corpus" if command == "evaluate" else "?")
        name = "." if path == self.root else path.relative_to(self.root).as_posix()
        count = metrics.get("dialogues")
        if not isinstance(count, int):
            count = sum(1 for line in transcripts.read_text(encoding="utf-8").splitlines() if _record(line))
        return RunSummary(name, command, str(system), str(user), made.strftime("%Y-%m-%d %H:%M"), count,
                          headline(metrics, command))


def headline(metrics: dict[str, Any], command: str = "simulate") -> dict[str, float | None]:
    """A run's headline rates: a simulation's Inform, Success, Book and Complete; an evaluation's Inform, Success
    and JGA (None where the run has no metrics yet)."""
    if command in ("simulate", "fork"):
        rates = metrics.get("rates") or {}
        return {rate: rates.get(rate, {}).get("value") for rate in ("inform", "success", "book", "complete")}
    state = metrics.get("state") or {}
    return {"inform": metrics.get("inform"), "success": metrics.get("success"), "jga": state.get("jga")}


@lru_cache(maxsize=8)
def _read(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[dict[str, Any] | None, Transcript], ...]:
    """The readable records of a transcripts.jsonl as it was at that time and size (callers never change them)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(read for line in lines if (read := _record(line)))


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(line: str) -> tuple[dict[str, Any] | None, Transcript] | None:
    """A simulation's line (a record holding its transcript and verdict) or an evaluation's (a bare transcript);
    None for a line that cannot be read (cut by a crash)."""
    try:
        data = json.loads(line)
        if isinstance(data, dict) and "transcript" in data:
            return data, Transcript.from_data(data["transcript"])
        return None, Transcript.from_data(data)
    except ValueError:
        return None


def _row(record: dict[str, Any] | None, transcript: Transcript) -> DialogueRow:
    verdict = record.get("verdict", {}) if record else {}
    complete = verdict.get("complete") if verdict else None
    if transcript.goal is not None:
        domains = transcript.goal.names
    else:
        domains = tuple(sorted({slot.partition("-")[0] for slot in transcript.belief()}))
    goal = record.get("goal", "") if record else str(transcript.meta.get("test_dialogue", ""))
    blame = (verdict.get("blame") or "agent") if complete is False else ""
    costs = dialogue_costs(transcript)
    reported = [n for n in (costs.agent.prompt_tokens, costs.agent.generated_tokens, costs.user.prompt_tokens,
                            costs.user.generated_tokens) if n is not None]
    return DialogueRow(transcript.id, str(goal), complete, blame, tuple(domains), len(transcript.turns()),
                       costs.agent.calls + costs.user.calls, sum(reported) if reported else None, costs.wall_s)


def event_label(transcript: Transcript, index: int) -> str:
    """The event at `index` in words: its number, turn and kind, and the start of its text."""
    event = transcript.events[index]
    text = getattr(event, "text", None) or getattr(event, "name", None) or ""
    if not text and hasattr(event, "changes"):
        text = ", ".join(f"{slot}={value}" for slot, value in event.changes.items())
    shown = f": {text[:80]}" if text else ""
    where = f"event {index + 1} of {len(transcript.events)} · turn {event.turn + 1}"
    return f"{where} · {event.kind} · id {event.id}{shown}"


def as_it_was(transcript: Transcript, index: int) -> Transcript:
    """The dialogue as it stood right after its event at `index` (clamped to the events there are): what the panels
    show at that event."""
    if not transcript.events:
        return transcript
    index = max(0, min(index, len(transcript.events) - 1))
    return transcript.fork(transcript.events[index].id, id=transcript.id)


def _content(event: AnyEvent) -> str:
    """What an event says, without its id, time or step: two runs' events compare on this."""
    return json.dumps(event.model_dump(mode="json", exclude={"id", "at", "step", "call_id"}), sort_keys=True)


def first_difference(one: Transcript, other: Transcript) -> tuple[int | None, int | None] | None:
    """Where two dialogues of the same goal part: the index in each of the first event that differs (model calls,
    which differ in their timings, left out; None for a side that ended first), or None when they say the same."""
    said = [(i, _content(e)) for i, e in enumerate(one.events) if not isinstance(e, ModelCalled)]
    heard = [(i, _content(e)) for i, e in enumerate(other.events) if not isinstance(e, ModelCalled)]
    for (i, mine), (j, theirs) in zip(said, heard, strict=False):
        if mine != theirs:
            return i, j
    if len(said) == len(heard):
        return None
    return (said[len(heard)][0], None) if len(said) > len(heard) else (None, heard[len(said)][0])


def by_goal(rows: list[DialogueRow]) -> dict[str, str]:
    """A run's first dialogue for each goal: goal -> dialogue id."""
    found: dict[str, str] = {}
    for row in rows:
        if row.goal:
            found.setdefault(row.goal, row.id)
    return found
