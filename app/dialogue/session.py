"""One loop for every dialogue: a user side says something, the agent answers, until the user side is done.

The user side is a protocol: the person in the browser, a line of the terminal chat, the replay of a corpus
dialogue, a user simulator. The loop is the same for all of them, so what is recorded never depends on who
the user was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from app.dialogue.transcript import AnyEvent, ModelCalled, ReplyChunk, Transcript, UserSaid

Yielded = AnyEvent | ReplyChunk


class UserSide(Protocol):
    """The user side of a dialogue: a person, the terminal, a corpus replay or a user simulator."""

    def next(self, transcript: Transcript) -> UserSaid | None:
        """The user's next message given the dialogue so far (`transcript.user_said(text)` builds one), or None
        when the dialogue ends. It may append events of its own first (a corpus replay records the human
        system's reference reply to the previous turn)."""
        ...


@runtime_checkable
class CallingUser(Protocol):
    """A user side that asks a model for its messages (an LLM user simulator): its calls are recorded too."""

    def model_calls(self, turn: int) -> list[ModelCalled]:
        """The model calls made since last asked, as events of `turn` (not yet appended)."""
        ...


class Responder(Protocol):
    """The system side (app.agent.agent.Agent)."""

    def run_turn(self, transcript: Transcript, stop: threading.Event | None = None) -> Iterator[Yielded]:
        """Answer the transcript's latest user message, appending each event and yielding the same object;
        when `stop` is set, end the turn soon, recorded as stopped."""
        ...


class OneMessage:
    """A person's message (the browser's text box): said once, then the user side waits for the next one."""

    def __init__(self, text: str) -> None:
        self.text: str | None = text

    def next(self, transcript: Transcript) -> UserSaid | None:
        """The message the first time; None after that."""
        text, self.text = self.text, None
        return None if text is None else transcript.user_said(text)


class Messages:
    """Messages from an iterable (the terminal chat's lines, a test's script); blank ones are skipped."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = iter(lines)

    def next(self, transcript: Transcript) -> UserSaid | None:
        """The next non-blank line, stripped, as a message; None when the lines run out."""
        for line in self.lines:
            if line.strip():
                return transcript.user_said(line.strip())
        return None


def user_text_problem(text: str, max_chars: int) -> str | None:
    """Why a person's message cannot be sent as it is (the same rule in the browser and the terminal)."""
    if not text.strip():
        return "the message is empty"
    if len(text) > max_chars:
        return f"Your message is {len(text)} characters long; please keep it under {max_chars}."
    return None


def run_dialogue(agent: Responder, user_side: UserSide, transcript: Transcript, *, resume: bool = False,
                 max_turns: int | None = None, stop: threading.Event | None = None) -> Iterator[Yielded]:
    """Alternate user side and agent over `transcript`, yielding every event as it is appended (and the reply's
    streamed pieces). `resume`: first continue the last turn if it has no reply yet (Retry). `max_turns`: stop
    once the transcript has that many turns. `stop`: once set, the running turn ends (recorded) and so does the
    dialogue."""
    if resume and transcript.open_turn() is not None:
        yield from agent.run_turn(transcript, stop)
    while (max_turns is None or transcript.next_turn() < max_turns) and not (stop and stop.is_set()):
        said = user_side.next(transcript)
        if said is None:  # a call that ended the dialogue belongs to the last turn
            yield from _user_calls(user_side, transcript, max(transcript.next_turn() - 1, 0))
            return
        turn = transcript.next_turn()
        if said.turn != turn:  # a user side that numbered it itself cannot skip or repeat a turn
            said = said.model_copy(update={"turn": turn})
        yield transcript.append(said)
        yield from _user_calls(user_side, transcript, turn)  # after the message: a turn opens with what was said
        yield from agent.run_turn(transcript, stop)


def _user_calls(user_side: UserSide, transcript: Transcript, turn: int) -> Iterator[ModelCalled]:
    """Append the model calls the user side made for this turn's message (a simulator's), yielding each."""
    if isinstance(user_side, CallingUser):
        for call in user_side.model_calls(turn):
            yield transcript.append(call)
