"""The goal checker against mwzeval over the corpus: the 1,000 human test dialogues, replayed through the tools,
judged by both.

The replay (`corpus_transcripts`): each test dialogue's user turns in order; the system side is the gold oracle
(`GoldBackend`) reading the gold belief state (MultiWOZ 2.4 labels), so it Finds and Books what the human wizard
did (a train by the id the human booked), in the goal's world (the goal's first booking choice is refused, its
booking granted), and it replies with the human's own words, its references and taxi particulars those of the
replay's bookings. mwzeval's side (`app.evaluation.scoring.human_success`) scores the human's delexicalised
responses with the gold states, as `--score` would. Each dialogue where the two disagree gets a category: which
side failed, in which domain, and why (see `disagreement`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.assembly import assemble
from app.dialogue.goals import Goal
from app.dialogue.session import run_dialogue
from app.dialogue.transcript import Transcript
from app.evaluation.data import TestDialogue
from app.evaluation.gold import GoldBackend
from app.evaluation.replay import CorpusReplay
from app.evaluation.scoring import ScoreOptions, human_success
from app.evaluation.venues import VenueDatabase
from app.settings import Settings
from app.simulation.recheck import Checkable
from app.tools.toolbox import Toolbox

LABELS = "2.4"  # the gold states the replay calls with, and mwzeval scores with (the project's default)
GOLD_STEPS = 10
WORLD = "the goal's, with what the human booked granted (see crosscheck.human_world); judged by the goal itself"


def corpus_transcripts(tests: list[TestDialogue], goals: dict[str, Goal], settings: Settings, toolbox: Toolbox,
                       workers: int = 1, progress: Callable[[Any, int], Any] | None = None) -> list[Checkable]:
    """Each test dialogue replayed with the human's replies, in its goal's world (see the module docstring)."""
    by_id = {test.id: test for test in tests}
    system = assemble(settings, toolbox, name="corpus", max_steps=GOLD_STEPS, backend_for=lambda transcript: GoldBackend(
        by_id[str(transcript.meta["test_dialogue"])], LABELS, settings.format, transcript, corpus=True))

    def replay(test: TestDialogue) -> Checkable:
        transcript = Transcript(id=f"corpus-{test.id}", goal=human_world(goals[test.id], test),
                                meta={"test_dialogue": test.id, "system": "corpus", "user": "corpus",
                                      "format": settings.format, "world": WORLD})
        for _event in run_dialogue(system.agent(transcript), CorpusReplay(test), transcript):
            pass
        return Checkable(transcript, goals[test.id])  # judged by the goal, not its world

    wanted = [test for test in tests if test.id in goals]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = pool.map(replay, wanted)
        return list(progress(done, len(wanted)) if progress else done)


def human_world(goal: Goal, test: TestDialogue) -> Goal:
    """The goal's world as the human dialogue lived it: what the human finally booked is granted (the wizard's
    world refused other things than the goal says), the goal's first choice is refused. The transcript books in
    it; the checker still judges by the goal."""
    final = test.turns[-1].bookings if test.turns else {}
    parts = []
    for part in goal.domains:
        record = final.get(part.domain)
        if record is None or not part.book:
            parts.append(part)
            continue
        booked = {}
        for slot, value in record.items():
            if slot in part.book:
                try:
                    booked[slot] = part.declared.slot(slot).normalise(value)
                except ValueError:
                    continue
        parts.append(part.model_copy(update={"book": {**part.book, **booked}}))
    return goal.model_copy(update={"domains": tuple(parts)})


def mwzeval_verdicts(tests: list[TestDialogue], venues: VenueDatabase) -> dict[str, dict[str, Any]]:
    """mwzeval's Inform and Success on the human responses, per dialogue, with each domain's results."""
    options = ScoreOptions(labels=LABELS)
    verdicts = {}
    for test in tests:
        match, success = human_success(test, options, venues)
        verdicts[test.id] = {"inform": match["total"], "success": success.get("total", False),
                             "domains": {d: {"inform": match.get(d, False), "success": success.get(d, False)}
                                         for d in test.goal}}
    return verdicts


def disagreement(record: dict[str, Any], mwzeval: dict[str, Any]) -> str:
    """The category of one dialogue: "agree" when both give the same Success; else which side failed, in which
    domain, and why (the checker's first problem there, or the mwzeval criterion that failed)."""
    checker = record["verdict"]["success"]
    if checker == mwzeval["success"]:
        return "agree: both pass" if checker else "agree: both fail"
    if checker:
        domains = mwzeval["domains"]
        if not mwzeval["inform"]:
            domain = next((d for d, r in domains.items() if not r["inform"]), "?")
            return f"only mwzeval fails: {domain}: Inform (the venues its state matches where a name is offered)"
        domain = next((d for d, r in domains.items() if not r["success"]), "?")
        return f"only mwzeval fails: {domain}: Success (a requested attribute or reference without its placeholder)"
    for judged in record["verdict"]["domains"]:
        if not judged["inform"] or not all(v for k, v in judged["requested"].items()
                                           if k in ("phone", "address", "postcode", "trainid", "reference")):
            unsaid = [k for k, v in judged["requested"].items() if not v]
            problem = judged["problems"][0] if judged["problems"] and not judged["inform"] else \
                f"{', '.join(unsaid)} not said"
            return f"only the checker fails: {judged['domain']}: {_shape(problem)}"
    return "only the checker fails: ?"


def _shape(problem: str) -> str:
    if "does not satisfy" in problem:
        return "the venue breaks the goal's constraints"
    return re.sub(r"\d+", "N", re.split(r"[{('\"]", problem)[0]).strip(" ,")


def crosscheck_table(records: list[dict[str, Any]], mwzeval: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per category, how many dialogues (and a few examples); the agreement rate."""
    categories: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for record in records:
        category = disagreement(record, mwzeval[record["goal"]])
        categories[category] += 1
        examples.setdefault(category, [])
        if len(examples[category]) < 5:
            examples[category].append(record["goal"])
    agree = sum(n for c, n in categories.items() if c.startswith("agree"))
    return {"dialogues": len(records), "agreement": round(100 * agree / len(records), 1) if records else 0.0,
            "checker_success": round(100 * sum(r["verdict"]["success"] for r in records) / max(1, len(records)), 1),
            "mwzeval_success": round(100 * sum(mwzeval[r["goal"]]["success"] for r in records)
                                     / max(1, len(records)), 1),
            "categories": dict(categories.most_common()), "examples": examples}
