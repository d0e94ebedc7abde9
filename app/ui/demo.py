"""The demo's handlers: each session's dialogue lives in gr.State; the model, tools and store are shared."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from app.agent import Agent
from app.backends import BackendError
from app.dialogue import Dialogue, Turn
from app.events import Event, ResponseChunk
from app.runtime import build_agent
from app.settings import Settings
from app.tools import Toolbox
from app.ui import view
from db.annotations import AnnotationStore
from db.importer import DataUnavailable, imported_sources

log = logging.getLogger(__name__)
WAIT_FOR_MODEL_S = 0.5


@dataclass
class Status:
    state: Literal["loading", "ready", "failed"]
    message: str


class DemoApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.status = Status("loading", "starting…")
        self.agent: Agent | None = None
        self.store: AnnotationStore | None = None
        self.data_source = "not loaded"

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
        try:
            self.agent = build_agent(self.settings, toolbox)
        except BackendError as error:
            self.status = Status("failed", str(error))
            return self
        threading.Thread(target=self._load_model, name="load-model", daemon=True).start()
        return self

    def _load_model(self) -> None:
        load = getattr(self.agent.backend, "load", None)
        self.status = Status("loading", f"loading {self.settings.model}…")
        try:
            if load:
                load()
        except BackendError as error:
            self.status = Status("failed", str(error))
            return
        warnings = getattr(self.agent.backend, "warnings", [])
        self.status = Status("ready", "; ".join(warnings) if warnings else "ready")

    @property
    def local_model(self) -> bool:
        return self.settings.backend == "transformers"

    def header(self) -> str:
        backend = self.agent.backend.label if self.agent else f"{self.settings.backend} {self.settings.model}"
        icon = {"ready": "🟢", "loading": "⏳", "failed": "🔴"}[self.status.state]
        return (f"**Model:** {backend} · **format:** {self.settings.format} · **data:** {self.data_source}  \n"
                f"{icon} {self.status.message}")

    def new_dialogue(self) -> Dialogue:
        return Dialogue(meta={"backend": self.settings.backend, "format": self.settings.format,
                              "model": self.settings.model})

    # -- chat -----------------------------------------------------------------------------------------------
    def respond(self, message: str, dialogue: Dialogue | None) -> Iterator[tuple[Any, ...]]:
        dialogue = dialogue or self.new_dialogue()
        text = (message or "").strip()
        if not text:
            yield self.render(dialogue, keep_input=message)
            return
        if len(text) > self.settings.max_user_chars:
            gr.Warning(f"Your message is {len(text)} characters long; please keep it under "
                       f"{self.settings.max_user_chars}.")
            yield self.render(dialogue, keep_input=message)
            return
        # Show the message at once and empty the box once; later updates leave the box alone, so whatever the
        # person types while the agent answers is not wiped.
        yield self.render(dialogue, partial="…", running=True, pending_user=text, keep_input="")
        yield from self._turn(dialogue, text, lambda agent: agent.run_turn(dialogue, text))

    def retry(self, dialogue: Dialogue | None) -> Iterator[tuple[Any, ...]]:
        dialogue = dialogue or self.new_dialogue()
        if not dialogue.turns or dialogue.turns[-1].status != "error":
            yield self.render(dialogue)
            return
        yield from self._turn(dialogue, dialogue.turns[-1].user, lambda agent: agent.retry(dialogue))

    def _turn(self, dialogue: Dialogue, text: str, events: Callable[[Agent], Iterator[Event]]
              ) -> Iterator[tuple[Any, ...]]:
        while self.status.state == "loading":
            yield self.render(dialogue, partial=f"⏳ {self.status.message}", running=True, pending_user=text)
            time.sleep(WAIT_FOR_MODEL_S)
        if self.agent is None or self.status.state == "failed":
            if not (dialogue.turns and dialogue.turns[-1].status == "error" and dialogue.turns[-1].user == text):
                dialogue.turns.append(Turn(user=text, status="error"))
            dialogue.turns[-1].error = f"The model is not available: {self.status.message}"
            yield self.finish(dialogue)
            return
        partial = ""
        try:
            for event in events(self.agent):
                if isinstance(event, ResponseChunk):
                    partial += event.text
                    yield self.render(dialogue, partial=partial, running=True, panels=False)
                else:
                    yield self.render(dialogue, partial=partial, running=True)
        except GeneratorExit:  # the stop button
            if dialogue.turns and dialogue.turns[-1].status == "error":
                dialogue.turns[-1].error = "Stopped."
            self._save(dialogue)
            raise
        except Exception as error:  # no traceback reaches the browser; the log has it
            log.exception("turn failed")
            if dialogue.turns and dialogue.turns[-1].status == "error":
                dialogue.turns[-1].error = f"Something went wrong on our side ({type(error).__name__})"
        yield self.finish(dialogue)

    def finish(self, dialogue: Dialogue) -> tuple[Any, ...]:
        self._save(dialogue)
        return self.render(dialogue)

    def render(self, dialogue: Dialogue, partial: str | None = None, running: bool = False, panels: bool = True,
               keep_input: str | None = None, pending_user: str | None = None) -> tuple[Any, ...]:
        """Outputs in the order of layout's `outputs`; the message box is left as it is unless `keep_input`."""
        shown = dialogue
        if pending_user is not None:
            shown = dialogue.model_copy(update={"turns": [*dialogue.turns, Turn(user=pending_user, status="error")]})
        messages, _turns = view.chat_messages(shown, partial, running)
        failed = bool(dialogue.turns) and dialogue.turns[-1].status == "error" and not running
        skip = gr.skip()
        return (
            messages, gr.skip() if keep_input is None else keep_input,
            view.belief_html(dialogue) if panels else skip,
            view.api_calls(dialogue) if panels else skip,
            view.database_rows(dialogue) if panels else skip,
            view.bookings(dialogue) if panels else skip,
            dialogue,
            gr.update(visible=failed),
            self.download_file(dialogue) if panels and not running else skip,
            "⏳ The agent is working… (**Stop** interrupts it)" if running else
            "⚠️ The last turn did not finish: **Retry** runs it again." if failed else "✅ Ready",
        )

    def _save(self, dialogue: Dialogue) -> None:
        if self.store and dialogue.turns:
            try:
                self.store.save_dialogue(dialogue.id, json.loads(dialogue.to_json()), dialogue.meta)
            except Exception:  # saving must never cost the person their dialogue
                log.exception("could not save dialogue %s", dialogue.id)

    def download_file(self, dialogue: Dialogue) -> str | None:
        if not dialogue.turns:
            return None
        ratings = self.store.ratings(dialogue.id) if self.store else {}
        path = self.settings.home / "exports" / f"{dialogue.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**json.loads(dialogue.to_json()), "ratings": ratings}, indent=2, default=str))
        return str(path)

    # -- ratings --------------------------------------------------------------------------------------------
    def rate_message(self, dialogue: Dialogue | None, annotator: str, like: gr.LikeData) -> Any:
        if dialogue is None or self.store is None:
            return gr.skip()
        messages, turns = view.chat_messages(dialogue)
        index = like.index if isinstance(like.index, int) else like.index[0]
        if not 0 <= index < len(messages):
            return gr.skip()
        feedback = {True: "like", False: "dislike"}.get(like.liked) if isinstance(like.liked, bool) \
            else str(like.liked).lower()
        # The chat groups a turn's steps and reply into one bubble and reports the group's first message:
        # the rating is about the bubble, so record its reply (its last message).
        while index + 1 < len(messages) and messages[index + 1]["role"] == "assistant":
            index += 1
        self.store.rate_message(dialogue.id, turns[index], messages[index]["content"], feedback, annotator.strip())
        gr.Info(f"Saved: {feedback}", duration=2)
        return self.download_file(dialogue)

    def rate_dialogue(self, dialogue: Dialogue | None, completed: str | None, naturalness: int | None,
                      comment: str, annotator: str) -> tuple[str, Any]:
        if dialogue is None or not dialogue.turns or self.store is None:
            return "Chat first, then rate the dialogue.", gr.skip()
        if completed is None or naturalness is None:
            return "Please choose both *task completed* and *naturalness*.", gr.skip()
        self._save(dialogue)
        self.store.rate_dialogue(dialogue.id, completed, int(naturalness), comment.strip(), annotator.strip())
        count = len(self.store.ratings(dialogue.id)["dialogue"])
        return f"✅ Saved ({count} dialogue rating{'s' if count > 1 else ''} so far).", self.download_file(dialogue)

    def export(self, token: str) -> tuple[str, Any]:
        if self.settings.admin_token and not secrets.compare_digest(token or "", self.settings.admin_token):
            return "Wrong admin token.", None
        if self.store is None:
            return "No database.", None
        files = self.store.export(self.settings.home / "exports" / f"all-{int(time.time())}")
        return "✅ Exported every dialogue and rating.", [str(p) for p in (
            files.ratings_csv, files.dialogues_csv, files.dialogues_jsonl)]


def example_openers() -> list[str]:
    return [
        "I need a cheap guesthouse in the north with free parking.",
        "Find me an Italian restaurant in the centre and book a table for 4 at 19:00 on Friday.",
        "I need a train from Cambridge to London Kings Cross on Saturday, leaving after 9am.",
        "Can you book a taxi from Trinity College to the Gonville Hotel at 17:30?",
        "What museums are there in the centre of town?",
        "I'm coming to Cambridge on Friday: I need a train from London Kings Cross arriving by 10:00, a 4-star "
        "hotel in the east for 2 nights, and a taxi from the station to the hotel.",
    ]

