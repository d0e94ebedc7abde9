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

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from app.assembly import assemble
from app.dialogue.goals import Goal
from app.dialogue.session import run_dialogue
from app.dialogue.transcript import AgentSaid, Booked, Found, ToolAnswered, Transcript
from app.evaluation.data import LabelVersion, TestDialogue
from app.evaluation.gold import GoldBackend
from app.evaluation.replay import CorpusReplay
from app.evaluation.scoring import ScoreOptions, human_success
from app.evaluation.venues import VenueDatabase
from app.settings import Settings
from app.simulation.checker import STANDARD_REQUESTS, said_attribute
from app.tools.toolbox import Toolbox

LABELS: LabelVersion = "2.4"  # the gold states the replay calls with, and mwzeval scores with (the project's default)
GOLD_STEPS = 10
WORLD = "the goal's, with what the human booked granted (see crosscheck.human_world); judged by the goal itself"


@dataclass(frozen=True)
class Checkable:
    """One dialogue to check: its transcript, its goal, and which run of that goal it was."""

    transcript: Transcript
    goal: Goal
    run: int = 0


def corpus_transcripts(tests: list[TestDialogue], goals: dict[str, Goal], settings: Settings, toolbox: Toolbox,
                       workers: int = 1, progress: Callable[[Any, int], Any] | None = None) -> list[Checkable]:
    """Each test dialogue replayed with the human's replies, in its goal's world (see the module docstring)."""
    by_id = {test.id: test for test in tests}
    system = assemble(settings, toolbox, name="corpus", max_steps=GOLD_STEPS,
                      backend_for=lambda transcript: GoldBackend(by_id[str(transcript.meta["test_dialogue"])], LABELS,
                                                                 settings.format, transcript, corpus=True))

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
    domain, and why (see README, "Goal-driven dialogues": each category is explained there)."""
    checker = record["verdict"]["success"]
    if checker == mwzeval["success"]:
        return "agree: both pass" if checker else "agree: both fail"
    if checker:
        domains = mwzeval["domains"]
        if not mwzeval["inform"]:
            domain = next((d for d, r in domains.items() if not r["inform"]), "?")
            return f"only mwzeval fails: {domain}: Inform: the venues its state matches where a [name] is offered " \
                   "are not the goal's"
        domain = next((d for d, r in domains.items() if not r["success"]), "?")
        return f"only mwzeval fails: {domain}: Success: a requested attribute the human said has no placeholder " \
               "in its turn"
    transcript = Transcript.from_data(record["transcript"])
    for judged in record["verdict"]["domains"]:
        unsaid = [k for k, v in judged["requested"].items() if not v and k in STANDARD_REQUESTS]
        if judged["inform"] and not unsaid:
            continue
        return f"only the checker fails: {judged['domain']}: {_why(judged, unsaid, transcript)}"
    return "only the checker fails: ?"


def _why(judged: dict[str, Any], unsaid: list[str], transcript: Transcript) -> str:
    domain, problems = judged["domain"], judged["problems"]
    replies = "\n".join(e.text for e in transcript.events if isinstance(e, AgentSaid))
    if not judged["inform"] and "no venue was offered" in problems:
        if domain == "train":
            return "no venue: the human named no train (by id or departure time) that fits; mwzeval passes a train " \
                   "neither offered by id nor asked for by id"
        return "no venue: the human named the venue only by part of its name, or misspelt (the checker wants whole " \
               "names)"
    if not judged["inform"]:
        return "wrong venue: the human offered or booked a venue that breaks the goal"
    if "reference" in unsaid and any("nothing was booked" in p for p in problems):
        made = any(isinstance(e, ToolAnswered) and isinstance(e.result, Booked) and e.result.domain == domain
                   for e in transcript.events)
        return "no booking: the replay could not make the human's booking (its labels lack a slot the booking " \
               "needs, or name another venue)" if not made else "no booking"
    if "reference" in unsaid:
        return "no reference: the human gave none after booking"
    rows = [row for e in transcript.events if isinstance(e, ToolAnswered) and isinstance(e.result, Found)
            and e.result.domain == domain for row in e.result.rows if row.get("key") != judged["venue"]]
    others = any(str(row.get(a, "")) and said_attribute(row, a, replies) for row in rows for a in unsaid)
    return "attribute not said: " + ("the human gave another venue's" if others else
                                     "the human gave none, or a value the database does not hold")


def crosscheck_table(records: list[dict[str, Any]], mwzeval: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per category (side and reason), how many dialogues, in which domains, and a few examples; the agreement."""
    categories: Counter[str] = Counter()
    domains: dict[str, Counter[str]] = {}
    examples: dict[str, list[str]] = {}
    for record in records:
        side, _, rest = disagreement(record, mwzeval[record["goal"]]).partition(": ")
        domain, _, reason = rest.partition(": ") if not side.startswith("agree") else ("", "", rest)
        category = f"{side}: {reason}"
        categories[category] += 1
        if domain:
            domains.setdefault(category, Counter())[domain] += 1
        if len(examples.setdefault(category, [])) < 5:
            examples[category].append(record["goal"])
    agree = sum(n for c, n in categories.items() if c.startswith("agree"))
    total = max(1, len(records))
    return {"dialogues": len(records), "agreement": round(100 * agree / total, 1),
            "checker_success": round(100 * sum(r["verdict"]["success"] for r in records) / total, 1),
            "mwzeval_success": round(100 * sum(mwzeval[r["goal"]]["success"] for r in records) / total, 1),
            "categories": dict(categories.most_common()),
            "domains": {c: dict(d.most_common()) for c, d in domains.items()}, "examples": examples}
