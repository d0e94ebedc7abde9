"""The Review queue tab: a recorded dialogue, read-only and blind (no system name), rated reply by reply and
as a whole with the same questions as the chat; every answer is saved the moment it is given."""

from __future__ import annotations

import hashlib
import logging
from typing import Any, NamedTuple

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from app.dialogue.transcript import AgentSaid, ModelCalled, Transcript
from app.ui import theme, view
from app.ui.fork_panel import ForkPanel, build_fork_panel, events_of, label_at
from app.workbench.questions import FLAGS, of_scope, question
from app.workbench.review_store import ReviewStore

log = logging.getLogger(__name__)
# Each item opens at its first message: the chat's scrolling box back to the top once the new dialogue is drawn.
TO_TOP = """() => { requestAnimationFrame(() => document.querySelectorAll('#review-chat *').forEach(box => {
  if (box.scrollHeight > box.clientHeight && getComputedStyle(box).overflowY !== 'visible') box.scrollTop = 0; })); }"""
FLAG_NAMES = {q.label: q.name for q in of_scope("reply") if q.name.startswith("flag_")}
NOTHING = "🎉 Nothing left for you to rate: every dialogue has its raters. Thank you!"
FOR_OTHERS = ("🎉 Nothing left for you to rate: the {n} dialogue(s) that still need raters wait for other raters "
              "(you have rated them). Thank you!")
BUSY = ("The {n} dialogue(s) left for you are being rated by others right now (each has all its raters at work); "
        "press **Next dialogue** again in a few minutes.")
ONLY_THIS = "This is the only dialogue left for you: rate it, then press **Save and next**."


