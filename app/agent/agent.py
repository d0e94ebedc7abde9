"""The agent: answers a transcript's latest user message, appending each typed event and yielding the same object.

Whatever stops a turn (a backend error, the deadline, Stop, the consumer going away) leaves the transcript as it
was after the last event, plus a TurnFailed saying why; Retry continues the same turn from there.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from app.agent import belief
from app.agent.formats.base import PromptFormat
from app.agent.parsing import Call
from app.backends.base import Backend, BackendError, Delta, ModelRequest, TextDelta, ToolCallDelta
from app.backends.metering import Meter
from app.dialogue.goals import availability_of
from app.dialogue.session import Yielded
from app.dialogue.transcript import (
    ActionRejected,
    AgentSaid,
    BeliefChanged,
    E,
    InterimReply,
    ModelCalled,
    ReplyChunk,
    Thought,
    ToolAnswered,
    ToolCalled,
    Transcript,
    TurnFailed,
    TurnView,
    valid_data,
    valid_text,
)
from app.settings import Settings
from app.tools.toolbox import Toolbox

log = logging.getLogger(__name__)
FALLBACK_REPLY = ("I'm sorry, I couldn't finish that just now. Could you say it again, perhaps with a little "
                  "more detail?")
EMPTY_ANSWER = "the answer was empty; reply to the user or call a tool"
STOPPED = "Stopped."
STOP_POLL_S = 0.1  # how often a waiting turn looks at its stop flag and deadline


@dataclass(frozen=True)
class Limits:
    """How far one turn may go: model steps, prompt and answer tokens, and a deadline for the whole turn."""

    max_steps: int = 4
    max_prompt_tokens: int = 3584
    max_new_tokens: int = 512
    turn_deadline_s: float | None = None  # the whole turn, all steps together; None: no deadline

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits the settings give."""
        return cls(settings.max_steps, settings.max_prompt_tokens, settings.max_new_tokens, settings.turn_deadline_s)


class Agent:
    """The system side of a dialogue: a backend, a prompt format and the toolbox, run one turn at a time
    within its limits."""

    def __init__(self, backend: Backend, prompt_format: PromptFormat, toolbox: Toolbox,
                 limits: Limits | None = None) -> None:
        self.backend = backend
        self.format = prompt_format
        self.toolbox = toolbox
        self.limits = limits or Limits()

    def run_turn(self, transcript: Transcript, stop: threading.Event | None = None) -> Iterator[Yielded]:
        """Answer the latest turn (a new user message, or a turn that stopped without a reply: Retry).
        Setting `stop` (the page's Stop button) ends the turn within STOP_POLL_S, recorded as stopped."""
        turn = transcript.last_turn()
        if turn is None or turn.reply is not None:
            raise ValueError("the transcript has no user message waiting for an answer")
        run = _TurnRun(self, transcript, turn, stop)
        try:
            yield from run.steps()
        except (GeneratorExit, KeyboardInterrupt):  # the page went away, Ctrl-C in the terminal
            run.open_call()
            run.stopped()
            raise
        except Exception as error:  # a bug must not cost the dialogue: the turn fails visibly, the log has it
            log.exception("turn %s of %s failed", turn.number, transcript.id)
            if called := run.open_call():
                yield called
            yield from run._failed(f"Something went wrong on our side ({type(error).__name__})")


