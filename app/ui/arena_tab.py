"""The Arena tab: one message box, two hidden systems A and B answering side by side, and votes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from typing import Any

import gradio as gr

from app.backends import BackendError
from app.dialogue.session import user_text_problem
from app.dialogue.transcript import AgentSaid, ReplyChunk, Transcript, TurnFailed
from app.ui import view
from app.ui.header import without_paths
from app.workbench.arena import Arena, Match
from app.workbench.review_store import SHARED

log = logging.getLogger(__name__)
VOTES = {"A is better": "a", "B is better": "b", "Tie": "tie", "Both bad": "bothbad"}


class ArenaTab:
    """The Arena tab's handlers. The arena is built on first use; if that fails, the tab says why instead."""

    def __init__(self, make_arena: Callable[[], Arena], share: Callable[[Transcript], None] | None = None,
                 share_default: bool = False) -> None:
        self.make_arena = make_arena
        self._share = share  # saves a side and puts it in the review queue, or takes it out, as its meta says
        self.share_default = share_default
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
        return self.render(self._fresh(arena), keep_input="", status="New match: two hidden systems, A and B.")

    def _fresh(self, arena: Arena) -> Match:
        match = arena.new_match()
        for transcript in match.sides:
            transcript.meta[SHARED] = self.share_default
        return match

    def share(self, match: Match | None, shared: bool) -> tuple[Match | None, str]:
        """The share control: both sides' dialogues go to the review queue (raters, other people, read them) or
        come out of it; they join once both systems have answered. The match and what to say."""
        arena = self.arena
        if arena is None:
            return match, f"⚠️ {self.problem}"
        match = match or self._fresh(arena)
        for side in match.sides:
            side.meta[SHARED] = bool(shared)
            if self._share is not None and side.events:
                self._share(side)
        return match, ("Shared: raters in the review queue can read both sides once they have answered."
                       if shared else "Not shared: only you see this match.")

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
        match = match or self._fresh(arena)
        partial: list[str] = ["", ""]
        running = {0, 1}  # both sides answer at once
        yield self.render(match, keep_input="", status="⏳ A and B are answering…")
        try:
            for side, event in arena.send(match, text.strip()):
                if isinstance(event, ReplyChunk):
                    partial[side] += event.text
                elif isinstance(event, AgentSaid | TurnFailed):
                    running.discard(side)
                yield self.render(match, partial=partial, running=running, status="⏳ A and B are answering…")
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
            replaced = arena.vote(match, VOTES[choice], voter, turn)
        except ValueError as error:
            return str(error), match
        what = "the whole dialogue" if turn is None else f"turn {turn + 1}"
        change = " (it replaces your earlier vote there: one vote per voter and turn)" if replaced else ""
        return f"✅ Vote saved for {what}: **{choice}**{change}. Keep chatting, or start a new match.", match

    def render(self, match: Match | None, partial: list[str] | None = None, running: Collection[int] = (),
               keep_input: str | None = None, status: str = "") -> tuple[Any, ...]:
        """The tab's outputs: per side the chat, belief and bookings, then the match, the message box and the status.
        `running`: the sides whose turn is still being answered (their partial reply is shown)."""
        sides = match.sides if match else (Transcript(), Transcript())
        shown = []
        for index, transcript in enumerate(sides):
            live = index in running
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
        share = gr.Checkbox(label="Share this match with the review queue (raters will read it)",
                            value=tab.share_default, elem_id="arena-share", scale=2)
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
    for starts in (new.click, *(chat.clear for chat in chats)):  # a side's trash icon starts a new match too
        starts(tab.new_match, None, outputs, cancels=runs).then(  # type: ignore[arg-type]
            lambda: tab.share_default, None, share, queue=False)
    share.input(tab.share, [match, share], [match, status])
    for button in buttons:
        button.click(lambda m, v, w, choice=button.value: tab.vote(m, choice, v, w), [match, voter, whole],
                     [status, match])
    return voter
