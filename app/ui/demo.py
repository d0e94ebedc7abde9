"""The demo's handlers: each session's dialogue lives in gr.State; the model, tools and store are shared."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from app.agent.agent import STOPPED
from app.assembly import SystemUnderTest, assemble
from app.backends import BackendError
from app.dialogue.session import Messages, OneMessage, UserSide, run_dialogue, user_text_problem
from app.dialogue.transcript import (
    FORKED_FROM,
    AgentSaid,
    ReplyChunk,
    Transcript,
    TurnFailed,
    UserSaid,
    valid_text,
)
from app.settings import Settings
from app.simulation.fork import copied_events
from app.simulation.systems import RULES, RULES_LABEL, rules_system
from app.tools.toolbox import Toolbox
from app.ui import view
from app.ui.admin import AdminGate
from app.ui.goal_card import goal_panel
from app.ui.header import storage_warning, without_paths
from app.workbench.annotations import AnnotationStore, TaskCompleted
from app.workbench.review_store import SHARED, ReviewStore, finished_turns
from app.workbench.tables import system_meta
from db.importer import DataUnavailable, imported_sources

log = logging.getLogger(__name__)
WAIT_FOR_MODEL_S = 0.5
RESTORE_WAIT_S = 3.0  # how long a reload waits for the turn the closed page left running to record its end


@dataclass
class Status:
    """Where the model stands (loading, ready or failed), with a message for the page's header and, when it
    failed, one sentence for the person at the message box saying what to set."""

    state: Literal["loading", "ready", "failed"]
    message: str
    remedy: str = ""


# What each backend needs when it cannot start: one sentence, said where the person types.
REMEDIES = {
    "transformers": "No model could be loaded: set WOZ_MODEL to a folder with its weights, or WOZ_BACKEND=openai "
                    "and WOZ_BASE_URL for a model server, then restart.",
    "scripted": "The scripted model has no script it can read: set WOZ_SCRIPT (or --script) to a JSON list of model "
                "outputs, then restart.",
    "openai": "The model server cannot be used: set WOZ_BASE_URL to a running OpenAI-compatible server and WOZ_MODEL "
              "to its model, then restart.",
}
NO_DATABASE = ("The database is not available: set WOZ_DATA_DIR to a folder with the MultiWOZ *_db.json files (or let "
               "the app reach GitHub or PyPI to download them), then restart.")
# What works without a model, said beside that sentence.
WITHOUT_A_MODEL = ("Without one: **Watch a goal** and **Play a goal** (below) with the rule-based system "
                   "(not a model), **Review queue**, **Results**.")
READY = "✅ Ready"
PAUSED = "⏸ Paused: **Resume** goes on, **Stop** ends the dialogue here."
PLAYING = "▶ This dialogue is playing (Watch a goal): **Stop** it to write in it yourself."
LOADING = "⏳ The model is loading: you can type already; your message runs once it is loaded."


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
    send: Any  # usable only when a model can answer
    dialogue_id: Any  # the browser's memory of the dialogue shown, so a reload brings it back
    goal_card: Any
    goal_verdict: Any
    goal_panel: Any  # opened when the dialogue has a goal (a reload brings its card back into view)

    @classmethod
    def unchanged(cls) -> ChatPage:
        """The page left as it is (a press refused with a warning, a press answered by another handler)."""
        return cls(*[gr.skip()] * len(cls._fields))


@dataclass
class _LiveTurn:
    """A turn whose handler is running: its stop flag, and the dialogue the person moved to meanwhile (New
    dialogue, the trash icon), which that handler shows as it ends: the page then has one writer, never two."""

    stop: threading.Event = field(default_factory=threading.Event)
    moved_to: Transcript | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    watching: bool = False  # a whole dialogue playing (Watch a goal), not one person's turn
    paused: threading.Event = field(default_factory=threading.Event)  # Watch a goal's Pause
    answered: bool = False  # its last update is on its way: what is left is the handler's own ending


class DemoApp:
    """The chat page's handlers over one shared system, database and rating store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.status = Status("loading", "starting…")
        self.system: SystemUnderTest | None = None  # the configured model and format over the database
        self._rules: SystemUnderTest | None = None  # the rule-based system, built on first use
        self.toolbox: Toolbox | None = None  # the database's tools, also when no model can start
        self.store: AnnotationStore | None = None
        self.review: ReviewStore | None = None  # where a dialogue its person shares goes to be rated
        self.admin = AdminGate(settings.admin_token)
        self.data_source = "not loaded"
        self._live: dict[str, _LiveTurn] = {}  # transcript id -> its running turn
        self._left: deque[str] = deque(maxlen=1000)  # dialogues left by New dialogue: a message still queued for
        self._lock = threading.Lock()  # one of them is dropped, as the page no longer shows it

    def start(self) -> DemoApp:
        """Open the database (importing MultiWOZ on first use) and start loading the model in the background.
        Whatever fails is shown on the page with what to set; the app itself always starts."""
        try:
            toolbox = Toolbox.open(self.settings)
        except (DataUnavailable, SQLAlchemyError, ImportError, OSError) as error:  # ImportError: no DB driver
            self.status = Status("failed", f"the database is not available: {error}", NO_DATABASE)
            return self
        self.toolbox = toolbox
        self.data_source = ", ".join(imported_sources(toolbox.catalogue.engine))
        self.store = AnnotationStore(toolbox.catalogue.engine)
        self.review = ReviewStore(toolbox.catalogue.engine, self.settings.raters_per_item)
        try:
            self.system = assemble(self.settings, toolbox)
        except (BackendError, ValueError) as error:
            self.status = Status("failed", str(error), self._remedy())
            return self
        threading.Thread(target=self._load_model, name="load-model", daemon=True).start()
        return self

    def _remedy(self) -> str:
        return REMEDIES.get(self.settings.backend, "The model cannot start: check WOZ_BACKEND, WOZ_MODEL and "
                                                   "WOZ_BASE_URL, then restart.")

    def _load_model(self) -> None:
        if self.system is None:
            return
        load = getattr(self.system.backend, "load", None)
        self.status = Status("loading", f"loading {self.settings.model}…")
        try:
            if load:
                load()
        except BackendError as error:
            self.status = Status("failed", str(error), self._remedy())
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
        # A failure's whole story is folded away: the sentence at the message box says what to do.
        message = without_paths(self.status.message)
        state = (f"<details><summary>{icon} not available (why)</summary>\n\n{view.as_text(message)}\n</details>"
                 if self.status.state == "failed" else f"{icon} {view.as_text(message)}")
        return (f"**Model:** {view.as_text(without_paths(backend))} · **format:** {self.settings.format} · "
                f"**data:** {view.as_text(without_paths(self.data_source))}  \n{state}"
                + (f"  \n{warning}" if (warning := storage_warning(self.settings)) else ""))

    def no_model(self) -> str | None:
        """The one sentence for the message box when no model can answer (what to set, and what works without
        one); None while a model is loading or ready."""
        if self.status.state != "failed":
            return None
        # Without the database nothing answers, not even the rule-based system: offer it only with one.
        offer = f" {WITHOUT_A_MODEL}" if self.toolbox is not None else ""
        return without_paths(f"🔴 {self.status.remedy}{offer}")

    def notice_for(self, transcript: Transcript | None) -> str | None:
        """`no_model`, for the dialogue shown: one the rule-based system answers needs no model."""
        return None if transcript is not None and self.by_rules(transcript) else self.no_model()

    def model_status(self, transcript: Transcript | None = None) -> tuple[Any, Any]:
        """The status line and the Send button as the model's state has them (the page's timer asks while the
        model loads): a failed model is said at the message box and Send is off; loading and ready say so. A
        dialogue the rule-based system answers is left as it is (a watched one says it is playing), and so is one
        whose turn is running: its status line is the turn's (a tick's "Ready" mid-turn invited Done too early)."""
        if transcript is not None and (self.by_rules(transcript) or self.running(transcript)):
            return gr.skip(), gr.skip()
        if (notice := self.no_model()) is not None:
            return notice, gr.update(interactive=False)
        return (READY if self.status.state == "ready" else LOADING), gr.update(interactive=True)

    # -- who answers ----------------------------------------------------------------------------------------
    @staticmethod
    def by_rules(transcript: Transcript) -> bool:
        """Whether the rule-based system answers this dialogue (it was started so: Watch or Play a goal)."""
        return transcript.meta.get("backend") == RULES

    def rules(self) -> SystemUnderTest | None:
        """The rule-based system over the page's database (None without one), built once."""
        if self._rules is None and self.toolbox is not None:
            self._rules = rules_system(self.settings, self.toolbox)
        return self._rules

    def system_for(self, transcript: Transcript) -> SystemUnderTest | None:
        """The system that answers this dialogue: the rule-based one if it was started with it, else the model."""
        return self.rules() if self.by_rules(transcript) else self.system

    def rules_dialogue(self) -> Transcript:
        """An empty transcript the rule-based system answers, recorded as such (never credited to a model)."""
        fresh = self.new_dialogue()
        fresh.meta.update({"backend": RULES, "model": RULES_LABEL})
        return fresh

    def new_dialogue(self) -> Transcript:
        """An empty transcript recording which backend, format and model it runs on, and whether it is shared
        with the review queue (off unless the settings say every visitor is an annotator)."""
        return Transcript(meta={**system_meta(self.settings), SHARED: self.settings.share_default})

    # -- chat -----------------------------------------------------------------------------------------------
    def respond(self, message: str, transcript: Transcript | None) -> Iterator[ChatPage]:
        """Send: check the message, show it at once, then run the agent's turn and stream the page as it goes."""
        transcript = transcript or self.new_dialogue()
        if transcript.id in self._left:  # sent, then left by New dialogue before it ran: the page shows the new one
            return
        text = valid_text(message or "").strip()
        if not text:
            yield self.render(transcript, keep_input=message)
            return
        if (notice := self.notice_for(transcript)) is not None:  # nothing would answer: say so, keep the message
            gr.Warning(notice.replace("**", ""))
            yield self.render(transcript, keep_input=message)
            return
        if problem := user_text_problem(text, self.settings.max_user_chars):
            gr.Warning(problem)
            yield self.render(transcript, keep_input=message)
            return
        if self.watching(transcript):  # one writer per dialogue: a message would race the simulated user
            gr.Warning("This dialogue is playing (Watch a goal): press Stop first, or New dialogue to chat.")
            yield self.render(transcript, keep_input=message, running=True, panels=False, note=PLAYING)
            return
        live = self._begin(transcript)
        # Show the message at once and empty the box once; later updates leave the box alone, so whatever the
        # person types while the agent answers is not wiped.
        yield self.render(transcript, partial="…", running=True, pending_user=text, keep_input="")
        yield from self._turn(transcript, live, OneMessage(text), pending_user=text)

    def retry(self, transcript: Transcript | None) -> Iterator[ChatPage]:
        """Retry: run the unfinished last turn again from where it stopped."""
        transcript = transcript or self.new_dialogue()
        if (transcript.open_turn() is None or self.notice_for(transcript) is not None or transcript.id in self._left
                or self.watching(transcript)):
            yield self.render(transcript)
            return
        yield from self._turn(transcript, self._begin(transcript), Messages([]), resume=True)

    def _begin(self, transcript: Transcript, watching: bool = False) -> _LiveTurn:
        with self._lock:
            live = self._live[transcript.id] = _LiveTurn(watching=watching)
        return live

    def running(self, transcript: Transcript) -> bool:
        """Whether a turn of this dialogue (or the whole of it, Watch a goal) is running right now; not once its
        last update is out (the page says Ready from then on, and Done pressed then must not be refused)."""
        with self._lock:
            live = self._live.get(transcript.id)
        return live is not None and not live.answered

    def watching(self, transcript: Transcript) -> bool:
        """Whether this dialogue is playing (Watch a goal) right now."""
        with self._lock:
            live = self._live.get(transcript.id)
        return live is not None and live.watching

    def _turn(self, transcript: Transcript, live: _LiveTurn, user: UserSide, resume: bool = False,
              pending_user: str | None = None, pace_s: float = 0.0, note: str | None = None) -> Iterator[ChatPage]:
        """Run the dialogue loop (`run_dialogue`, the one every dialogue runs) with `user` as the user side over
        the system that answers `transcript`, streaming the page. `pace_s`: a pause after each reply (half of it
        after each user message) so a person can read along, during which Pause holds the dialogue; `note`: the
        status line while it runs."""
        partial, unsent = "", pending_user
        system = self.system_for(transcript)
        model = system is not None and system is self.system  # only the model loads; the rules are always ready
        try:
            while model and self.status.state == "loading" and not live.stop.is_set():
                yield self.render(transcript, partial=f"⏳ {self.status.message}", running=True,
                                  pending_user=pending_user, note=note)
                time.sleep(WAIT_FOR_MODEL_S)
            if system is not None and (not model or self.status.state == "ready") and not live.stop.is_set():
                agent = system.agent(transcript)
                for event in run_dialogue(agent, user, transcript, resume=resume, stop=live.stop):
                    if isinstance(event, UserSaid):
                        unsent = None
                        self._save(transcript)  # from now on a reload finds the dialogue
                    if live.moved_to is not None:  # winding down after New dialogue: the page shows the new one
                        continue
                    if isinstance(event, ReplyChunk):
                        partial += event.text
                        yield self.render(transcript, partial=partial, running=True, panels=False, note=note)
                        continue
                    partial = ""  # a stored event ends the streamed piece: what was shown is in the transcript now
                    yield self.render(transcript, running=True, note=note)
                    if pace_s and isinstance(event, UserSaid | AgentSaid | TurnFailed):
                        yield from self._pace(transcript, live, pace_s / 2 if isinstance(event, UserSaid) else pace_s,
                                              note)
            self._save(transcript)
            if live.moved_to is None:
                live.answered = True  # from here on the turn is over for the page (Done, the timer)
                # A message that never ran (Stop, or the model failed while it waited for it to load) goes back
                # into the box, recorded nowhere.
                yield self.render(transcript, keep_input=unsent)
        except GeneratorExit:  # the page went away (the agent has recorded that the turn stopped)
            self._save(transcript)
            raise
        finally:
            moved_to = self._end(transcript, live)
        # The last word on the page is this handler's: the dialogue it ran, or the one the person moved to.
        if moved_to is not None:
            yield self.render(moved_to)

    def _pace(self, transcript: Transcript, live: _LiveTurn, seconds: float, note: str | None) -> Iterator[ChatPage]:
        """Hold the dialogue for `seconds` (reading time), and for as long as it is paused; Stop ends the wait."""
        until, shown_paused = time.monotonic() + seconds, False
        while not live.stop.is_set() and live.moved_to is None and (live.paused.is_set() or time.monotonic() < until):
            if live.paused.is_set() != shown_paused:
                shown_paused = live.paused.is_set()
                yield self.render(transcript, running=True, panels=False,
                                  note=PAUSED if shown_paused else note)
            time.sleep(0.05)

    def pause(self, transcript: Transcript | None) -> Any:
        """Watch a goal's Pause button: hold the playing dialogue after the current message, or let it go on; the
        button's new label (or no change when nothing is playing)."""
        with self._lock:
            live = self._live.get(transcript.id) if transcript is not None else None
        if live is None or not live.watching:
            return gr.update(value="Pause")
        if live.paused.is_set():
            live.paused.clear()
            return gr.update(value="Pause")
        live.paused.set()
        return gr.update(value="Resume")

    def _end(self, transcript: Transcript, live: _LiveTurn) -> Transcript | None:
        """The turn is over: forget it, and return the dialogue the person moved to meanwhile, if any."""
        with self._lock:
            if self._live.get(transcript.id) is live:
                del self._live[transcript.id]
            live.ended.set()
            return live.moved_to

    def stop_turn(self, transcript: Transcript | None) -> None:
        """The Stop button: the running turn of this session ends soon (what was shown of its reply is kept as the
        reply, marked stopped), and the handler that ran it finishes normally."""
        with self._lock:
            live = self._live.get(transcript.id) if transcript is not None else None
        if live is not None:
            live.stop.set()

    def watch(self, transcript: Transcript | None, fresh: Transcript, user: UserSide,
              judge: Callable[[Transcript], str], note: str) -> Iterator[ChatPage]:
        """Watch a goal: `fresh` takes the page (a turn of the old dialogue still running ends first) and plays
        through the dialogue loop with `user` as the user side, at reading speed (`watch_pause_s`), every panel
        live; once the user side is done, `judge` records the verdict (the status line says it in a few words) and
        the dialogue is saved. Stop ends it where it is (no verdict: Done checks what there is), Pause holds it,
        New dialogue leaves it."""
        self._leave(transcript)
        live = self._begin(fresh, watching=True)
        yield self.render(fresh, running=True, note=note)
        yield from self._turn(fresh, live, user, pace_s=self.settings.watch_pause_s, note=note)
        if live.stop.is_set() or live.moved_to is not None:
            return
        outcome = judge(fresh)
        yield self.finish(fresh)._replace(status=f"🏁 {outcome}: the verdict is on the goal card below.")

    def _leave(self, transcript: Transcript | None) -> None:
        """The page moves on from `transcript`: a turn of it still running is asked to end, and is waited for
        (briefly), so that its last update cannot land after the next dialogue's first."""
        if transcript is None:
            return
        with self._lock:
            live = self._live.get(transcript.id)
            self._left.append(transcript.id)
        if live is not None:
            live.stop.set()
            live.ended.wait(timeout=RESTORE_WAIT_S)

    def start_over(self, transcript: Transcript | None, fresh: Transcript | None = None) -> ChatPage:
        """New dialogue (the chat's trash icon, starting a goal): `fresh` (an empty dialogue by default) takes the
        page. While a turn runs, its handler is asked to end and to show the fresh dialogue as its last update,
        so nothing it had already sent can draw the old dialogue over the new one (two writers racing froze the
        page); otherwise the fresh dialogue is shown here. The message box is left alone: a reply slower than
        the person would wipe what they began typing."""
        fresh = fresh or self.new_dialogue()
        with self._lock:
            live = self._live.get(transcript.id) if transcript is not None else None
            if transcript is not None:
                self._left.append(transcript.id)
            if live is not None:
                live.moved_to = fresh
                live.stop.set()
        if live is not None:
            return ChatPage.unchanged()
        return self.render(fresh)

    def restore(self, dialogue_id: str | None, current: Transcript | None = None) -> ChatPage:
        """The page as it loads: the dialogue this browser showed last (its id is in the browser's storage, the
        transcript in the store), or a fresh one. A turn of it still running for the page that went away is
        stopped first, so what is shown is what was kept. When the page already holds a dialogue (`current`: the
        person started a goal or sent a message before a slow load was answered), it is left as it is."""
        if current is not None:
            return ChatPage.unchanged()
        transcript = None
        if dialogue_id and self.store is not None:
            with self._lock:
                live = self._live.get(dialogue_id)
            if live is not None:
                live.stop.set()
                live.ended.wait(timeout=RESTORE_WAIT_S)
            try:
                transcript = self.store.transcript(dialogue_id)
            except Exception:  # a record that cannot be read back must not cost the page
                log.exception("could not restore dialogue %s", dialogue_id)
        return self.render(transcript or self.new_dialogue())  # the message box keeps anything already typed

    def finish(self, transcript: Transcript) -> ChatPage:
        """Save the dialogue and show it as it ended."""
        self._save(transcript)
        return self.render(transcript)

    def render(self, transcript: Transcript | None = None, partial: str | None = None, running: bool = False,
               panels: bool = True, keep_input: str | None = None, pending_user: str | None = None,
               note: str | None = None) -> ChatPage:
        """The chat tab's outputs; the message box is left as it is unless `keep_input`. A fresh session (Stop
        before anything was said, the /render endpoint) has no transcript yet."""
        transcript = transcript if transcript is not None else self.new_dialogue()
        shown = transcript
        if pending_user is not None:
            shown = transcript.model_copy(update={"events": [*transcript.events, transcript.user_said(pending_user)]})
        messages, _ids = view.chat_messages(shown, partial, running or pending_user is not None)
        last = transcript.last_turn()
        failed = transcript.open_turn() is not None and not running
        stopped = last is not None and (last.status == "stopped" or (failed and last.failure is not None
                                                                      and last.failure.message == STOPPED))
        skip = gr.skip()
        card, verdict = goal_panel(transcript) if panels else (skip, skip)
        return ChatPage(
            chat=messages, message=skip if keep_input is None else keep_input,
            belief=view.belief_html(transcript) if panels else skip,
            calls=view.table_html(view.api_calls(transcript), "api-calls-table") if panels else skip,
            rows=view.table_html(view.database_rows(transcript), "db-results-table") if panels else skip,
            bookings=view.table_html(view.bookings(transcript), "bookings-table") if panels else skip,
            state=transcript,
            retry=gr.update(visible=failed),
            download=self._download(transcript) if panels and not running else skip,
            status=(note or "⏳ The agent is working… (**Stop** interrupts it)") if running
            else self.notice_for(transcript) or (
                "⏹ Stopped: what was said so far is kept. **Retry** runs the turn again, or send another message."
                if stopped and failed else "⏹ Stopped: the reply so far is kept. Send your next message." if stopped
                else "⚠️ The last turn did not finish: **Retry** runs it again." if failed
                else LOADING if self.status.state == "loading" and not self.by_rules(transcript) else READY),
            share=skip if running else gr.update(value=bool(transcript.meta.get(SHARED))),
            send=gr.update(interactive=self.notice_for(transcript) is None) if panels else skip,
            dialogue_id=transcript.id if panels else skip,
            goal_card=card, goal_verdict=verdict,
            goal_panel=gr.update(open=True) if panels and transcript.goal is not None else skip,
        )

    def _download(self, transcript: Transcript) -> Any:
        """The Download button: the dialogue's file, or switched off while there is nothing to download."""
        path = self.download_file(transcript)
        return gr.update(value=path, interactive=path is not None)

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
        if shared and transcript.meta.get(FORKED_FROM):
            transcript.meta[SHARED] = False
            return transcript, ("Not shared: this is a fork, and its replies up to the fork were another dialogue's "
                                "(maybe another system's); raters judge whole dialogues of one system.")
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
        if event.id in copied_events(transcript):  # counted for this dialogue's system, it would be misjudged
            gr.Warning("This reply was copied from the dialogue this one was forked from; rate it there. Nothing "
                       "was saved.")
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
        if transcript.meta.get(FORKED_FROM):  # as a whole it is two dialogues, maybe of two systems
            return ("⚠️ This is a fork: its first part is another dialogue's (maybe another system's), so it is not "
                    "rated as a whole; rate the replies given in it (👍 👎 under each)."), gr.skip()
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
            files.ratings_csv, files.dialogues_csv, files.dialogues_jsonl, files.model_calls_csv)]


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

