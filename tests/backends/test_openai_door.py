"""What an OpenAI-compatible server may send, through the backend and the turn loop: HTTP servers on loopback."""

from __future__ import annotations

import json

import pytest

from app.agent.agent import Agent
from app.agent.formats import make_format
from app.backends.openai_backend import OpenAIBackend
from app.dialogue.transcript import ActionRejected, AgentSaid, ToolAnswered, Transcript, TurnFailed
from tests.agent_helpers import run, scripted_agent, streamed
from tests.backends.test_backends import RawServer


def piece(delta: dict | None = None, finish: str | None = None, **fields) -> bytes:
    chunk = {"id": "1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **fields}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
HELLO = piece({"role": "assistant", "content": "System: Hello"}) + piece({"content": " there."}, "stop") + DONE


def call_piece(arguments) -> bytes:
    call = {"index": 0, "id": "c", "type": "function", "function": {"name": "FindHotel", "arguments": arguments}}
    return piece({"tool_calls": [call]}) + piece(finish="tool_calls") + DONE


def answers(*bodies: bytes | tuple[bytes, bytes]):
    """A server that answers the n-th request with the n-th body (event stream unless a content type is given)."""
    queue = list(bodies)

    def reply(connection) -> None:
        connection.recv(65536)
        body = queue.pop(0) if queue else b""
        kind, body = body if isinstance(body, tuple) else (b"text/event-stream", body)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + kind + b"\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        connection.close()

    return RawServer(reply)


def turn_on(toolbox, server: RawServer, format_name: str = "coalm") -> tuple[list, Transcript, Transcript]:
    """One good scripted turn, then a turn against `server`: the events, the dialogue and its state before."""
    scripted, _ = scripted_agent(toolbox, ["Action: FindHotel(area='east')", "System: 7 hotels."])
    dialogue = Transcript()
    run(scripted, dialogue, "hotels in the east")
    before = dialogue.model_copy(deep=True)
    agent = Agent(OpenAIBackend(server.url, "m", None, timeout_s=5), make_format(format_name, toolbox.tools), toolbox)
    try:
        return run(agent, dialogue, "and cheap ones?"), dialogue, before
    finally:
        server.close()


@pytest.mark.parametrize(("body", "says"), [
    (b"data: {not json\n\n" + DONE, "sent something that is not JSON"),
    (b'data: {"id": "1", "choices": null}\n\n' + DONE, "does not allow: choices"),
    (b'data: {"id": "1"}\n\n' + DONE, "does not allow: choices"),
    (piece({"content": 5}, "stop") + DONE, "does not allow: choices.0.delta.content"),
    (piece({"content": ["System: hi"]}, "stop") + DONE, "does not allow: choices.0.delta.content"),
    (call_piece([1, 2]), "does not allow: choices.0.delta.tool_calls.0.function.arguments"),
    (piece({"content": "System: Your booking is confirmed, reference"}), "broke off"),  # no finish, no [DONE]
    (piece({"content": "System: Your booking is"}, "length") + DONE, "cut at the token limit"),
    ((b"application/json", b"<html>busy</html>"), "does not allow"),
])
def test_malformed_or_cut_answers_fail_the_turn_visibly_and_keep_the_dialogue(toolbox, body, says):
    events, dialogue, before = turn_on(toolbox, answers(body), "tools" if b"tool_calls" in body else "coalm")
    error = events[-1]
    assert isinstance(error, TurnFailed) and says in error.message, error.message
    assert not any(isinstance(e, AgentSaid) for e in events)
    assert dialogue.events[:len(before.events)] == before.events and dialogue.turns()[1].status == "failed"


def test_a_complete_stream_is_the_reply(toolbox):
    events, dialogue, _ = turn_on(toolbox, answers(HELLO))
    assert isinstance(events[-1], AgentSaid) and events[-1].text == "Hello there."
    assert streamed(events) == "Hello there." == dialogue.turns()[1].reply.text


def test_a_server_that_ignores_stream_is_read_whole(toolbox):
    completion = {"id": "1", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "System: Two are cheap."}, "finish_reason": "stop"}]}
    events, dialogue, _ = turn_on(toolbox, answers((b"application/json", json.dumps(completion).encode())))
    assert isinstance(events[-1], AgentSaid) and events[-1].text == "Two are cheap."
    assert streamed(events) == "Two are cheap." == dialogue.turns()[1].reply.text and not events[-1].fallback


@pytest.mark.parametrize("arguments", ['{"area": "north"}', {"area": "north"}])
def test_tool_call_arguments_as_text_or_as_an_object_are_the_arguments(toolbox, arguments):
    reply = piece({"content": "Nine are in the north."}, "stop") + DONE
    events, dialogue, _ = turn_on(toolbox, answers(call_piece(arguments), reply), "tools")
    calls = dialogue.turns()[1].calls()
    assert [(c.called.name, c.called.arguments, c.result.kind) for c in calls] == [("FindHotel", {"area": "north"},
                                                                                     "found")]
    assert isinstance(events[-1], AgentSaid) and events[-1].text == "Nine are in the north."
    assert dialogue.belief()["hotel-area"] == "north"


@pytest.mark.parametrize(("arguments", "says"), [
    ("[1, 2]", "must be a JSON object"), ("null", "must be a JSON object"), ("{'area':", "not valid JSON")])
def test_tool_call_arguments_that_are_not_an_object_go_back_to_the_model(toolbox, arguments, says):
    reply = piece({"content": "Which area?"}, "stop") + DONE
    events, dialogue, _ = turn_on(toolbox, answers(call_piece(arguments), reply), "tools")
    problems = [e for e in events if isinstance(e, ActionRejected)]
    assert len(problems) == 1 and says in problems[0].message, problems
    assert not any(isinstance(e, ToolAnswered) for e in events) and dialogue.turns()[1].calls() == []
    assert isinstance(events[-1], AgentSaid) and events[-1].text == "Which area?"


@pytest.mark.parametrize(("format_name", "opening"), [("coalm", "System: "), ("tools", "")])
def test_an_emoji_split_across_two_pieces_is_shown_and_recorded_once(toolbox, format_name, opening):
    """A server may cut a character's UTF-16 surrogate pair between two pieces (JSON escapes "\\ud83d" then
    "\\ude00"): the reply streams once, with the emoji whole, exactly as it is recorded."""
    body = (piece({"role": "assistant", "content": f"{opening}Enjoy \ud83d"}) + piece({"content": "\ude00 the stay."},
                                                                                      "stop") + DONE)
    events, dialogue, _ = turn_on(toolbox, answers(body), format_name)
    reply = dialogue.turns()[1].reply
    assert isinstance(events[-1], AgentSaid) and reply is not None and reply.text == "Enjoy \U0001F600 the stay."
    assert streamed(events) == reply.text  # shown once (the chat shows the streamed pieces, then what is left)
    assert [e.kind for e in dialogue.turns()[1].events] == ["user_said", "model_called", "agent_said"]  # recorded once
