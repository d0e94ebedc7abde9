""""Play a goal": a person is dealt (or picks) a MultiWOZ test goal, reads it as a task card, chats to get it
done and presses Done; the goal checker's verdict per domain is shown and saved with the dialogue."""

from __future__ import annotations

import logging
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any

import gradio as gr

from app.dialogue.goals import DomainGoal, Goal, load_goals
from app.dialogue.transcript import VERDICT_KEY, Transcript
from app.evaluation import data
from app.evaluation.cli import DEFAULT_TEST_DIR
from app.simulation.checker import GoalChecker, Verdict, venue_field
from app.tools.toolbox import Toolbox
from app.ui.demo import DemoApp
from domains.values import DONTCARE

log = logging.getLogger(__name__)


def describe(values: dict[str, Any]) -> str:
    """Slot values as the task card lists them: "area centre, pricerange cheap" ("any" for dontcare)."""
    return ", ".join(f"{slot} {'any' if value == DONTCARE else value}" for slot, value in values.items())


def task_card(goal: Goal) -> str:
    """The goal as a task: per domain what to find, what to book (and the fallback), what to ask for."""
    lines = [f"### Your task ({goal.id})"]
    for number, part in enumerate(goal.domains, 1):
        lines.append(f"**{number}. {part.domain.capitalize()}**")
        lines += [f"- {line}" for line in _steps(part)]
    lines.append("\nChat with the assistant until everything is done, then press **Done**.")
    lines.append("<details><summary>The goal as MultiWOZ wrote it</summary>\n\n" + " ".join(
        f"{sentence}." for sentence in goal.message) + "\n</details>")
    return "\n".join(lines)


def _steps(part: DomainGoal) -> list[str]:
    steps = []
    if venue_field(part.declared):
        if part.fail_info:
            steps.append(f"Find one with {describe(part.fail_info)}; if there is none, with {describe(part.info)}")
        else:
            steps.append(f"Find one with {describe(part.info)}")
    if part.books:
        booking = describe(part.first_book) or describe(part.info)
        steps.append(f"Book it: {booking}" + (f" (if that fails: {describe(part.book)})" if part.fail_book else ""))
    asks = [*part.reqt, *(["reference number"] if part.books else [])]
    if asks:
        steps.append(f"Get the {', '.join(asks)}")
    return steps


def verdict_markdown(verdict: Verdict) -> str:
    """The checker's verdict, one row per domain, for people."""
    mark = {True: "✅", False: "❌", None: "–"}
    head = "✅ **Goal met.**" if verdict.complete else "❌ **Goal not met.**"
    rows = ["| domain | venue | right venue | booking | told you | problems |", "|---|---|---|---|---|---|"]
    for judged in verdict.domains:
        told = ", ".join(f"{mark[given]} {attribute}" for attribute, given in judged.requested.items()) or "–"
        rows.append(f"| {judged.domain} | {judged.venue or '–'} | {mark[judged.inform]} | {mark[judged.booked]} | "
                    f"{told} | {'; '.join(judged.problems) or '–'} |")
    extra = f"\n\nBooked without being asked: {', '.join(verdict.extra_bookings)}." if verdict.extra_bookings else ""
    rates = (f"Inform {mark[verdict.inform]} · Success {mark[verdict.success]} · Book {mark[verdict.book]} · "
             f"Complete {mark[verdict.complete]}")
    blame = f"\n\n**Blame:** {verdict.blame} ({verdict.blame_reason})" if verdict.blame else ""
    return f"{head} {rates}{blame}\n\n" + "\n".join(rows) + extra


class GoalPlay:
    """The goals and the checker for one page; goals load on first use, and their absence only hides this."""

    def __init__(self, app: DemoApp, test_dir: Path = DEFAULT_TEST_DIR) -> None:
        self.app = app
        self.test_dir = test_dir
        self._checker: GoalChecker | None = None

    @cached_property
    def goals(self) -> dict[str, Goal]:
        """The test goals by id (loaded, or downloaded, on first use)."""
        folder = data.locate(self.test_dir, self.app.settings.home / "multiwoz-test")
        return {goal.id: goal for goal in load_goals(folder)}

    def choices(self) -> list[str]:
        """The goal ids to pick from; none when the test data is unavailable."""
        try:
            return list(self.goals)
        except data.TestDataUnavailable as error:
            log.warning("no goals to play: %s", error)
            return []

    def deal(self) -> str | None:
        """A goal id chosen at random, or None when there are no goals."""
        choices = self.choices()
        return secrets.choice(choices) if choices else None

    def start(self, goal_id: str | None) -> tuple[Any, ...]:
        """A new dialogue with this goal: the chat starts empty, the card shows the task."""
        goal = self.goals.get(goal_id or "") if self.choices() else None
        if goal is None:
            gr.Warning("Pick a goal first (or press Deal me a goal).")
            return (*self.app.render(), gr.skip(), gr.skip())
        transcript = self.app.new_dialogue()
        transcript.goal = goal
        return (*self.app.render(transcript, keep_input=""), task_card(goal), "")

    def done(self, transcript: Transcript | None) -> tuple[str, Any, Any]:
        """Check the dialogue against its goal; the verdict is saved in the dialogue's record."""
        if transcript is None or transcript.goal is None:
            return "Start a goal first: this dialogue has no goal to check.", gr.skip(), gr.skip()
        if self.app.system is None:
            return "The database is not available, so the goal cannot be checked.", gr.skip(), gr.skip()
        toolbox = self.app.system.toolbox
        goal = transcript.goal
        verdict = self.checker(toolbox).check(goal, transcript, toolbox.bookings(transcript.id))
        transcript.meta[VERDICT_KEY] = verdict.summary()
        self.app.finish(transcript)  # saves it (with the verdict) in the dialogue store
        return verdict_markdown(verdict), transcript, self.app.download_file(transcript)

    def checker(self, toolbox: Toolbox) -> GoalChecker:
        """The goal checker on this toolbox's database, made once."""
        if self._checker is None:
            self._checker = GoalChecker(toolbox)
        return self._checker


class GoalPanel:
    """The "Play a goal" panel: built where it shows, wired once the page's outputs exist."""

    def __init__(self, app: DemoApp, state: gr.State) -> None:
        self.play, self.state = GoalPlay(app), state
        with gr.Accordion("Play a goal (MultiWOZ test goals)", open=False, elem_id="goal-panel"):
            with gr.Row():
                self.choice = gr.Dropdown(choices=[], label="Goal", elem_id="goal-choice", filterable=True, scale=3)
                self.deal = gr.Button("Deal me a goal", elem_id="goal-deal", size="sm", scale=1)
                self.start = gr.Button("Start this goal", elem_id="goal-start", variant="primary", size="sm", scale=1)
            self.card = gr.Markdown("Pick or deal a goal, start it, then chat in the box above.", elem_id="goal-card")
            self.done = gr.Button("Done: check my goal", elem_id="goal-done", size="sm")
            self.verdict = gr.Markdown(elem_id="goal-verdict")

    def wire(self, page: gr.Blocks, outputs: list[Any], download: Any) -> None:
        """`outputs` are the page's render outputs: starting a goal starts a new dialogue."""
        self.deal.click(self.play.deal, None, self.choice, queue=False)
        self.start.click(self.play.start, [self.choice], [*outputs, self.card, self.verdict])
        self.done.click(self.play.done, [self.state], [self.verdict, self.state, download])
        # The goal list loads with the page (not at import or build): 1,000 ids, read once per process.
        page.load(lambda: gr.update(choices=self.play.choices()), None, self.choice)
