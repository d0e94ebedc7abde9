""""Watch a goal": a goal is picked or dealt, a user side (the agenda user simulator) pursues it against the chosen
system (the page's model, or the rule-based system, which is not a model), and the dialogue plays in the chat at
reading speed with every panel live; Pause holds it, Stop ends it, and the checker's verdict (with its blame) ends
it. The dialogue is saved like any other, so it can be rated, downloaded and shared with the review queue.

It runs through the same dialogue loop as every other dialogue (`DemoApp.watch` -> `run_dialogue`), with the same
user simulator as `python -m app.simulate --user agenda`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import gradio as gr

from app.dialogue.transcript import Transcript
from app.simulation.systems import RULES, RULES_LABEL
from app.simulation.users.agenda import AgendaUser
from app.ui.demo import ChatPage
from app.ui.goal_play import GoalPlay

AGENDA = "agenda"
USERS = [("agenda user simulator (rule-based, no model)", AGENDA)]  # an LLM user joins once the page can configure one


class GoalWatch:
    """The Watch a goal handler over the page's goals and checker (shared with Play a goal)."""

    def __init__(self, play: GoalPlay) -> None:
        self.play = play
        self.app = play.app

    def watch(self, goal_id: str | None, user: str | None, system: str | None,
              transcript: Transcript | None) -> Iterator[ChatPage]:
        """Play the goal's dialogue with the chosen user side and system, ending with the verdict."""
        goal = self.play.goal_set().goals.get(goal_id or "")
        if goal is None:
            gr.Warning("Pick a goal to watch first (or press Deal me a goal).")
            yield ChatPage.unchanged()
            return
        if self.app.toolbox is None:
            gr.Warning("The database is not available, so no dialogue can be played.")
            yield ChatPage.unchanged()
            return
        fresh = self.play.fresh(system, goal)
        if fresh is None:
            yield ChatPage.unchanged()
            return
        seed = secrets.randbelow(10_000)  # each watch talks a little differently; the seed is kept to replay it
        fresh.meta.update({"user": user or AGENDA, "seed": seed, "watched": True})
        who = RULES_LABEL if system == RULES else "the model"
        note = (f"▶ Watching the agenda user pursue {goal.id} with the {who}… (**Pause** holds it, **Stop** ends "
                "it)")
        yield from self.app.watch(transcript, fresh, AgendaUser(goal, seed=seed), self.play.judge, note)


class WatchPanel:
    """The "Watch a goal" panel: built where it shows, wired once the page's outputs exist."""

    def __init__(self, play: GoalPlay) -> None:
        self.handler = GoalWatch(play)
        with gr.Accordion("Watch a goal", open=False, elem_id="watch-panel") as self.panel:
            gr.Markdown("A simulated user pursues a goal against the system you choose; the dialogue plays in the "
                        "chat above, and the goal checker's verdict ends it.", elem_classes=["panel-note"])
            with gr.Row():
                self.choice = gr.Dropdown(choices=[], label="Goal", elem_id="watch-goal", filterable=True, scale=3)
                self.deal = gr.Button("Deal me a goal", elem_id="watch-deal", size="sm", scale=1)
            with gr.Row():
                self.user = gr.Radio(USERS, value=AGENDA, label="User side", elem_id="watch-user")
                self.system = gr.Radio([(RULES_LABEL, RULES)], value=RULES, label="System",
                                       elem_id="watch-system")
            with gr.Row():
                self.start = gr.Button("Watch", elem_id="watch-start", variant="primary", size="sm")
                self.pause = gr.Button("Pause", elem_id="watch-pause", size="sm")
                self.stop = gr.Button("Stop", elem_id="watch-stop", size="sm")

    def wire(self, page: gr.Blocks, outputs: ChatPage) -> None:
        """`outputs` are the page's render outputs: the watched dialogue takes the page."""
        play, app = self.handler.play, self.handler.app
        self.deal.click(play.deal, None, self.choice)
        self.start.click(self.handler.watch, [self.choice, self.user, self.system, outputs.state], list(outputs),
                         concurrency_limit=app.settings.remote_concurrency, concurrency_id="watch",
                         show_progress="hidden").then(lambda: gr.update(value="Pause"), None, self.pause,
                                                      queue=False)
        self.pause.click(app.pause, [outputs.state], self.pause, queue=False)
        self.stop.click(app.stop_turn, [outputs.state], None, queue=False)
        page.load(play.choices, None, self.choice)
        page.load(self._systems, None, [self.system, self.panel])

    def when_no_model(self) -> tuple[Any, Any]:
        """`_systems` once no model can answer; nothing changes while one loads or answers."""
        return self._systems() if self.handler.app.no_model() else (gr.skip(), gr.skip())

    def _systems(self) -> tuple[Any, Any]:
        """The system choice, and the panel opened when no model can answer: what works without one."""
        return self.handler.play.systems(), gr.update(open=True) if self.handler.app.no_model() else gr.skip()
