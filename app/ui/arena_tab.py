"""The Arena tab: one message box, two hidden systems A and B answering side by side, and votes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from app.backends import BackendError
from app.dialogue.session import user_text_problem
from app.dialogue.transcript import ReplyChunk, Transcript
from app.ui import view
from app.ui.header import without_paths
from app.workbench.arena import Arena, Match

log = logging.getLogger(__name__)
VOTES = {"A is better": "a", "B is better": "b", "Tie": "tie", "Both bad": "bothbad"}


class ArenaTab:
    """The Arena tab's handlers. The arena is built on first use; if that fails, the tab says why instead."""

    def __init__(self, make_arena: Callable[[], Arena]) -> None:
        self.make_arena = make_arena
        self._arena: Arena | None = None
        self.problem: str | None = None

    @property
    def arena(self) -> Arena | None:
        """The arena, built on first use; None (with `problem` saying why) when it cannot be."""
        if self._arena is None and self.problem is None:
            try:
                self._arena = self.make_arena()
            except (BackendError, ValueError) as error:
                self.problem = without_paths(f"The arena is not available: {error}")
        return self._arena

    def new_match(self) -> tuple[Any, ...]:
        """A fresh match between two hidden systems, with an empty message box."""
        arena = self.arena
        if arena is None:
            return self.render(None, status=f"⚠️ {self.problem}")
        return self.render(arena.new_match(), keep_input="", status="New match: two hidden systems, A and B.")

    def send(self, text: str, match: Match | None) -> Iterator[tuple[Any, ...]]:
        """Send the message to both sides and show their replies as they stream; a crash keeps both sides."""
        arena = self.arena
        if arena is None:
            yield self.render(match, status=f"⚠️ {self.problem}")
            return
        problem = user_text_problem(text or "", 2000)
        if problem:
            yield self.render(match, status=f"⚠️ {problem[0].upper()}{problem[1:]}.")
            return
        match = match or arena.new_match()
        partial: list[str] = ["", ""]
        yield self.render(match, keep_input="", status="⏳ A and B are answering…")
        try:
            for side, event in arena.send(match, text.strip()):
                if isinstance(event, ReplyChunk):
                    partial[side] += event.text
                yield self.render(match, partial=partial, running=side, status="⏳ A and B are answering…")
        except Exception as error:  # a crash of one system must not cost the person the other side
            log.exception("arena turn failed")
            yield self.render(match, status=f"⚠️ Something went wrong ({type(error).__name__}); both sides are kept.")
            return
        yield self.render(match, status=f"Turn {match.turns}: which reply is better? Vote below.")

    def vote(self, match: Match | None, choice: str, voter: str, whole: bool) -> tuple[str, Any]:
        """Record a vote on the latest turn, or on the whole dialogue when `whole`; the message and the match."""
        arena = self.arena
        if arena is None or match is None:
            return "Send a message first: there is nothing to compare yet.", match
        turn = None if whole else match.turns - 1
        try:
            arena.vote(match, VOTES[choice], voter, turn)
        except ValueError as error:
            return str(error), match
        what = "the whole dialogue" if turn is None else f"turn {turn + 1}"
        return f"✅ Vote saved for {what}: **{choice}**. Keep chatting, or start a new match.", match

    def render(self, match: Match | None, partial: list[str] | None = None, running: int | None = None,
               keep_input: str | None = None, status: str = "") -> tuple[Any, ...]:
        """The tab's outputs: per side the chat, belief and bookings, then the match, the message box and the status."""
        sides = match.sides if match else (Transcript(), Transcript())
        shown = []
        for index, transcript in enumerate(sides):
            live = running == index
            messages, _ = view.chat_messages(transcript, (partial or ["", ""])[index] or None, live)
            shown += [messages, view.belief_html(transcript), view.bookings(transcript)]
        return (*shown, match, gr.skip() if keep_input is None else keep_input, status)


def build_arena_tab(tab: ArenaTab, concurrency: dict[str, Any]) -> gr.Textbox:
    """Returns the voter's name box (the page remembers the name in the browser)."""
    gr.Markdown("The same message goes to two systems; which is which stays hidden until the results. Vote on "
                "each turn or on the whole dialogue.", elem_classes=["tab-intro"])
    match = gr.State(None)
    panes: list[gr.components.Component] = []
    chats: list[gr.Chatbot] = []
    with gr.Row(equal_height=False):
        for side in ("A", "B"):
            with gr.Column(elem_classes=["arena-side"]):
                chat = gr.Chatbot(elem_id=f"arena-chat-{side.lower()}", height=440, label=f"System {side}")
                with gr.Accordion(f"{side}: belief state and bookings", open=False,
                                  elem_id=f"arena-panels-{side.lower()}"):
                    belief = gr.HTML(elem_id=f"arena-belief-{side.lower()}")
                    booked = gr.Dataframe(headers=view.BOOKING_COLUMNS, elem_id=f"arena-bookings-{side.lower()}",
                                          interactive=False, wrap=True)
                panes += [chat, belief, booked]
                chats.append(chat)
    with gr.Row():
        message = gr.Textbox(elem_id="arena-message", placeholder="One message, sent to both A and B…",
                             show_label=False, scale=5)
        send = gr.Button("Send to both", variant="primary", elem_id="arena-send", scale=1)
    status = gr.Markdown(elem_id="arena-status")
    with gr.Row():
        voter = gr.Textbox(label="Your name", elem_id="arena-voter", scale=2)
        whole = gr.Checkbox(label="Vote on the whole dialogue (not just the last turn)", elem_id="arena-whole",
                            scale=2)
        new = gr.Button("New match", elem_id="arena-new", size="sm", scale=1)
    with gr.Row():
        buttons = [gr.Button(label, elem_id=f"arena-vote-{code}", size="sm") for label, code in VOTES.items()]
    outputs = [*panes, match, message, status]
    concurrency = {**concurrency, "show_progress_on": [status]}
    for trigger in (message.submit, send.click):  # said at once; Gradio adds the place in line and the wait
        trigger(lambda: "⏳ Waiting for a free turn: other people's turns run first.", None, status, queue=False)
    runs = [message.submit(tab.send, [message, match], outputs, **concurrency),
            send.click(tab.send, [message, match], outputs, **concurrency)]
    # Gradio annotates `cancels` as dicts, but takes (and documents) the events themselves.
    new.click(tab.new_match, None, outputs, cancels=runs)  # type: ignore[arg-type]
    for chat in chats:  # a side's trash icon emptied only its display: it starts a new match instead
        chat.clear(tab.new_match, None, outputs, cancels=runs)  # type: ignore[arg-type]
    for button in buttons:
        button.click(lambda m, v, w, choice=button.value: tab.vote(m, choice, v, w), [match, voter, whole],
                     [status, match])
    return voter
