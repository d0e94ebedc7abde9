"""Backends through the real paths: the tiny model via transformers, `transformers serve` over HTTP, and faults."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.backends.base import BackendError, ModelRequest, TextDelta, Usage
from app.backends.openai_backend import OpenAIBackend
from app.backends.transformers_backend import TransformersBackend
from app.dialogue.session import Messages, run_dialogue
from app.dialogue.transcript import AgentSaid, ReplyChunk, ToolAnswered, Transcript, TurnFailed
from tests.agent_helpers import run, scripted_agent, streamed

REQUEST = ModelRequest([{"role": "user", "content": "User: I need a hotel in the north"}], max_new_tokens=24)


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    backend = TransformersBackend(str(tiny_model_dir))
    backend.load()
    return backend


def text_of(backend, request=REQUEST) -> str:
    return "".join(d.text for d in backend.stream(request) if isinstance(d, TextDelta))


@pytest.mark.parametrize("format_name", ["coalm", "tools"])
def test_turn_with_the_tiny_model_through_transformers(tiny_backend, toolbox, format_name):
    agent = Agent(tiny_backend, make_format(format_name, toolbox.tools), toolbox, Limits(max_new_tokens=24))
    dialogue = Transcript()
    events = run(agent, dialogue, "I need a cheap hotel in the north")
    assert isinstance(events[-1], AgentSaid)  # noise in, a finished turn out (a reply or the fallback)
    assert streamed(events) == events[-1].text == dialogue.turns()[0].reply.text
    assert backend_generated(dialogue)  # the model really generated text
    assert Transcript.from_json(dialogue.to_json()) == dialogue


def backend_generated(transcript: Transcript) -> bool:
    return any(e.text.strip() for e in transcript.events if isinstance(e, AgentSaid) and not e.fallback) or \
        any(getattr(e, "output", "") for e in transcript.events)


def test_greedy_generation_is_deterministic_and_streams_in_pieces(tiny_backend):
    long = ModelRequest(REQUEST.messages, max_new_tokens=300)  # long enough to span several 20 ms hand-overs
    pieces = [d.text for d in tiny_backend.stream(long) if isinstance(d, TextDelta)]
    assert len(pieces) > 3 and "".join(pieces) == text_of(tiny_backend, long)
    assert tiny_backend.count_tokens(REQUEST) > 5


def test_one_model_serves_concurrent_dialogues(tiny_backend):
    expected, results = text_of(tiny_backend), []
    threads = [threading.Thread(target=lambda: results.append(text_of(tiny_backend))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [expected] * 4


def test_stopping_early_frees_the_model(tiny_backend):
    long = ModelRequest(REQUEST.messages, max_new_tokens=2000)
    stream = tiny_backend.stream(long)
    next(stream)
    stream.close()  # what the UI's stop button does
    started = time.perf_counter()
    assert text_of(tiny_backend)  # would wait for 2000 tokens if the first generation had not been cancelled
    assert time.perf_counter() - started < 5


def test_missing_model_says_what_to_set(toolbox, tmp_path):
    backend = TransformersBackend(str(tmp_path / "no-such-model"))
    with pytest.raises(BackendError, match="WOZ_MODEL") as error:
        backend.load()
    assert "WOZ_BACKEND=openai" in str(error.value)
    agent = Agent(backend, make_format("coalm", toolbox.tools), toolbox)
    dialogue = Transcript()
    events = run(agent, dialogue, "hello")
    assert isinstance(events[-1], TurnFailed) and "WOZ_MODEL" in events[-1].message
    assert dialogue.turns()[0].status == "failed"


def test_openai_backend_against_a_real_server(tiny_server, tiny_model_dir, toolbox):
    backend = OpenAIBackend(tiny_server, str(tiny_model_dir), None, timeout_s=30)
    # The tiny model's noise runs to the token limit; the server says "length", and a cut answer is no reply.
    pieces = []
    with pytest.raises(BackendError, match="cut at the token limit"):
        pieces.extend(backend.stream(REQUEST))
    assert len(pieces) > 1 and all(isinstance(p, TextDelta) for p in pieces)
    text = "".join(p.text for p in pieces)
    word = re.search(r"[A-Za-z]{3,}", text[2:])[0]  # greedy: asked again, the server says the same up to here
    answer = list(backend.stream(ModelRequest(REQUEST.messages, stop=(word,), max_new_tokens=24)))
    stopped = [d for d in answer if isinstance(d, TextDelta)]
    assert text.startswith("".join(p.text for p in stopped))  # stopped at the stop string: a complete answer
    usage = answer[-1]  # asked for (stream_options.include_usage), the server's own counts end the stream
    assert isinstance(usage, Usage) and usage.counted_by == "server" and 0 < usage.generated_tokens <= 24
    assert usage.prompt_tokens > 5
    for format_name in ("coalm", "tools"):
        agent = Agent(backend, make_format(format_name, toolbox.tools), toolbox, Limits(max_new_tokens=16))
        dialogue = Transcript()
        events = run(agent, dialogue, "a train to ely on monday")
        assert isinstance(events[-1], TurnFailed) and "cut at the token limit" in events[-1].message
        assert dialogue.turns()[0].status == "failed" and dialogue.open_turn() is not None  # kept; Retry offered


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RawServer:
    """A loopback server that answers every connection with `reply(connection)`: hang, or break a stream."""

    def __init__(self, reply) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/v1"
        self.reply = reply
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self.reply, args=(connection,), daemon=True).start()

    def close(self) -> None:
        self.socket.close()


def hang(connection) -> None:
    connection.recv(65536)
    time.sleep(30)


def cut_mid_stream(connection) -> None:
    connection.recv(65536)
    chunk = (b'data: {"id":"1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
             b'"delta":{"role":"assistant","content":"System: Hello th"},"finish_reason":null}]}\n\n')
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    time.sleep(0.2)
    connection.close()  # no terminating chunk: the stream breaks mid-answer


@pytest.mark.parametrize(("fault", "says"), [
    ("down", "cannot reach the model server"),
    ("hang", "did not answer within 1 s"),
    ("cut", "broke off"),
])
def test_server_faults_are_visible_and_keep_the_dialogue(toolbox, fault, says):
    server = {"hang": lambda: RawServer(hang), "cut": lambda: RawServer(cut_mid_stream)}.get(fault)
    server = server() if server else None
    url = server.url if server else f"http://127.0.0.1:{closed_port()}/v1"
    try:
        # One good turn first (scripted), then the same dialogue continues on the faulty server.
        scripted, _ = scripted_agent(toolbox, ["Action: FindHotel(area='east')", "System: 7 hotels."])
        dialogue = Transcript()
        run(scripted, dialogue, "hotels in the east")
        before = dialogue.model_copy(deep=True)
        agent = Agent(OpenAIBackend(url, "m", None, timeout_s=1), make_format("coalm", toolbox.tools), toolbox)
        started = time.perf_counter()
        events = run(agent, dialogue, "and cheap ones?")
        assert time.perf_counter() - started < 10
    finally:
        if server:
            server.close()
    error = events[-1]
    assert isinstance(error, TurnFailed) and says in error.message, error.message
    assert dialogue.events[:len(before.events)] == before.events and dialogue.belief() == before.belief()
    assert dialogue.turns()[1].status == "failed" and dialogue.turns()[1].reply is None
    if fault == "cut":
        assert any(isinstance(e, ReplyChunk) for e in events) or events[1] is error


def test_failure_after_a_tool_call_keeps_the_finished_step_and_retry_completes(toolbox):
    class FailsOnce:
        label = "flaky"

        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def stream(self, request):
            self.calls += 1
            if self.calls == 2:
                raise BackendError("the model server went away")
            return self.inner.stream(request)

        def count_tokens(self, request):
            return self.inner.count_tokens(request)

    # The failing call consumes no output; the retry continues the turn, its finished call in the prompt.
    scripted, backend = scripted_agent(toolbox, ["Action: FindHotel(area='west')", "Action: FindHotel(area='west')",
                                                 "System: There are 4."])
    agent = Agent(FailsOnce(backend), scripted.format, toolbox)
    dialogue = Transcript()
    events = run(agent, dialogue, "hotels in the west")
    assert [type(e).__name__ for e in events][-1] == "TurnFailed"
    assert dialogue.belief() == {"hotel-area": "west"}  # the call that finished before the failure stands
    assert dialogue.turns()[0].status == "failed" and len(dialogue.turns()[0].calls()) == 1
    retried = list(run_dialogue(agent, Messages([]), dialogue, resume=True))
    assert isinstance(retried[-1], AgentSaid) and retried[-1].text == "There are 4."
    assert len(dialogue.turns()) == 1 and dialogue.turns()[0].status == "done"
    assert any(isinstance(e, ToolAnswered) for e in retried)
    assert "Observation: {'domain': 'hotel', 'count': " in backend.requests[-2].messages[0]["content"]


def test_a_retry_that_fails_again_says_why_and_is_recorded(toolbox):
    """Retry of a failed turn whose backend fails anew: the new failure is yielded and recorded (it was dropped,
    because the earlier TurnFailed made the turn look already ended), and a later Retry still completes."""
    class FailsTwice:
        label = "flaky"

        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def stream(self, request):
            self.calls += 1
            if self.calls <= 2:
                raise BackendError(f"the model server went away (attempt {self.calls})")
            return self.inner.stream(request)

        def count_tokens(self, request):
            return self.inner.count_tokens(request)

    scripted, backend = scripted_agent(toolbox, ["System: Hello."])
    agent = Agent(FailsTwice(backend), scripted.format, toolbox)
    dialogue = Transcript()
    assert run(agent, dialogue, "hi")[-1].message.endswith("(attempt 1)")
    retried = list(run_dialogue(agent, Messages([]), dialogue, resume=True))
    assert [type(e).__name__ for e in retried] == ["ModelCalled", "TurnFailed"]  # the failed call is recorded too
    assert not retried[0].ok and retried[1].message.endswith("(attempt 2)")
    assert dialogue.events[-1] is retried[1] and dialogue.turns()[0].failure is retried[1]
    again = list(run_dialogue(agent, Messages([]), dialogue, resume=True))
    assert again[-1].text == "Hello." and dialogue.turns()[0].status == "done"


def test_a_script_that_cannot_be_read_is_named_by_its_file_name_not_its_path(tmp_path):
    """Its message reaches the page, the arena and stored dialogues, where the server's folders do not belong."""
    from app.backends import BackendError
    from app.backends.scripted import ScriptedBackend

    bad = tmp_path / "deep" / "folder"
    bad.mkdir(parents=True)
    (bad / "broken.json").write_text("{not json")
    (bad / "object.json").write_text("{}")
    for name, expected in (("missing.json", "cannot read the script 'missing.json'"),
                           ("broken.json", "the script 'broken.json' is not JSON"),
                           ("object.json", "the script 'object.json' must be a JSON list")):
        with pytest.raises(BackendError) as raised:
            ScriptedBackend.from_file(bad / name)
        assert expected in str(raised.value) and str(tmp_path) not in str(raised.value)
