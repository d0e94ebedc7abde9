"""An OpenAI-compatible stand-in on loopback that answers every chat request with a stream, and remembers the token
counts it reported (different for every request), so a test can check that exactly those were recorded."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], str]  # the request body -> the answer's text


def agent_or_user(user_text: str = "I need a cheap hotel in the north.") -> Reply:
    """The agent's requests get a plain reply; a user simulator's (its system prompt plays a user) get `user_text`."""

    def reply(body: dict[str, Any]) -> str:
        system = next((m.get("content", "") for m in body["messages"] if m.get("role") == "system"), "")
        return user_text if "You are a user" in str(system) else "System: Sorry, I cannot help with that today."

    return reply


class StandIn:
    """`url` serves /v1/chat/completions. With `usage`, each answer's last piece reports its counts (prompt tokens
    100 + n and generated tokens 10 + n for the n-th request), kept in `sent`; without, no piece has any."""

    def __init__(self, reply: Reply, usage: bool = True) -> None:
        self.reply, self.usage = reply, usage
        self.sent: list[tuple[int, int]] = []
        self.bodies: list[dict[str, Any]] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name for it
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(stand_in.answer(body))

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: dict[str, Any]) -> bytes:
        text = self.reply(body)
        with self._lock:
            self.bodies.append(body)
            number = next(self._numbers)
            counts = (100 + number, 10 + number)
            if self.usage:
                self.sent.append(counts)
        half = len(text) // 2
        pieces = [_chunk({"role": "assistant", "content": text[:half]}), _chunk({"content": text[half:]}, "stop")]
        if self.usage:
            pieces.append(_chunk(None, usage={"prompt_tokens": counts[0], "completion_tokens": counts[1],
                                              "total_tokens": sum(counts)}))
        return b"".join(pieces) + b"data: [DONE]\n\n"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, **fields: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    chunk = {"id": "1", "object": "chat.completion.chunk", "created": 1, "model": "stand-in", "choices": choices,
             **fields}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"
