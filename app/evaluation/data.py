"""The MultiWOZ test dialogues with their goals, human responses and belief labels (2.1 and 2.4)."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.evaluation.labels import domain_names, metadata_state

LabelVersion = Literal["2.1", "2.4"]
GOALS_FILE = "test_mwz21/test.json"  # the 1,000 test dialogues with their goals
LABELS_FILE = "test_mwz24/original.json"  # the MultiWOZ 2.4 belief labels of the same dialogues


@dataclass(frozen=True)
class PinnedFile:
    """Where a test file is published (a zip at a pinned commit, and its member) and the SHA-256 of the member."""

    url: str
    member: str
    sha256: str


SOURCES = {
    GOALS_FILE: PinnedFile("https://github.com/thu-coai/ConvLab-2/raw/b014b81fcb1ff74f54681917eee39c14c87af3e5/"
                           "data/multiwoz/test.json.zip", "test.json",
                           "fbfd3a3a93ba0bcec282ddd17ec2976a3d83c2fc4d993775a1d8d49821f9dee9"),
    LABELS_FILE: PinnedFile("https://github.com/SLEEPWALKERG/LLM-DST-EVAL/raw/"
                            "45eb519c888de4b8461b514d8b75e8f63b9280f7/single-step/results.zip",
                            "results/parsed/original.json",
                            "42537412a5e79b409736a4c8feafa750ca7b9ebe67f1e31c95f0202cdd536270"),
}


class TestDataUnavailable(RuntimeError):
    """The MultiWOZ test files are neither in the folder given nor downloadable; the message says what to do."""
    pass


@dataclass(frozen=True)
class GoldTurn:
    """One turn of a test dialogue: the user's words, the human system's response, and the gold belief states."""

    user: str
    system: str
    system_delex: str  # the human response with values replaced by [name], [reference], ...
    booked: frozenset[str]  # domains the human had booked by this turn
    states: dict[str, dict[str, str]]  # label version -> {"hotel-book day": "tuesday", ...}
    # domain -> the corpus' booking record by this turn, for domains the human booked: "booked" (what: {"trainID":
    # "TR1234", "reference": ...}, {"name": ...}) and the booking's slots ("day", "people", ...)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    spans: tuple[tuple[str, str, int, int], ...] = ()  # (act, slot, first word, last word) of the human response


@dataclass(frozen=True)
class TestDialogue:
    """One MultiWOZ test dialogue: its goal (venue domains only) and its turns."""

    id: str  # lowercase, without .json: "sng0073"
    goal: dict[str, Any]
    turns: list[GoldTurn] = field(default_factory=list)
    labelled: frozenset[str] = frozenset()  # label versions with real per-turn labels for this dialogue


def locate(folder: Path | None, cache: Path, timeout_s: float = 60, names: Iterable[str] = tuple(SOURCES)) -> Path:
    """A folder holding the test files `names` (all by default; Play a goal needs only GOALS_FILE), each verified
    by its SHA-256, as the databases are: `folder` (WOZ_TEST_DIR) when it has them, else the download cache,
    filled from the pinned downloads. TestDataUnavailable names every source that failed and why."""
    wanted = list(names)
    failures = []
    if folder is not None:
        problems = [problem for name in wanted if (problem := _unverified(folder / name, SOURCES[name]))]
        if not problems:
            return folder
        failures.append(f"  - {folder}: " + "; ".join(problems))
    for name in wanted:
        pinned, target = SOURCES[name], cache / name
        if _unverified(target, pinned) is None:
            continue
        try:
            with urllib.request.urlopen(pinned.url, timeout=timeout_s) as response:  # noqa: S310 - pinned https URLs
                blob = zipfile.ZipFile(io.BytesIO(response.read())).read(pinned.member)
        except (OSError, zipfile.BadZipFile, KeyError) as error:
            failures.append(f"  - {pinned.url}: {error}")
            continue
        if (digest := hashlib.sha256(blob).hexdigest()) != pinned.sha256:
            failures.append(f"  - {pinned.url}: {pinned.member} has SHA-256 {digest[:12]}..., not the pinned one")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(blob)
        partial.replace(target)
    if any(_unverified(cache / name, SOURCES[name]) for name in wanted):
        raise TestDataUnavailable(
            "The MultiWOZ test files are not in a local folder and could not be downloaded:\n" + "\n".join(failures)
            + f"\nPut {' and '.join(wanted)} (ConvLab-2 data/multiwoz/test.json.zip; LLM-DST-EVAL results) in a "
            "folder and pass it with --test-dir or set WOZ_TEST_DIR.")
    return cache


def _unverified(path: Path, pinned: PinnedFile) -> str | None:
    """Why the file at `path` is not the pinned one (missing, or other bytes); None when it is."""
    if not path.is_file():
        return f"no {path.parent.name}/{path.name}"
    with path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    return None if digest == pinned.sha256 else f"{path.parent.name}/{path.name} is not the published file"


def load(folder: Path) -> list[TestDialogue]:
    """Every test dialogue in the 2.1 file's order, with the 2.4 labels where the label file has them."""
    raw = json.loads((folder / "test_mwz21" / "test.json").read_text())
    labels: dict[str, dict[int, dict[str, Any]]] = {}
    for record in json.loads((folder / "test_mwz24" / "original.json").read_text()):
        name, turn = record["flag"].rsplit("-", 1)
        labels.setdefault(name.removesuffix(".json").lower(), {})[int(turn)] = record
    return [_dialogue(name, data, labels.get(name.removesuffix(".json").lower())) for name, data in raw.items()]


