"""The demo's handlers: each session's dialogue lives in gr.State; the model, tools and store are shared."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, cast

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from app.assembly import SystemUnderTest, assemble
from app.backends import BackendError
from app.dialogue.session import Messages, OneMessage, UserSide, run_dialogue, user_text_problem
from app.dialogue.transcript import AgentSaid, ReplyChunk, Transcript, TurnFailed, valid_text
from app.settings import Settings
from app.tools.toolbox import Toolbox
from app.ui import view
from app.ui.admin import AdminGate
from app.ui.header import storage_warning, without_paths
from app.workbench.annotations import AnnotationStore, TaskCompleted
from app.workbench.review_store import SHARED, ReviewStore, finished_turns
from app.workbench.tables import system_meta
from db.importer import DataUnavailable, imported_sources

log = logging.getLogger(__name__)
WAIT_FOR_MODEL_S = 0.5


@dataclass
class Status:
    """Where the model stands (loading, ready or failed), with a message for the page's header."""

    state: Literal["loading", "ready", "failed"]
    message: str


class ChatPage(NamedTuple):
    """What the chat tab shows, one field per output: `render` fills it with values and the layout with the
    components they go to, so the two orders cannot drift apart (Gradio takes it as the outputs' tuple)."""

    chat: Any
    message: Any
    belief: Any
    calls: Any
    rows: Any
    bookings: Any
    state: Any
    retry: Any
    download: Any
    status: Any
    share: Any  # whether this dialogue is shared with the review queue