class ReviewTab:
    """The Review queue tab's handlers: hand a rater the next dialogue, save each answer they give."""

    def __init__(self, store: ReviewStore) -> None:
        self.store = store

    def next(self, rater: str, current: str | None = None) -> tuple[Any, ...]:
        """Outputs: chat, belief, calls, bookings, item id, progress, status. An item that cannot be shown is set
        aside with the reason (for the lead to see) and the rater gets the next one. `current`, the item shown and
        left unfinished, is not handed straight back."""
        rater = (rater or "").strip()
        if not rater:
            return self._show(None, "", "Enter your name, then press **Next dialogue**.")
        try:
            while (item := self.store.next_item(rater, skip=current)) is not None:
                try:
                    return self._show(item.id, rater, "Rate the replies (👍 👎 or a flag under each), then the "
                                                      "dialogue.")
                except (ValueError, KeyError, IndexError, TypeError) as error:  # the page cannot draw this one
                    log.warning("review item %s set aside: %s", item.id, error)
                    self.store.set_aside(item.id, f"the page could not show it: {type(error).__name__}: {error}")
        except SQLAlchemyError:
            log.exception("review queue unavailable")
            return self._show(None, rater, "⚠️ The review queue's database is not reachable; nothing was lost.")
        return self._nothing_next(rater, current)

    def _nothing_next(self, rater: str, current: str | None) -> tuple[Any, ...]:
        """No other item for this rater: why, in the same terms as the progress line (never "every dialogue has its
        raters" while it counts dialogues that still need some); the unfinished one stays on screen."""
        progress = self.store.progress(rater)
        if current and self.transcript(current) is not None and current not in self.store.rated_items(rater):
            return (*[gr.skip()] * 5, progress.text(), ONLY_THIS)
        if progress.left_for_rater:
            return self._show(None, rater, BUSY.format(n=progress.left_for_rater))
        if progress.needing_raters:
            return self._show(None, rater, FOR_OTHERS.format(n=progress.needing_raters))
        return self._show(None, rater, NOTHING)

    def _show(self, item_id: str | None, rater: str, status: str) -> tuple[Any, ...]:
        transcript = self.transcript(item_id)
        progress = self.store.progress(rater).text() if rater else ""
        if transcript is None:
            return [], view.belief_html(Transcript()), view.api_calls(Transcript()), view.bookings(Transcript()), \
                None, progress, status
        messages, _ids = view.chat_messages(transcript)
        return (messages, view.belief_html(transcript), view.api_calls(transcript), view.bookings(transcript),
                item_id, progress, status)

    def transcript(self, item_id: str | None) -> Transcript | None:
        """The item's dialogue as raters see it: without its record of who answered (the system stays hidden)."""
        stored = self.store.item(item_id) if item_id else None
        return None if stored is None else Transcript.from_data({**stored.transcript, "meta": {}})

    def fork_parent(self, item_id: str | None) -> Transcript | None:
        """The item as a fork starts from it: as raters see it, under an id that says nothing of where it came
        from (a simulation's or an arena match's id would), its model calls without the backend and model that
        made them; so the fork, its download and its record name no hidden system either."""
        transcript = self.transcript(item_id)
        if transcript is None or item_id is None:
            return None
        events = [e.model_copy(update={"backend": "hidden", "model": None}) if isinstance(e, ModelCalled) else e
                  for e in transcript.events]
        return Transcript(id=f"review-{hashlib.sha256(item_id.encode()).hexdigest()[:12]}", goal=transcript.goal,
                          events=events)

    def rate_reply(self, item_id: str | None, rater: str, like: gr.LikeData) -> str:
        """Save the rater's choice for one of the agent's replies as the feedback control shows it: one choice per
        reply (like, dislike or a flag), which replaces their earlier choice there, and "" takes it back. The
        message to show."""
        transcript = self.transcript(item_id)
        if transcript is None or item_id is None:
            return "Press **Next dialogue** first."
        reply = reply_of(transcript, like)
        if reply is None:
            return "That message is not one of the agent's replies."
        feedback = like.liked if isinstance(like.liked, str) else {True: "Like", False: "Dislike"}[like.liked]
        if feedback and feedback not in ("Like", "Dislike", *FLAG_NAMES):
            return f"Unknown feedback {feedback!r}."
        chosen = ({("reply", reply.id): feedback.lower()} if feedback in ("Like", "Dislike")
                  else {(FLAG_NAMES[feedback], reply.id): "yes"} if feedback else {})
        others = tuple((name, reply.id) for name in ("reply", *FLAG_NAMES.values()) if (name, reply.id) not in chosen)
        try:
            self.store.answer(item_id, rater, chosen, withdrawn=others)
        except ValueError as error:
            return str(error)
        return f"Saved: {feedback} for reply {reply.turn + 1}." if feedback else \
            f"Taken back: your answer for reply {reply.turn + 1}."

    def submit(self, item_id: str | None, rater: str, completed: str | None, naturalness: str | None
               ) -> tuple[Any, ...]:
        """Save the dialogue's answers (flags not raised count as "no" on the replies this rater judged), then
        show the next item. Nothing is saved when an answer is missing."""
        transcript = self.transcript(item_id)
        if transcript is None or item_id is None:
            return (*self.next(rater), gr.skip(), gr.skip())
        if completed is None or naturalness is None:
            return (*[gr.skip()] * 6, "Please choose both *task completed* and *naturalness*.", gr.skip(), gr.skip())
        given = self.store.answers(item_id, rater.strip())
        judged = {a.target for a in given if a.target}  # replies this rater liked, disliked or flagged
        mine = {(a.question, a.target) for a in given}
        answers = {("task_completed", ""): completed, ("naturalness", ""): str(naturalness)}
        answers |= {(name, target): "no" for target in judged for name in FLAG_NAMES.values()
                    if (name, target) not in mine}
        try:
            self.store.answer(item_id, rater, answers)
        except ValueError as error:
            return (*[gr.skip()] * 6, str(error), gr.skip(), gr.skip())
        shown = self.next(rater)
        return (*shown[:6], f"✅ Saved. {shown[6]}", gr.update(value=None), gr.update(value=None))


