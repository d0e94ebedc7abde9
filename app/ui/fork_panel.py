"""Fork into the Chat tab from the chat itself and from a review item (the Runs tab forks from its own event
slider): the panel's controls, and the handlers that say which event a fork would start after."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from app.dialogue.transcript import Transcript
from app.simulation.fork import ForkRefused, event_number, fork_at
from app.simulation.systems import RULES, RULES_LABEL
from app.ui.demo import ChatPage, DemoApp
from app.ui.goal_play import MODEL
from app.workbench.review_store import SHARED
from app.workbench.runs import event_label

ANSWERS = [("the page's model", MODEL), (RULES_LABEL, RULES)]  # who answers a fork


class ForkPanel(NamedTuple):
    """A closed "Fork ..." panel: the event to fork after, what that event is, who answers from there, the button
    and the line that says how it went."""

    panel: gr.Accordion
    event: gr.Slider
    label: gr.Markdown
    answers: gr.Radio
    fork: gr.Button
    status: gr.Markdown


def build_fork_panel(prefix: str, title: str, intro: str) -> ForkPanel:
    """The panel, with elem ids `{prefix}-fork-panel`, `{prefix}-fork-event`, `{prefix}-fork-event-label`,
    `{prefix}-fork-answers`, `{prefix}-fork` and `{prefix}-fork-status`."""
    with gr.Accordion(title, open=False, elem_id=f"{prefix}-fork-panel") as panel:
        gr.Markdown(intro, elem_classes=["panel-note"])
        event = gr.Slider(1, 2, value=1, step=1, label="Fork after event", elem_id=f"{prefix}-fork-event")
        label = gr.Markdown(elem_id=f"{prefix}-fork-event-label")
        with gr.Row():
            answers = gr.Radio(ANSWERS, value=MODEL, label="Who answers the fork", elem_id=f"{prefix}-fork-answers",
                               scale=3)
            fork = gr.Button("Fork into the Chat tab", elem_id=f"{prefix}-fork", size="sm", scale=1)
        status = gr.Markdown(elem_id=f"{prefix}-fork-status")
    return ForkPanel(panel, event, label, answers, fork, status)


def events_of(transcript: Transcript | None, answered_by_rules: bool = False) -> tuple[Any, str, Any]:
    """The slider over `transcript`'s events (at its last one), what that event is, and who answers by default
    (whoever answers the dialogue now)."""
    if transcript is None or not transcript.events:
        return gr.update(minimum=1, maximum=2, value=1), "No events yet: there is nothing to fork.", gr.skip()
    count = len(transcript.events)
    # A slider from 1 to 1 cannot be drawn: a one-event dialogue gets 1 to 2, clamped when forking.
    return (gr.update(minimum=1, maximum=max(count, 2), value=count), event_label(transcript, count - 1),
            gr.update(value=RULES if answered_by_rules else MODEL))


def label_at(transcript: Transcript | None, number: float | None) -> str:
    """What the event at `number` (1-based, clamped) is."""
    if transcript is None or not transcript.events:
        return "No events yet: there is nothing to fork."
    return event_label(transcript, event_number(number, len(transcript.events)) - 1)


def fork_into_chat(app: DemoApp, parent: Transcript | None, number: float | None, who: str | None,
                   current: Transcript | None) -> tuple[str, Any, ChatPage]:
    """Fork `parent` after its event `number` into the Chat tab: its bookings restored, answered from there by the
    page's own model or by the rule-based system (`who`), in place of `current`. The line that says how it went,
    the tabs (the Chat tab opened) and the page; when it cannot be made, the line says why and nothing else
    changes. One handler for the Runs tab, the chat itself and a review item."""
    unchanged = ChatPage.unchanged()
    if parent is None or not parent.events:
        return "⚠️ Choose a dialogue with events first.", gr.skip(), unchanged
    # Not shared with the review queue: the replies up to the fork are the parent's, maybe another system's.
    meta = {**(app.rules_dialogue() if who == RULES else app.new_dialogue()).meta, SHARED: False}
    try:
        made = fork_at(parent, number, app.toolbox, meta)
    except ForkRefused as error:
        return f"⚠️ {error}", gr.skip(), unchanged
    note = (f"Forked after event {event_number(number, len(parent.events))} into the Chat tab: go on from "
            "there.")
    return note, gr.Tabs(selected="chat-tab"), app.start_over(current, made)
