"""The turn loop: a generator of typed events over one dialogue, shared by the UI, the terminal and evaluation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from app import belief
from app.backends.base import Backend, BackendError, TextDelta, ToolCallDelta
from app.dialogue import CallRecord, Dialogue, Step, Turn
from app.events import (
    BeliefUpdated,
    ErrorEvent,
    Event,
    ResponseChunk,
    Thought,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
)
from app.formats.base import PromptFormat
from app.parsing import Call
from app.settings import Settings
from app.tools import Toolbox

FALLBACK_REPLY = ("I'm sorry, I couldn't finish that just now. Could you say it again, perhaps with a little "
                  "more detail?")


@dataclass(frozen=True)
class Limits:
    max_steps: int = 4
    max_prompt_tokens: int = 3584
    max_new_tokens: int = 512

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_steps, settings.max_prompt_tokens, settings.max_new_tokens)


class Agent:
    def __init__(self, backend: Backend, prompt_format: PromptFormat, toolbox: Toolbox,
                 limits: Limits | None = None) -> None:
        self.backend = backend
        self.format = prompt_format
        self.toolbox = toolbox
        self.limits = limits or Limits()

    def run_turn(self, dialogue: Dialogue, user_text: str) -> Iterator[Event]:
        """Answer one user message. The turn is recorded in `dialogue` step by step, so whatever stops it
        (a backend error, the consumer closing the generator) leaves the state of the last good step."""
        turn = Turn(user=user_text, status="error", error="the turn did not finish")
        dialogue.turns.append(turn)
        try:
            for event in self._steps(dialogue, turn):
                if not isinstance(event, ResponseChunk):
                    turn.events.append(event.to_dict())
                yield event
        finally:
            turn.belief = dict(dialogue.belief)

    def retry(self, dialogue: Dialogue) -> Iterator[Event]:
        """Run the last turn again if it failed (its finished tool calls and bookings stay done)."""
        if not dialogue.turns or dialogue.turns[-1].status != "error":
            return iter(())
        return self.run_turn(dialogue, dialogue.turns.pop().user)

    def _steps(self, dialogue: Dialogue, turn: Turn) -> Iterator[Event]:
        for _ in range(self.limits.max_steps):
            step, stream, native = Step(), self.format.reply_stream(), []
            try:
                for delta in self.backend.stream(self._request(dialogue, turn)):
                    if isinstance(delta, TextDelta):
                        step.text += delta.text
                        if chunk := stream.feed(delta.text):
                            yield ResponseChunk(chunk)
                    elif isinstance(delta, ToolCallDelta):
                        native.append(delta)
            except BackendError as error:
                turn.error = str(error)
                yield ErrorEvent(str(error), recoverable=False)
                return
            parsed = self.format.parse(step.text, native)
            step.thought, step.problems = parsed.thought, list(parsed.problems)
            if parsed.thought:
                yield Thought(parsed.thought)
            for problem in parsed.problems:
                yield ErrorEvent(problem, recoverable=True)
            turn.steps.append(step)
            for number, call in enumerate(parsed.calls):
                yield from self._call(dialogue, turn, step, call, f"t{len(dialogue.turns)}s{len(turn.steps)}c{number}")
            if parsed.calls or parsed.problems:
                continue
            if parsed.reply is None:
                step.problems.append("the answer was empty; reply to the user or call a tool")
                continue
            if rest := stream.rest(parsed.reply):
                yield ResponseChunk(rest)
            yield self._finish(dialogue, turn, parsed.reply, "done")
            return
        yield ResponseChunk(FALLBACK_REPLY)
        yield self._finish(dialogue, turn, FALLBACK_REPLY, "fallback")

    def _call(self, dialogue: Dialogue, turn: Turn, step: Step, call: Call, call_id: str) -> Iterator[Event]:
        arguments = json.loads(json.dumps(call.arguments, default=repr))  # sets, bytes, ...: JSON-safe for records
        yield ToolCallStarted(call_id, call.name, arguments)
        started = time.perf_counter()
        outcome = self.toolbox.call(call.name, arguments, dialogue.id)
        elapsed_ms = (time.perf_counter() - started) * 1000
        step.calls.append(CallRecord(name=call.name, arguments=arguments, ok=outcome.ok, result=outcome.result,
                                     error=outcome.error, elapsed_ms=elapsed_ms))
        yield ToolCallFinished(call_id, call.name, arguments, outcome.ok, outcome.result, outcome.error, elapsed_ms)
        if outcome.ok and outcome.result.get("status") == "booked":
            dialogue.bookings.append(outcome.result)
        if not outcome.arguments:  # an unknown tool, or nothing valid in the call
            return
        # Even a call that could not run (a booking missing the number of people) shows what was understood.
        changed = belief.apply(dialogue.belief, belief.slot_updates(self.toolbox.tools[call.name], outcome.arguments))
        if changed:
            turn.changed = sorted({*turn.changed, *changed})
            yield BeliefUpdated(dict(dialogue.belief), list(turn.changed))

    def _finish(self, dialogue: Dialogue, turn: Turn, response: str, status: str) -> TurnFinished:
        turn.response, turn.status, turn.error, turn.belief = response, status, None, dict(dialogue.belief)
        return TurnFinished(dialogue.turns.index(turn), response, dict(turn.belief), list(turn.changed),
                            fallback=status == "fallback")

    def _request(self, dialogue: Dialogue, turn: Turn):  # noqa: ANN202 - a ModelRequest
        """The next request, with as much of the latest history as fits the prompt budget (oldest dropped first)."""
        history = [t for t in dialogue.completed if t is not turn]
        build = lambda kept: self.format.request(history[len(history) - kept:], turn, self.limits.max_new_tokens)  # noqa: E731
        low, high = 0, len(history)
        while low < high:  # the most turns that fit; fewer turns never make a longer prompt
            middle = (low + high + 1) // 2
            if self.backend.count_tokens(build(middle)) <= self.limits.max_prompt_tokens:
                low = middle
            else:
                high = middle - 1
        return build(low)
