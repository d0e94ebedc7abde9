"""What the browser tests share: the real app started as `python app.py` on a free loopback port, and Debian's
chromium driven by Playwright with the flags this machine needs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.settings import REPO_ROOT

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def browser_missing() -> str | None:
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@contextmanager
def running_app(arguments: list[str], env: dict[str, str]) -> Iterator[str]:
    """`python app.py ARGUMENTS --port N` with `env` added to this environment; yields the page's URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The app's output goes to WOZ_TEST_APP_LOG when set (to see why a browser test failed), else nowhere.
    log = open(os.environ.get("WOZ_TEST_APP_LOG", os.devnull), "ab")  # noqa: SIM115 - closed when the app ends
    process = subprocess.Popen([sys.executable, "app.py", *arguments, "--port", str(port)], cwd=REPO_ROOT,
                               env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("python app.py did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def slow_stream(connection) -> None:
    """A model server that streams a long reply, a word every quarter second, so a person can press Stop."""
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for number in range(120):
            content = ("System: " if number == 0 else "") + f"word{number} "
            event = json.dumps({"id": "1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None}]})
            chunk = f"data: {event}\n\n".encode()
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            time.sleep(0.25)
    except OSError:
        pass  # the client hung up: Stop worked
    connection.close()
