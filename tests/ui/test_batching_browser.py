"""Two people at once against one local model (the tiny offline model, batched): both replies stream at the same
time, and Stop in one browser ends only that person's turn. Also: the page's queue lets WOZ_LOCAL_CONCURRENCY
turns of a local model run at once (it was 1).

The browser test is skipped when chromium or playwright is missing, unless WOZ_REQUIRE_BROWSER=1 (CI sets it)."""

from __future__ import annotations

import os
import time

import pytest

from app.settings import Settings
from app.ui.demo import DemoApp
from app.ui.layout import build_ui
from tests.browser_helpers import browser_missing, chromium, running_app

missing = browser_missing()
if missing and os.environ.get("WOZ_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"browser tests are required here but {missing}")
needs_browser = pytest.mark.skipif(missing is not None, reason=str(missing))


def turn_limits(app: DemoApp) -> set[int | None]:
    demo = build_ui(app)
    return {fn.concurrency_limit for fn in demo.fns.values() if fn.concurrency_id == "turns"}


@pytest.mark.parametrize(("backend", "zero_gpu", "expected"), [
    ("transformers", False, 5), ("transformers", True, 1), ("openai", False, 3)])
def test_the_queue_runs_as_many_turns_as_the_model_serves(tmp_path, raw_db_dir, monkeypatch, backend, zero_gpu,
                                                          expected):
    if zero_gpu:  # each turn inside spaces.GPU, with the GPU to itself
        monkeypatch.setenv("SPACES_ZERO_GPU", "1")
        monkeypatch.setattr("app.ui.layout._on_zero_gpu", lambda handler: handler)  # `spaces` exists on Spaces only
    settings = Settings(home=tmp_path, data_dir=raw_db_dir, backend=backend, model=str(tmp_path / "not-loaded"),
                        base_url="http://127.0.0.1:9/v1", local_concurrency=5, remote_concurrency=3)
    app = DemoApp(settings).start()
    deadline = time.monotonic() + 60
    while app.status.state == "loading" and time.monotonic() < deadline:  # its loader fails: no such model here
        time.sleep(0.05)
    assert turn_limits(app) == {expected}


@pytest.fixture(scope="module")
def tiny_app(tmp_path_factory, raw_db_dir, tiny_model_dir):
    home = tmp_path_factory.mktemp("two-people")
    # Long noisy answers (the tools format shows the model's text as it comes), one model call a turn. One OpenMP
    # thread: on a small machine shared with other work, a second one mostly waits in barriers (10x slower here).
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir), "WOZ_MAX_STEPS": "1", "WOZ_MAX_NEW_TOKENS": "1500",
           "WOZ_MAX_PROMPT_TOKENS": "5000", "WOZ_LOCAL_CONCURRENCY": "2", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    with running_app(["--backend", "transformers", "--model", str(tiny_model_dir), "--format", "tools"], env) as url:
        yield url


def chat_length(page) -> int:
    return len(page.inner_text("#chat"))


@needs_browser
def test_two_people_stream_at_once_and_stop_touches_only_one(tiny_app):
    with chromium() as browser:
        pages = []
        for _ in range(2):  # two browser contexts: two people, each with their own session
            page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
            page.goto(tiny_app, wait_until="load")
            page.wait_for_selector("#message textarea")
            page.wait_for_function("() => document.querySelector('#header').innerText.includes('ready')",
                                   timeout=120_000)
            pages.append(page)
        first, second = pages
        for page, text in ((first, "I need a cheap hotel in the north"), (second, "A train to ely on friday")):
            page.fill("#message textarea", text)
            page.press("#message textarea", "Enter")
        for page in pages:
            page.wait_for_function("() => document.querySelector('#turn-status').innerText.includes('working')",
                                   timeout=30_000)

        together, last = 0, [chat_length(first), chat_length(second)]
        deadline = time.monotonic() + 20
        while together < 3 and time.monotonic() < deadline:  # one at a time, the second chat would not move
            first.wait_for_timeout(300)
            now = [chat_length(first), chat_length(second)]
            together += now[0] > last[0] and now[1] > last[1]
            last = now
        assert together >= 3, "the two replies did not stream at the same time"

        first.click("#stop")
        first.wait_for_function("() => document.querySelector('#chat').innerText.includes('You stopped this reply')",
                                timeout=10_000)
        stopped_at = chat_length(second)
        second.wait_for_timeout(1000)
        assert "working" in second.inner_text("#turn-status") and chat_length(second) > stopped_at  # still going
        assert "You stopped this reply" not in second.inner_text("#chat")
        second.wait_for_function("() => document.querySelector('#turn-status').innerText.includes('Ready')",
                                 timeout=240_000)
        shown = second.inner_text("#chat")
        assert "You stopped this reply" not in shown and "did not finish" not in shown
