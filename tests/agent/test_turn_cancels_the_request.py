"""Stop and the turn's deadline cancel the model request itself, even one that has produced no token yet (a local
model's request waiting in the batch): before, the request was only closed once its next token arrived."""

from __future__ import annotations

import threading
import time

import pytest

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.backends.base import ModelRequest
from app.dialogue.session import OneMessage, run_dialogue
from app.dialogue.transcript import Transcript, TurnFailed


class WaitingRequest:
    """A stream that has no token yet and ends only when cancelled (or after a minute)."""

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled

    def __iter__(self) -> WaitingRequest:
        return self

    def __next__(self):
        self.cancelled.wait(60)
        raise StopIteration

    def cancel(self) -> None:
        self.cancelled.set()


class WaitingModel:
    label = "waiting"

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def stream(self, request: ModelRequest) -> WaitingRequest:
        return WaitingRequest(self.cancelled)

    def count_tokens(self, request: ModelRequest) -> int:
        return 10


@pytest.mark.parametrize("ending", ["stop", "deadline"])
def test_the_request_is_cancelled_when_the_turn_ends(toolbox, ending):
    model = WaitingModel()
    agent = Agent(model, make_format("coalm", toolbox.tools), toolbox,
                  Limits(turn_deadline_s=0.5 if ending == "deadline" else None))
    stop = threading.Event()
    if ending == "stop":
        threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    last = list(run_dialogue(agent, OneMessage("a hotel"), Transcript(), stop=stop))[-1]
    assert isinstance(last, TurnFailed) and time.monotonic() - started < 2
    assert ("Stopped." if ending == "stop" else "WOZ_TURN_DEADLINE_S") in last.message
    assert model.cancelled.wait(1)  # the request was dropped, not left waiting for a token
