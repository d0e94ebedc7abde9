"""Who is to blame for a goal that was not met: the infrastructure (a backend error, a deadline, the user
simulator's model failing), the user (it did not convey the goal: alignment below 100%, or it broke a rule of
how a MultiWOZ user behaves), or else the agent. Infrastructure failures are kept out of the rates, as tau-bench
does; rates are also reported over the dialogues whose user conveyed the goal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from app.agent.agent import STOPPED
from app.dialogue.goals import DomainGoal, Goal
from app.dialogue.transcript import Transcript
from app.simulation.evidence import Evidence
from app.simulation.rules.understanding import KEYWORDS_ONLY, understand
from app.simulation.users.alignment import conveyed
from app.simulation.wording import reports_no_match, says_slot

Blame = Literal["agent", "user", "infrastructure"]


def blame_of(goal: Goal, transcript: Transcript, evidence: Evidence, complete: bool) -> tuple[Blame | None, str]:
    """Who is to blame, and why; (None, "") for a goal that was met."""
    if complete:
        return None, ""
    failures = [message for message in evidence.failures if message != STOPPED]
    if user_failure := transcript.meta.get("user_failure"):
        failures.append(f"the user simulator failed: {user_failure}")
    if failures:
        return "infrastructure", failures[0]
    if problems := user_problems(goal, transcript, evidence):
        return "user", problems[0]
    return "agent", "the user conveyed the goal"


def user_problems(goal: Goal, transcript: Transcript, evidence: Evidence) -> list[str]:
    """How the user side failed to convey its goal: values it never said (alignment below 100%), rules of a
    MultiWOZ user it broke. Empty when it conveyed the goal."""
    checked = conveyed(goal, transcript)
    unsaid = [slot for slot, said in checked.items() if not said]
    problems = [f"the user conveyed {sum(checked.values())} of {len(checked)} goal values (never said: "
                f"{', '.join(unsaid)})"] if unsaid else []
    return problems + user_rules_broken(goal, evidence)


def user_rules_broken(goal: Goal, evidence: Evidence) -> list[str]:
    """The rules of a MultiWOZ user that the user side broke: it asks for an alternative only after its first
    choice failed (no match, or a refusal), and asks for it once the first choice did fail in a reply. Values are
    common across domains ("expensive", "17:30"), so each domain's rules read only the user's messages about it
    (each message's domain as the rule-based system reads it)."""
    about = _domains(evidence)
    broken = []
    for part in goal.domains:
        said = [(position, text) for position, text in evidence.user if about[position] == part.domain]
        if part.fail_info:
            broken += _switching(part, said, evidence)
        if part.fail_book:
            refused = [p for p, r in evidence.refused if r.domain == part.domain]
            changed = {k: v for k, v in part.book.items() if part.first_book.get(k) != v}
            early = "\n".join(text for position, text in said if not refused or position < refused[0])
            if _says_all(part, changed, early):
                broken.append(f"{part.domain}: asked for the fallback booking {changed} before the first choice was "
                              "refused")
    return broken


def _domains(evidence: Evidence) -> dict[int, str | None]:
    """Each user message's domain, as the rule-based system reads it (by its words; a message naming none goes on
    with the one before)."""
    active, about = None, {}
    for position, text in evidence.user:
        active = understand(text, KEYWORDS_ONLY, active).domain or active
        about[position] = active
    return about


def _switching(part: DomainGoal, said: list[tuple[int, str]], evidence: Evidence) -> list[str]:
    """The alternative is asked for only after the first choice was said and a reply said nothing matched it; and
    it is asked for once that happened."""
    alternative = {k: v for k, v in part.info.items() if part.fail_info.get(k) != v}
    first = {k: v for k, v in part.fail_info.items() if part.info.get(k) != v}
    said_first = next((position for position, text in said if _says_all(part, first, text)), None)
    if said_first is None:
        said_alternative = any(_says_all(part, alternative, text) for _position, text in said)
        return [f"{part.domain}: asked for the alternative {alternative} without its first choice {first}"] \
            if said_alternative else []
    switched = next((position for position, text in said
                     if position > said_first and _says_all(part, alternative, text)), None)
    failed = next((position for position, text in evidence.said if position > said_first and reports_no_match(text)),
                  None)
    if switched is not None and (failed is None or failed > switched):
        return [f"{part.domain}: asked for the alternative {alternative} before a reply said its first choice "
                f"{first} found nothing"]
    if switched is None and failed is not None:
        return [f"{part.domain}: never asked for the alternative {alternative} after its first choice found nothing"]
    return []


def _says_all(part: DomainGoal, values: Mapping[str, object], text: str) -> bool:
    return bool(values) and all(says_slot(s, part.declared.slot(s).kind, v, text) for s, v in values.items())
