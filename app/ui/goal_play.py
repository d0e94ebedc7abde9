""""Play a goal": a person is dealt (or picks) a goal, chooses who answers (the model, or the rule-based system,
which is not a model: all there is when no model can load), reads the goal as a task card, chats to get it done
and presses Done; the goal checker's verdict per domain is shown and saved with the dialogue. The goals are the
MultiWOZ test goals where they can be found or downloaded, else goals generated from the database
(`app.simulation.goal_source`), looked for once per process."""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Any

import gradio as gr

from app.dialogue.goals import Goal
from app.dialogue.transcript import VERDICT_KEY, Transcript
from app.simulation.checker import GoalChecker
from app.simulation.goal_source import GoalSet, find_goals
from app.simulation.systems import RULES, RULES_LABEL
from app.ui.demo import ChatPage, DemoApp
from app.ui.goal_card import NO_GOAL

log = logging.getLogger(__name__)
MODEL = "model"  # the system choice: the page's model, or RULES (the rule-based system)


class GoalPlay:
    """The goals and the checker for one page. The goals are looked for once, in the background from the start,
    so neither a page load nor a press of Deal waits on a download again."""

    def __init__(self, app: DemoApp) -> None:
        self.app = app
        self._checker: GoalChecker | None = None
        self._goals: GoalSet | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self.goal_set, name="find-goals", daemon=True).start()

    def goal_set(self) -> GoalSet:
        """The goals (found, downloaded or generated on first use; the same answer afterwards, even a failure)."""
        with self._lock:
            if self._goals is None:
                toolbox = self.app.toolbox
                self._goals = find_goals(self.app.settings, toolbox.catalogue if toolbox else None)
                log.info("Play a goal: %s", self._goals.source)
            return self._goals

    def choices(self) -> Any:
        """The goal dropdown: the goal ids, labelled with where they come from."""
        goals = self.goal_set()
        return gr.update(choices=goals.ids, label=f"Goal ({goals.source})")

    def systems(self) -> Any:
        """The system choice: the page's model (unless it cannot load) and the rule-based system, labelled as not
        a model; the model is chosen when it can answer, else the rules."""
        choices = [(RULES_LABEL, RULES)]
        if self.app.no_model() is None:
            name = self.app.system.name if self.app.system else self.app.settings.model
            choices.insert(0, (f"the model ({name})", MODEL))
        return gr.update(choices=choices, value=choices[0][1])

    def fresh(self, system: str | None, goal: Goal) -> Transcript | None:
        """An empty dialogue with `goal`, answered by the chosen system; None (with a warning) when the model was
        chosen but cannot answer."""
        if system == RULES:
            fresh = self.app.rules_dialogue()
        elif self.app.no_model() is not None:
            gr.Warning(f"No model can answer here: choose the {RULES_LABEL}.")
            return None
        else:
            fresh = self.app.new_dialogue()
        fresh.goal = goal
        return fresh

    def judge(self, transcript: Transcript) -> str:
        """Check the dialogue against its goal and record the verdict in its meta (saved with it); the verdict in
        a few words, for the status line ("❌ Goal not met (blame: agent)")."""
        assert transcript.goal is not None and self.app.toolbox is not None
        verdict = self.checker().check(transcript.goal, transcript, self.app.toolbox.bookings(transcript.id))
        transcript.meta[VERDICT_KEY] = verdict.summary()
        return "✅ Goal met" if verdict.complete else "❌ Goal not met" + (f" (blame: {verdict.blame})"
                                                                         if verdict.blame else "")

    def deal(self) -> str | None:
        """A goal id chosen at random (a warning and no change when there are no goals)."""
        ids = self.goal_set().ids
        if not ids:
            gr.Warning(f"There are no goals to deal: {self.goal_set().source}.")
            return gr.skip()
        return secrets.choice(ids)

    def start(self, goal_id: str | None, system: str | None, transcript: Transcript | None) -> ChatPage:
        """A new dialogue with this goal, answered by the chosen system (a running turn of the old one ends, as New
        dialogue ends it): the chat starts empty, the card shows the task."""
        goal = self.goal_set().goals.get(goal_id or "")
        if goal is None:
            gr.Warning("Pick a goal first (or press Deal me a goal).")
            return ChatPage.unchanged()
        fresh = self.fresh(system, goal)
        if fresh is None:
            return ChatPage.unchanged()
        return self.app.start_over(transcript, fresh)

    def done(self, transcript: Transcript | None) -> ChatPage:
        """Check the dialogue against its goal; the verdict is saved in the dialogue's record and shown under the
        card. Nothing is checked before anything was said (there would be nothing to save with the verdict)."""
        if transcript is None or transcript.goal is None:
            gr.Warning("Start a goal first: this dialogue has no goal to check.")
            return ChatPage.unchanged()
        if self.app.running(transcript):  # a reply still on its way would be judged half-said
            gr.Warning("The assistant is still answering: press Done once its reply is in (or Stop it first).")
            return ChatPage.unchanged()
        if not transcript.events:
            gr.Warning("Nothing to check yet: chat with the assistant to get the task done, then press Done.")
            return ChatPage.unchanged()
        toolbox = self.app.toolbox
        if toolbox is None:
            gr.Warning("The database is not available, so the goal cannot be checked.")
            return ChatPage.unchanged()
        self.judge(transcript)
        return self.app.finish(transcript)  # saves it (with the verdict) in the dialogue store

    def checker(self) -> GoalChecker:
        """The goal checker on the app's database, made once."""
        if self._checker is None and self.app.toolbox is not None:
            self._checker = GoalChecker(self.app.toolbox)
        assert self._checker is not None, "no database, so no checker"  # done() checks the toolbox first
        return self._checker


class GoalPanel:
    """The "Play a goal" panel: built where it shows, wired once the page's outputs exist."""

    def __init__(self, play: GoalPlay) -> None:
        self.play = play
        with gr.Accordion("Play a goal", open=False, elem_id="goal-panel") as self.panel:
            with gr.Row():
                self.choice = gr.Dropdown(choices=[], label="Goal", elem_id="goal-choice", filterable=True, scale=3)
                self.deal = gr.Button("Deal me a goal", elem_id="goal-deal", size="sm", scale=1)
                self.start = gr.Button("Start this goal", elem_id="goal-start", variant="primary", size="sm", scale=1)
            self.system = gr.Radio([(RULES_LABEL, RULES)], value=RULES, label="Who answers you",
                                   elem_id="goal-system")
            self.card = gr.Markdown(NO_GOAL, elem_id="goal-card")
            self.done = gr.Button("Done: check my goal", elem_id="goal-done", size="sm")
            self.verdict = gr.Markdown(elem_id="goal-verdict")

    def wire(self, page: gr.Blocks, outputs: ChatPage) -> None:
        """`outputs` are the page's render outputs: starting a goal starts a new dialogue, Done redraws it."""
        self.deal.click(self.play.deal, None, self.choice)
        self.start.click(self.play.start, [self.choice, self.system, outputs.state], list(outputs), queue=False)
        self.done.click(self.play.done, [outputs.state], list(outputs))
        # The goal list loads with the page (not at import or build): looked for once per process.
        page.load(self.play.choices, None, self.choice)
        page.load(self.play.systems, None, self.system)

    def when_no_model(self) -> Any:
        """The system choice once no model can answer (the rules only); nothing changes while one loads or
        answers."""
        return self.play.systems() if self.play.app.no_model() else gr.skip()