class _TurnRun:
    """One run of one turn: numbering, the deadline, and appending events to the transcript."""

    def __init__(self, agent: Agent, transcript: Transcript, turn: TurnView, stop: threading.Event | None) -> None:
        self.agent, self.transcript, self.number, self.stop = agent, transcript, turn.number, stop
        self.step = max((e.step for e in turn.events), default=0)
        self.availability = availability_of(transcript.goal)  # a goal-driven dialogue books in its goal's world
        limit = agent.limits.turn_deadline_s
        self.deadline = None if limit is None else time.monotonic() + limit
        self.ended = False  # this run appended its TurnFailed (a Retry starts after an earlier one)
        self.seen = ""  # the reply text shown so far in this step
        self.meter: Meter | None = None  # the model call under way, until it is recorded

    def add(self, event: E) -> E:
        return self.transcript.append(event)

    def fail(self, message: str) -> TurnFailed | None:
        turn = self.transcript.last_turn()
        if self.ended or turn is None or turn.number != self.number or turn.reply:
            return None  # the turn had already ended
        self.ended = True
        return self.add(TurnFailed(turn=self.number, step=self.step, message=message))

    def stopped(self) -> AgentSaid | TurnFailed | None:
        """End the turn as stopped: what the person saw of the reply stays as the turn's reply, marked stopped;
        with nothing shown yet, the turn ended without one (Retry runs it again)."""
        turn = self.transcript.last_turn()
        if not (seen := valid_text(self.seen).strip()) or self.ended or turn is None or turn.number != self.number \
                or turn.reply:
            return self.fail(STOPPED)
        self.ended = True
        return self.add(AgentSaid(turn=self.number, step=self.step, text=seen, stopped=True))

    def _failed(self, message: str) -> Iterator[Yielded]:
        if failed := self.fail(message):
            yield failed

    def steps(self) -> Iterator[Yielded]:
        limits = self.agent.limits
        for _ in range(limits.max_steps):
            if self._late():
                yield from self._failed(self._deadline_passed())
                return
            if self._stopped():
                yield from self._failed(STOPPED)
                return
            self.step += 1
            stream, text, native = self.agent.format.reply_stream(), "", []
            self.seen = ""
            request = self._request()
            self.meter = meter = Meter()  # after the prompt is built: the model's time only
            try:
                for delta in _whole_characters(meter.watch(self._deltas(request))):
                    if isinstance(delta, TextDelta):
                        text += delta.text
                        if chunk := stream.feed(delta.text):
                            self.seen += chunk
                            yield ReplyChunk(chunk)
                    elif isinstance(delta, ToolCallDelta):
                        native.append(delta)
            except BackendError as error:
                yield self._called(meter, ok=False)
                yield from self._failed(str(error))
                return
            except _StopRequested:
                yield self._called(meter, ok=False)
                if ended := self.stopped():
                    yield ended
                return
            yield self._called(meter)
            native = [ToolCallDelta(valid_data(d.name), valid_data(d.arguments)) for d in native]
            parsed = self.agent.format.parse(text, native)
            reply = parsed.reply if not parsed.calls and not parsed.problems else None
            if parsed.thought:
                yield self.add(Thought(turn=self.number, step=self.step, text=parsed.thought))
            shown = "".join(stream.shown)
            if shown and not (reply is not None and reply.startswith(shown)) and shown not in (parsed.thought or ""):
                yield self.add(InterimReply(turn=self.number, step=self.step, text=shown))  # seen, so recorded
            for problem in parsed.problems:
                yield self.add(ActionRejected(turn=self.number, step=self.step, message=problem, output=text))
            for number, call in enumerate(parsed.calls):  # the parser caps how many one output may make
                yield from self._call(call, f"t{self.number}s{self.step}c{number}")
            if parsed.calls or parsed.problems:
                continue
            if reply is None:
                yield self.add(ActionRejected(turn=self.number, step=self.step, message=EMPTY_ANSWER, output=text))
                continue
            if rest := stream.rest(reply) if reply.startswith(shown) else reply:
                yield ReplyChunk(rest)
            yield self.add(AgentSaid(turn=self.number, step=self.step, text=reply))
            return
        yield ReplyChunk(FALLBACK_REPLY)
        yield self.add(AgentSaid(turn=self.number, step=self.step, text=FALLBACK_REPLY, fallback=True))

    def open_call(self) -> ModelCalled | None:
        """Record the model call under way as not ok, if the turn ends in the middle of it (the consumer went away)."""
        return self._called(self.meter, ok=False) if self.meter is not None else None

    def _called(self, meter: Meter, ok: bool = True) -> ModelCalled:
        """Record the step's model call: its time, and its tokens where the backend counted them."""
        self.meter = None
        return self.add(ModelCalled(turn=self.number, step=self.step, side="agent",
                                    backend=self.agent.backend.label, ok=ok, **meter.fields()))

    def _call(self, call: Call, call_id: str) -> Iterator[Yielded]:
        try:  # sets, bytes, ...: made JSON-safe (and valid text) for the record
            arguments = valid_data(json.loads(json.dumps(call.arguments, default=repr)))
        except (ValueError, RecursionError, TypeError) as error:
            problem = f"{call.name}: the arguments cannot be used ({type(error).__name__})"
            yield self.add(ActionRejected(turn=self.number, step=self.step, message=problem))
            return
        called = self.add(ToolCalled(turn=self.number, step=self.step, call_id=call_id, name=str(call.name),
                                     arguments=arguments))
        yield called
        started = time.perf_counter()
        toolbox = self.agent.toolbox
        answer = toolbox.call(called.name, dict(called.arguments), self.transcript.id, self.availability)
        elapsed_ms = (time.perf_counter() - started) * 1000
        yield self.add(ToolAnswered(turn=self.number, step=self.step, call_id=call_id, result=answer,
                                    elapsed_ms=elapsed_ms))
        # Even a call that could not run (a booking missing the number of people) shows what was understood.
        understood = toolbox.understood(called.name, called.arguments)
        if not understood:  # an unknown tool, or nothing valid in the call
            return
        now = self.transcript.belief()
        updates = belief.slot_updates(toolbox.tools[called.name], understood)
        changes: dict[str, str | None] = {slot: value for slot, value in updates.items() if now.get(slot) != value}
        if changes:
            yield self.add(BeliefChanged(turn=self.number, step=self.step, changes=changes))

    def _request(self) -> ModelRequest:
        """The next request, with as much of the latest history as fits the prompt budget (oldest dropped first)."""
        turns = self.transcript.turns()
        current = next(t for t in turns if t.number == self.number)
        history = [t for t in turns if t.number < self.number and t.answered]
        limits, count = self.agent.limits, self.agent.backend.count_tokens

        def build(kept: int) -> ModelRequest:
            return self.agent.format.request(history[len(history) - kept:], current, limits.max_new_tokens)

        low, high = 0, len(history)
        while low < high:  # the most turns that fit; fewer turns never make a longer prompt
            middle = (low + high + 1) // 2
            if count(build(middle)) <= limits.max_prompt_tokens:
                low = middle
            else:
                high = middle - 1
        return build(low)

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _late(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _deadline_passed(self) -> str:
        return (f"the turn took longer than {self.agent.limits.turn_deadline_s:g} s, so it was stopped "
                "(WOZ_TURN_DEADLINE_S sets the limit); press Retry to try again")

    def _deltas(self, request: ModelRequest) -> Iterator[Delta]:
        """The backend's stream, ended with a BackendError once the turn's deadline passes, even while the
        server trickles bytes slowly enough that no read ever times out."""
        if self.deadline is None and self.stop is None:
            yield from self.agent.backend.stream(request)
            return
        pipe: queue.Queue[tuple[str, object]] = queue.Queue()
        stop = threading.Event()
        source = self.agent.backend.stream(request)
        threading.Thread(target=_pump, args=(source, pipe, stop), daemon=True, name="model-stream").start()
        try:
            while True:
                wait = STOP_POLL_S if self.deadline is None else min(STOP_POLL_S, self.deadline - time.monotonic())
                try:
                    kind, value = pipe.get(timeout=max(0.0, wait))
                except queue.Empty:
                    if self._late():
                        raise BackendError(self._deadline_passed()) from None
                    if self._stopped():
                        raise _StopRequested from None
                    continue
                if self._stopped():
                    raise _StopRequested
                if kind == "end":
                    return
                if kind == "error":
                    raise value  # type: ignore[misc]  # the backend's own exception, re-raised here
                yield value  # type: ignore[misc]
        finally:
            stop.set()
            cancel = getattr(source, "cancel", None)
            if cancel:  # a local model drops the request now, not when its next token reaches the pump
                cancel()


def _whole_characters(deltas: Iterator[Delta]) -> Iterator[Delta]:
    """The stream with its text made valid Unicode as it comes, once, before anything reads it (a server may send
    "\ud800"). A high surrogate ending a piece waits for the next piece, which may begin with its low half (an
    emoji split in two): so the pieces shown add up to exactly the text that is parsed and recorded."""
    held = ""
    for delta in deltas:
        if not isinstance(delta, TextDelta):
            yield delta
            continue
        text = held + delta.text
        held = text[-1] if text and "\ud800" <= text[-1] <= "\udbff" else ""
        if piece := valid_text(text[:len(text) - len(held)]):
            yield TextDelta(piece)
    if held:  # the stream ended on half a pair
        yield TextDelta(valid_text(held))


class _StopRequested(Exception):
    """Stop was pressed while the model was answering."""


def _pump(source: Iterator[Delta], pipe: queue.Queue[tuple[str, object]], stop: threading.Event) -> None:
    """Runs a backend stream in its own thread; closes it (ending a local generation too) once told to stop."""
    try:
        for delta in source:
            pipe.put(("delta", delta))
            if stop.is_set():
                break
        pipe.put(("end", None))
    except BaseException as error:  # handed to the consuming thread, which raises it
        pipe.put(("error", error))
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