def _dialogue(name: str, data: dict[str, Any], labels: dict[int, dict[str, Any]] | None) -> TestDialogue:
    key = name.removesuffix(".json").lower()
    log = data["log"]
    turns = []
    for index in range(0, len(log) - 1, 2):
        system = log[index + 1]
        number = index // 2
        fallback = metadata_state(system["metadata"])  # 2.1 from the corpus itself (PMUL1455 has no other labels)
        record = (labels or {}).get(number)
        states = {"2.1": record["ground_truth"] if record else fallback,
                  "2.4": record["ground_truth_m24"] if record else fallback}
        booked = frozenset(d for d, v in system["metadata"].items() if d != "taxi" and v.get("book", {}).get("booked"))
        bookings = {d: v["book"] for d, v in system["metadata"].items() if v.get("book", {}).get("booked")}
        spans = tuple((s[0], s[1], s[3], s[4]) for s in system.get("span_info", []))
        turns.append(GoldTurn(log[index]["text"], system["text"], delexicalise_spans(system), booked, states, bookings,
                              spans))
    goal = {d: g for d, g in data["goal"].items() if d in domain_names() and g}
    return TestDialogue(key, goal, turns, frozenset({"2.1", "2.4"}) if labels else frozenset())


# MultiWOZ 2.1 span names -> placeholders mwzeval knows ([fee] and [ticket] would be dropped by it as unknown).
SPAN_PLACEHOLDERS = {"addr": "address", "post": "postcode", "ref": "reference", "id": "trainid", "leave": "leaveat",
                     "arrive": "arriveby", "dest": "destination", "depart": "departure", "fee": "entrancefee",
                     "ticket": "price"}


def delexicalise_spans(turn: dict[str, Any]) -> str:
    """The human response with annotated values replaced by placeholders ([name], [reference], ...)."""
    words = turn["text"].split(" ")
    for _act, slot, _value, start, end in sorted(turn.get("span_info", []), key=lambda s: -s[3]):
        if 0 <= start <= end < len(words):
            name = slot.lower()
            words[start:end + 1] = [f"[{SPAN_PLACEHOLDERS.get(name, name)}]"]
    return " ".join(words)