class DemoApp:
    """The chat page's handlers over one shared system, database and rating store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.status = Status("loading", "starting…")
        self.system: SystemUnderTest | None = None  # the configured model and format over the database
        self.store: AnnotationStore | None = None
        self.review: ReviewStore | None = None  # where a dialogue its person shares goes to be rated
        self.admin = AdminGate(settings.admin_token)
        self.data_source = "not loaded"
        self._stops: dict[str, threading.Event] = {}  # transcript id -> its running turn's stop flag
        self._left: set[str] = set()  # dialogues left by New dialogue while a turn ran: their handler shows nothing

    def start(self) -> DemoApp:
        """Open the database (importing MultiWOZ on first use) and start loading the model in the background.
        Whatever fails is shown on the page with what to set; the app itself always starts."""
        try:
            toolbox = Toolbox.open(self.settings)
        except (DataUnavailable, SQLAlchemyError, ImportError, OSError) as error:  # ImportError: no DB driver
            self.status = Status("failed", f"the database is not available: {error}")
            return self
        self.data_source = ", ".join(imported_sources(toolbox.catalogue.engine))
        self.store = AnnotationStore(toolbox.catalogue.engine)
        self.review = ReviewStore(toolbox.catalogue.engine, self.settings.raters_per_item)
        try:
            self.system = assemble(self.settings, toolbox)
        except (BackendError, ValueError) as error:
            self.status = Status("failed", str(error))
            return self
        threading.Thread(target=self._load_model, name="load-model", daemon=True).start()
        return self

    def _load_model(self) -> None:
        if self.system is None:
            return
        load = getattr(self.system.backend, "load", None)
        self.status = Status("loading", f"loading {self.settings.model}…")
        try:
            if load:
                load()
        except BackendError as error:
            self.status = Status("failed", str(error))
            return
        warnings = getattr(self.system.backend, "warnings", [])
        self.status = Status("ready", "; ".join(warnings) if warnings else "ready")

    @property
    def local_model(self) -> bool:
        """Whether the model runs in this process (transformers) rather than on a server."""
        return self.settings.backend == "transformers"

    def header(self) -> str:
        """The page's header line: the model, format and data, and the model's status."""
        backend = self.system.name if self.system else f"{self.settings.backend} {self.settings.model}"
        icon = {"ready": "🟢", "loading": "⏳", "failed": "🔴"}[self.status.state]
        warning = storage_warning(self.settings)
        return without_paths(f"**Model:** {backend} · **format:** {self.settings.format} · **data:** "
                             f"{self.data_source}  \n{icon} {self.status.message}"
                             + (f"  \n{warning}" if warning else ""))

    def new_dialogue(self) -> Transcript:
        """An empty transcript recording which backend, format and model it runs on, and whether it is shared
        with the review queue (off unless the settings say every visitor is an annotator)."""
        return Transcript(meta={**system_meta(self.settings), SHARED: self.settings.share_default})

    # -- chat -----------------------------------------------------------------------------------------------
    def respond(self, message: str, transcript: Transcript | None) -> Iterator[ChatPage]:
        """Send: check the message, show it at once, then run the agent's turn and stream the page as it goes."""
        transcript = transcript or self.new_dialogue()
        text = valid_text(message or "").strip()
        if not text:
            yield self.render(transcript, keep_input=message)
            return
        if problem := user_text_problem(text, self.settings.max_user_chars):
            gr.Warning(problem)
            yield self.render(transcript, keep_input=message)
            return
        # Show the message at once and empty the box once; later updates leave the box alone, so whatever the
        # person types while the agent answers is not wiped.
        yield self.render(transcript, partial="…", running=True, pending_user=text, keep_input="")
        yield from self._turn(transcript, OneMessage(text), pending_user=text)

    def retry(self, transcript: Transcript | None) -> Iterator[ChatPage]:
        """Retry: run the unfinished last turn again from where it stopped."""
        transcript = transcript or self.new_dialogue()
        if transcript.open_turn() is None:
            yield self.render(transcript)
            return
        yield from self._turn(transcript, Messages([]), resume=True)

    def _turn(self, transcript: Transcript, user: UserSide, resume: bool = False, pending_user: str | None = None
              ) -> Iterator[ChatPage]:
        while self.status.state == "loading":
            yield self.render(transcript, partial=f"⏳ {self.status.message}", running=True, pending_user=pending_user)
            time.sleep(WAIT_FOR_MODEL_S)
        if self.system is None or self.status.state == "failed":
            if (said := user.next(transcript)) is not None:
                transcript.append(said)
            turn = transcript.last_turn()
            if turn is not None:
                transcript.append(TurnFailed(turn=turn.number, message=f"The model is not available: "
                                                                       f"{self.status.message}"))
            yield self.finish(transcript)
            return
        partial, stop = "", threading.Event()
        self._stops[transcript.id] = stop
        try:
            for event in run_dialogue(self.system.agent(transcript), user, transcript, resume=resume, stop=stop):
                if transcript.id in self._left:  # winding down after New dialogue: the page shows the new one
                    continue
                if isinstance(event, ReplyChunk):
                    partial += event.text
                    yield self.render(transcript, partial=partial, running=True, panels=False)
                else:  # a stored event ends the streamed piece: what was shown is in the transcript now
                    partial = ""
                    yield self.render(transcript, running=True)
        except GeneratorExit:  # the page went away (the agent has recorded that the turn stopped)
            self._save(transcript)
            raise
        finally:
            self._stops.pop(transcript.id, None)
        if transcript.id in self._left:  # saved, but the page shows the new dialogue now
            self._left.discard(transcript.id)
            self._save(transcript)
            return
        yield self.finish(transcript)

    def stop_turn(self, transcript: Transcript | None) -> None:
        """The Stop button: the running turn of this session ends soon, recorded as stopped, and the handler
        that ran it finishes normally (so a message sent right after is not ignored as a repeat)."""
        if transcript is not None and (stop := self._stops.get(transcript.id)):
            stop.set()

    def start_over(self, transcript: Transcript | None) -> ChatPage:
        """New dialogue: a running turn is asked to end, as Stop does, and its handler then returns without
        touching the page (cancelling it dropped a message sent right after); the page shows a fresh dialogue.
        The message box is left alone: a reply slower than the person would wipe what they began typing."""
        if transcript is not None and (stop := self._stops.get(transcript.id)):
            self._left.add(transcript.id)
            stop.set()
        return self.render(self.new_dialogue())

    def finish(self, transcript: Transcript) -> ChatPage:
        """Save the dialogue and show it as it ended."""
        self._save(transcript)
        return self.render(transcript)

    def render(self, transcript: Transcript | None = None, partial: str | None = None, running: bool = False,
               panels: bool = True, keep_input: str | None = None, pending_user: str | None = None
               ) -> ChatPage:
        """The chat tab's outputs; the message box is left as it is unless `keep_input`. A fresh session (Stop
        before anything was said, the /render endpoint) has no transcript yet."""
        transcript = transcript if transcript is not None else self.new_dialogue()
        shown = transcript
        if pending_user is not None:
            shown = transcript.model_copy(update={"events": [*transcript.events, transcript.user_said(pending_user)]})
        messages, _ids = view.chat_messages(shown, partial, running or pending_user is not None)
        failed = transcript.open_turn() is not None and not running
        skip = gr.skip()
        return ChatPage(
            chat=messages, message=skip if keep_input is None else keep_input,
            belief=view.belief_html(transcript) if panels else skip,
            calls=view.api_calls(transcript) if panels else skip,
            rows=view.database_rows(transcript) if panels else skip,
            bookings=view.bookings(transcript) if panels else skip,
            state=transcript,
            retry=gr.update(visible=failed),
            download=self.download_file(transcript) if panels and not running else skip,
            status="⏳ The agent is working… (**Stop** interrupts it)" if running else
            "⚠️ The last turn did not finish: **Retry** runs it again." if failed else "✅ Ready",
            share=skip if running else gr.update(value=bool(transcript.meta.get(SHARED))),
        )

    def _save(self, transcript: Transcript) -> None:
        if self.store and transcript.events:
            try:
                self.store.save_transcript(transcript)
                if self.review and transcript.meta.get(SHARED):
                    self.review.share(transcript)  # once it has a finished turn
            except Exception:  # saving must never cost the person their dialogue
                log.exception("could not save dialogue %s", transcript.id)

    def share(self, transcript: Transcript | None, shared: bool) -> tuple[Transcript, str]:
        """The share control: put this dialogue in the review queue, where raters (other people) read it, or take
        it out again. It joins once the agent has answered a turn. The dialogue and what it says back."""
        transcript = transcript if transcript is not None else self.new_dialogue()
        transcript.meta[SHARED] = bool(shared)
        if not shared:
            withdrawn = self.review.withdraw(transcript.id) if self.review else False
            return transcript, ("Not shared: this dialogue has been taken out of the review queue." if withdrawn
                                else "Not shared: only you see this dialogue.")
        self._save(transcript)
        if self.review is None:
            return transcript, "⚠️ The database is not available, so nothing can be shared."
        if finished_turns(transcript) == 0:
            return transcript, "Shared: it joins the review queue once the agent has answered."
        queued = self.review.share(transcript)
        return transcript, ("Shared: raters in the review queue can read this dialogue." if queued
                            else "⚠️ This dialogue could not be shared (see the log).")

    def download_file(self, transcript: Transcript) -> str | None:
        """Write the dialogue with its ratings as JSON for download; its path, or None while it is empty."""
        if not transcript.events:
            return None
        ratings = self.store.ratings(transcript.id) if self.store else {}
        path = self.settings.home / "exports" / f"{transcript.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**transcript.to_data(), "ratings": ratings}, indent=2, default=str),
                        encoding="utf-8")
        return str(path)

    # -- ratings --------------------------------------------------------------------------------------------
    def rate_message(self, transcript: Transcript | None, annotator: str, like: gr.LikeData) -> Any:
        """Save the chat's rating of a reply as the feedback control shows it: one choice per reply (like,
        dislike or a flag), a new choice replacing the old and a choice taken back removing it. Only the agent's
        replies take ratings, and only under a name. The refreshed download, or skip if nothing changed."""
        if transcript is None or self.store is None:
            return gr.skip()
        messages, event_ids = view.chat_messages(transcript)
        index = like.index if isinstance(like.index, int) else like.index[0]
        if not 0 <= index < len(messages):
            return gr.skip()
        # The chat groups a turn's steps and reply into one bubble and reports the group's first message:
        # the rating is about the bubble, so record its reply (its last message).
        while index + 1 < len(messages) and messages[index + 1]["role"] == "assistant":
            index += 1
        event = next((e for e in transcript.events if e.id == event_ids[index]), None)
        if not isinstance(event, AgentSaid):  # an error bubble, a stopped turn: nothing the agent said
            gr.Warning("Only the agent's replies can be rated; this message is not one, so nothing was saved.")
            return gr.skip()
        # Gradio sends True / False for the thumbs, the option's text for a flag, and "" when a choice is
        # taken back (its extra options send each choice twice: saving the same choice again changes nothing).
        feedback = ("like" if like.liked else "dislike") if isinstance(like.liked, bool) else str(like.liked).lower()
        try:
            before = self.store.rate_message(transcript.id, event.id, event.turn, event.text, feedback, annotator)
        except ValueError as error:
            gr.Warning(f"{error} Nothing was saved (type your name under **Rate this dialogue**).")
            return gr.skip()
        if feedback and before != feedback:
            gr.Info(f"Saved: {feedback}", duration=2)
        elif not feedback and before:
            gr.Info(f"Taken back: {before}", duration=2)
        return self.download_file(transcript)

    def rate_dialogue(self, transcript: Transcript | None, completed: str | None, naturalness: int | None,
                      comment: str, annotator: str) -> tuple[str, Any]:
        """Save the annotator's rating of the whole dialogue (task completed, naturalness, comment), replacing
        their earlier one; a message and the download."""
        if transcript is None or not transcript.events or self.store is None:
            return "Chat first, then rate the dialogue.", gr.skip()
        if completed not in ("yes", "partly", "no") or naturalness is None:
            return "Please choose both *task completed* and *naturalness*.", gr.skip()
        self._save(transcript)
        try:
            replaced = self.store.rate_dialogue(transcript.id, cast(TaskCompleted, completed), int(naturalness),
                                                comment.strip(), annotator)
        except ValueError as error:
            return f"⚠️ {error}", gr.skip()
        return ("✅ Saved (your earlier rating of this dialogue is replaced)." if replaced else "✅ Saved.",
                self.download_file(transcript))

    def export(self, token: str, request: gr.Request | None = None) -> tuple[str, Any]:
        """Export every dialogue and rating, given the admin token (with none set: from this machine only); a
        message and the files."""
        if refusal := self.admin.refusal(token, request):
            return refusal, None
        if self.store is None:
            return "No database.", None
        files = self.store.export(self.settings.home / "exports" / f"all-{int(time.time())}")
        return "✅ Exported every dialogue and rating.", [str(p) for p in (
            files.ratings_csv, files.dialogues_csv, files.dialogues_jsonl)]


def example_openers() -> list[str]:
    """The example first messages offered under the chat."""
    return [
        "I need a cheap guesthouse in the north with free parking.",
        "Find me an Italian restaurant in the centre and book a table for 4 at 19:00 on Friday.",
        "I need a train from Cambridge to London Kings Cross on Saturday, leaving after 9am.",
        "Can you book a taxi from Trinity College to the Gonville Hotel at 17:30?",
        "What museums are there in the centre of town?",
        "I'm coming to Cambridge on Friday: I need a train from London Kings Cross arriving by 10:00, a 4-star "
        "hotel in the east for 2 nights, and a taxi from the station to the hotel.",
    ]