def reply_of(transcript: Transcript, like: gr.LikeData) -> AgentSaid | None:
    """The reply a rating in the chat is about: the chat groups a turn's steps with its reply, and reports the
    group's first message, so the reply is the turn's."""
    messages, ids = view.chat_messages(transcript)
    index = like.index if isinstance(like.index, int) else like.index[0]
    if not 0 <= index < len(ids) or messages[index]["role"] != "assistant":
        return None
    turn = transcript.event(ids[index]).turn
    return transcript.turns()[turn].reply


class ReviewFork(NamedTuple):
    """What the page needs to fork the item shown into the Chat tab."""

    item: gr.State
    controls: ForkPanel


def build_review_tab(tab: ReviewTab) -> tuple[gr.Textbox, ReviewFork]:
    """Returns the rater's name box (the page remembers the name in the browser) and the fork panel's parts the
    page wires to the Chat tab."""
    gr.Markdown("Dialogues recorded from the chat, the arena, evaluation and simulation runs and imported files. "
                "The system's name is hidden while you rate.", elem_classes=["tab-intro"])
    item = gr.State(None)
    with gr.Row():
        rater = gr.Textbox(label="Your name (rater)", elem_id="review-rater", scale=2)
        start = gr.Button("Next dialogue", variant="primary", elem_id="review-next", scale=1)
    progress = gr.Markdown(elem_id="review-progress")
    status = gr.Markdown(elem_id="review-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            # Read-only: no trash icon (hidden by the theme's CSS), opened at its first message (no autoscroll to
            # the end), its title above it rather than over the first message.
            gr.Markdown("#### Dialogue (read-only)", elem_classes=["panel-title"])
            chat = gr.Chatbot(elem_id="review-chat", height=520, label="Dialogue (read-only)", show_label=False,
                              autoscroll=False, buttons=[], feedback_options=("Like", "Dislike", *FLAGS))
        with gr.Column(scale=2):
            gr.Markdown("#### Belief state", elem_classes=["panel-title"])
            belief = gr.HTML(elem_id="review-belief")
            gr.Markdown("#### API calls", elem_classes=["panel-title"])
            calls = gr.Dataframe(headers=view.CALL_COLUMNS, elem_id="review-calls", interactive=False, wrap=True,
                                 max_height=260, column_widths=theme.CALL_WIDTHS)
            gr.Markdown("#### Bookings", elem_classes=["panel-title"])
            booked = gr.Dataframe(headers=view.BOOKING_COLUMNS, elem_id="review-bookings", interactive=False,
                                  wrap=True, max_height=200, column_widths=theme.BOOKING_WIDTHS)
    with gr.Row():
        completed = gr.Radio(list(question("task_completed").options), label=question("task_completed").label,
                             elem_id="review-task-completed")
        naturalness = gr.Radio(list(question("naturalness").options), label=question("naturalness").label,
                               elem_id="review-naturalness")
    submit = gr.Button("Save and next", variant="primary", elem_id="review-submit")
    fork = build_fork_panel("review", "Fork this dialogue into the Chat tab", "Go on from any event of this dialogue "
                            "in the Chat tab: the dialogue up to there is copied, with its bookings, and the page's "
                            "model or the rule-based system answers what you say next. Your ratings are not touched.")

    shown = [chat, belief, calls, booked, item, progress, status]
    def fork_events(item_id: str | None) -> tuple[Any, ...]:  # the item shown: its events, no earlier fork's line
        return (*events_of(tab.transcript(item_id)), "")

    forking = [fork.event, fork.label, fork.answers, fork.status]
    start.click(tab.next, [rater, item], shown).then(None, js=TO_TOP).then(fork_events, item, forking, queue=False)
    chat.like(tab.rate_reply, [item, rater], [status])
    submit.click(tab.submit, [item, rater, completed, naturalness], [*shown, completed, naturalness]).then(
        None, js=TO_TOP).then(fork_events, item, forking, queue=False)
    fork.event.input(lambda item_id, number: label_at(tab.transcript(item_id), number), [item, fork.event],
                     fork.label, trigger_mode="always_last", queue=False)
    return rater, ReviewFork(item, fork)
