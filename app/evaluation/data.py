"""The MultiWOZ test dialogues with their goals, human responses and belief labels (2.1 and 2.4)."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.evaluation.labels import domain_names, metadata_state

LabelVersion = Literal["2.1", "2.4"]
SOURCES = {
    "test_mwz21/test.json": ("https://github.com/thu-coai/ConvLab-2/raw/b014b81fcb1ff74f54681917eee39c14c87af3e5/"
                             "data/multiwoz/test.json.zip", "test.json"),
    "test_mwz24/original.json": ("https://github.com/SLEEPWALKERG/LLM-DST-EVAL/raw/"
                                 "45eb519c888de4b8461b514d8b75e8f63b9280f7/single-step/results.zip",
                                 "results/parsed/original.json"),
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


def locate(folder: Path, cache: Path, timeout_s: float = 60) -> Path:
    """A folder holding test_mwz21/test.json and test_mwz24/original.json: `folder`, or a download cache."""
    if all((folder / name).is_file() for name in SOURCES):
        return folder
    failures = []
    for name, (url, member) in SOURCES.items():
        target = cache / name
        if target.is_file():
            continue
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - fixed https URLs
                data = zipfile.ZipFile(io.BytesIO(response.read())).read(member)
        except (OSError, zipfile.BadZipFile, KeyError) as error:
            failures.append(f"  - {url}: {error}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if failures:
        raise TestDataUnavailable(
            f"The MultiWOZ test files are not in {folder} and could not be downloaded:\n" + "\n".join(failures)
            + "\nPut test_mwz21/test.json (ConvLab-2 data/multiwoz/test.json.zip) and test_mwz24/original.json "
            "(LLM-DST-EVAL results) in a folder and pass it with --test-dir (WOZ_TEST_DIR).")
    return cache


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
