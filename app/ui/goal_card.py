"""A goal as the task card a person plays, and the checker's verdict on it: pure rendering, as `view` is."""

from __future__ import annotations

from typing import Any

from app.dialogue.goals import DomainGoal, Goal, attribute_words, constraint_words
from app.dialogue.transcript import VERDICT_KEY, Transcript
from app.simulation.checker import Verdict, venue_field
from app.ui.view import as_text

NO_GOAL = "Pick or deal a goal, start it, then chat in the box above."


def task_card(goal: Goal) -> str:
    """The goal as a task: per domain what to find, what to book (and the fallback), what to ask for; each domain
    under its own heading, in words ("arrive by", "train ID"), not slot names."""
    label = f"{goal.id}, generated from the database: not a MultiWOZ test goal" if goal.generated else goal.id
    lines = [f"### Your task ({as_text(label)})"]
    for number, part in enumerate(goal.domains, 1):
        lines += ["", f"#### {number}. {part.domain.capitalize()}", *(f"- {as_text(step)}" for step in _steps(part))]
    lines += ["", "Chat with the assistant until everything is done, then press **Done**."]
    if goal.message:
        written = "The goal as it was generated" if goal.generated else "The goal as MultiWOZ wrote it"
        lines += ["", f"<details><summary>{written}</summary>\n\n"
                      + as_text(" ".join(f"{sentence}." for sentence in goal.message)) + "\n</details>"]
    return "\n".join(lines)


def _steps(part: DomainGoal) -> list[str]:
    steps = []
    if venue_field(part.declared):
        if part.fail_info:
            steps.append(f"Find one {constraint_words(part.fail_info)}; if there is none, one "
                         f"{constraint_words(part.info)}")
        else:
            steps.append(f"Find one {constraint_words(part.info)}")
    else:  # a trip: between the places the goal names, or else the venues of its other domains
        places = "" if {"departure", "destination"} <= set(part.info) else " between the places you found"
        steps.append(f"Book one{places}: {constraint_words(part.info)}")
    if part.books and venue_field(part.declared):
        booking = constraint_words(part.first_book) or constraint_words(part.info)
        steps.append(f"Book it: {booking}" + (f" (if that fails: {constraint_words(part.book)})"
                                              if part.fail_book else ""))
    asks = [*part.reqt, *(["reference number"] if part.books else [])]
    if asks:
        steps.append(f"Get the {attribute_words(asks)}")
    return steps


def verdict_markdown(verdict: Verdict) -> str:
    """The checker's verdict, one row per domain, for people."""
    mark = {True: "✅", False: "❌", None: "–"}
    head = "✅ **Goal met.**" if verdict.complete else "❌ **Goal not met.**"
    rows = ["| domain | venue | right venue | booking | told you | problems |", "|---|---|---|---|---|---|"]
    for judged in verdict.domains:
        told = ", ".join(f"{mark[given]} {as_text(attribute)}" for attribute, given in judged.requested.items()) or "–"
        problems = "; ".join(as_text(problem) for problem in judged.problems) or "–"
        rows.append(f"| {judged.domain} | {as_text(judged.venue) if judged.venue else '–'} | {mark[judged.inform]} | "
                    f"{mark[judged.booked]} | {told} | {problems} |")
    extra = (f"\n\nBooked without being asked: {as_text(', '.join(verdict.extra_bookings))}."
             if verdict.extra_bookings else "")
    rates = (f"Inform {mark[verdict.inform]} · Success {mark[verdict.success]} · Book {mark[verdict.book]} · "
             f"Complete {mark[verdict.complete]}")
    blame = (f"\n\n**Blame:** {as_text(verdict.blame)} ({as_text(verdict.blame_reason)})"
             if verdict.blame else "")
    return f"{head} {rates}{blame}\n\n" + "\n".join(rows) + extra


def goal_panel(transcript: Transcript) -> tuple[str, str]:
    """The goal card and the verdict the dialogue has: its goal's card (or how to start one) and its saved
    verdict (or nothing yet). Derived from the transcript alone, so New dialogue, a reload and Done agree."""
    if transcript.goal is None:
        return NO_GOAL, ""
    saved: Any = transcript.meta.get(VERDICT_KEY)
    return task_card(transcript.goal), verdict_markdown(Verdict.model_validate(saved)) if saved else ""
