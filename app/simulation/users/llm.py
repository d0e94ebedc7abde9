"""A language-model user simulator over any backend (an OpenAI-compatible server or transformers).

Two prompts: "autotod", as in AutoTOD (the goal's message sentences, the corpus' first user turn, the
simulator ends with "Dialogue Ends"), and "llm", tau-bench style (the simulator writes its own opening and
reveals a detail only when the assistant asks for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.backends.base import Backend, BackendError, ModelRequest, TextDelta
from app.backends.metering import Meter
from app.dialogue.goals import Goal
from app.dialogue.transcript import ModelCalled, Transcript, UserSaid

END = "Dialogue Ends"
Style = Literal["autotod", "llm"]
AUTOTOD = (
    "You are a user talking to a travel assistant in Cambridge. Follow this goal:\n{goal}\n"
    "Say one short message at a time and use only details from the goal. Ask for what the goal tells you to "
    "get. When everything in the goal is done, or it cannot be done, reply only with \"" + END + "\"."
)
REVEAL_WHEN_ASKED = (
    "You are a user talking to a travel assistant in Cambridge. Your goal:\n{goal}\n"
    "Begin with only what you need in general. Give a detail (an area, a day, a time, how many people) only "
    "when the assistant asks for it. Say one short message at a time and never invent details. When "
    "everything in the goal is done, or it cannot be done, reply only with \"" + END + "\"."
)
MAX_USER_TOKENS = 96  # one short user message
GREETING = "Hello, how can I help you?"


def prompt_texts(style: str) -> dict[str, str]:
    """The simulator's prompt text for a style ("autotod" or "llm"), by name (a run's provenance hashes it)."""
    return {f"user:{style}": AUTOTOD if style == "autotod" else REVEAL_WHEN_ASKED, "user:greeting": GREETING}


@dataclass
class LLMUser:
    """A UserSide that asks `backend` for each user message (roles swapped: the agent's replies are its input)."""

    goal: Goal
    backend: Backend
    style: Style = "autotod"
    ended: bool = False
    failure: str | None = None  # why the simulator's model could not answer (the dialogue ended there)
    _calls: list[tuple[Meter, bool]] = field(default_factory=list)  # measured, not yet recorded (meter, ok)

    def next(self, transcript: Transcript) -> UserSaid | None:
        """The simulator model's next message (the goal's first user turn opens an AutoTOD dialogue); None
        once it ends the dialogue, or its model fails."""
        if self.ended:
            return None
        turns = transcript.turns()
        if not turns and self.style == "autotod" and self.goal.first_user_turn:
            return transcript.user_said(self.goal.first_user_turn)
        request = self.request(transcript)
        meter = Meter()
        try:
            text = "".join(d.text for d in meter.watch(self.backend.stream(request)) if isinstance(d, TextDelta))
        except BackendError as error:  # the user's model failed: the dialogue ends, and says why
            self._calls.append((meter, False))
            self.ended, self.failure = True, str(error)
            transcript.meta["user_failure"] = self.failure
            return None
        self._calls.append((meter, True))
        text, ended = _until_end(text)
        self.ended = ended
        return transcript.user_said(text) if text else None

    def model_calls(self, turn: int) -> list[ModelCalled]:
        """The simulator's model calls since last asked, as events of `turn` (what `run_dialogue` records)."""
        calls, self._calls = self._calls, []
        return [ModelCalled(turn=turn, side="user", backend=self.backend.label, ok=ok, **meter.fields())
                for meter, ok in calls]

    def request(self, transcript: Transcript) -> ModelRequest:
        """The simulator's prompt: its goal as the system message, then the dialogue with roles swapped."""
        template = AUTOTOD if self.style == "autotod" else REVEAL_WHEN_ASKED
        messages = [{"role": "system", "content": template.format(goal="\n".join(self.goal.message))},
                    {"role": "user", "content": GREETING}]  # chat templates want a user message first
        for turn in transcript.turns():
            messages.append({"role": "assistant", "content": turn.user})
            if turn.reply is not None:
                messages.append({"role": "user", "content": turn.reply.text})
        return ModelRequest(messages, stop=("\n",), max_new_tokens=MAX_USER_TOKENS)


def _until_end(text: str) -> tuple[str, bool]:
    """The message before "Dialogue Ends", and whether the simulator ended the dialogue."""
    head, marker, _tail = text.partition(END)
    return " ".join(head.split()), bool(marker)
