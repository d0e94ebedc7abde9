"""New dialogue, the chat's trash icon and Stop pressed while a slow model streams its reply, and what a usable
page is afterwards. Shared by the browser tests and `benchmarks/mid_turn_presses.py` (20 tries of each).

A page is usable when, after the press: it stops saying the agent is working; it shows the right dialogue (a new
one after New dialogue and the trash icon; after Stop, the streamed text kept as the reply, marked stopped, and no
"Retry"); a message sent next streams its reply; Stop stops that; Download saves the dialogue shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PRESSES = {"new dialogue": "#new-dialogue", "trash icon": "#chat button[aria-label='Clear']", "stop": "#stop"}
STATUS = "() => document.querySelector('#turn-status').innerText"


def open_page(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    """A new browser context (a new person) on the page, loaded."""
    page = browser.new_context(viewport=viewport, accept_downloads=True).new_page()
    page.goto(url, wait_until="load")
    page.wait_for_selector("#message textarea")
    page.wait_for_timeout(300)  # the page's load events (the dialogue a reload brings back) have run
    return page


def send(page: Any, text: str) -> None:
    """Type `text` into the message box and press Enter."""
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")


def wait_for_words(page: Any, after: str, timeout_ms: int = 20_000) -> None:
    """Until the slow model's reply to the message `after` shows its first words in the chat."""
    page.wait_for_function(
        "after => new RegExp(after + '\\\\s+word0 word1').test(document.querySelector('#chat').innerText)",
        arg=after, timeout=timeout_ms)


def press_mid_turn(browser: Any, url: str, press: str, viewport: dict[str, int], after_s: float = 2.0) -> str | None:
    """Open a page, send a message to the slow model, press `press` (a key of PRESSES) `after_s` seconds into the
    streamed reply; None when the page is usable afterwards, else what is wrong with it."""
    page = open_page(browser, url, viewport)
    try:
        return _press_and_check(page, press, after_s)
    except Exception as error:  # a timeout is an unusable page, described: what was waited for, and why in vain
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        return f"{type(error).__name__}: " + " / ".join(dict.fromkeys(lines))[:800]
    finally:
        page.context.close()


def _press_and_check(page: Any, press: str, after_s: float) -> str | None:
    send(page, "old message")
    wait_for_words(page, "old message")
    page.wait_for_timeout(int(after_s * 1000))
    page.click(PRESSES[press])
    try:
        page.wait_for_function(f"() => !({STATUS})().includes('working')", timeout=10_000)
    except Exception:
        return f"still 'working' 10 s after the {press}: {page.inner_text('#turn-status')!r}"
    # The chat draws its Markdown asynchronously, a moment after the status line: give it a few seconds.
    settled = ("() => { const chat = document.querySelector('#chat').innerText; return "
               + ("chat.includes('word0 word1') && chat.includes('You stopped this reply here'); }" if press == "stop"
                  else "!chat.includes('old message') && !chat.includes('word0'); }"))
    try:
        page.wait_for_function(settled, timeout=5_000)
    except Exception:
        chat = page.inner_text("#chat")[-200:]
        if press == "stop":
            return f"Stop did not keep the streamed text as the reply, marked stopped: {chat!r}"
        return f"the old dialogue is still shown after the {press}: {chat!r}"
    if press == "stop" and ("Retry" in page.inner_text("#turn-status") or page.is_visible("#retry")):
        return "Stop was reported as a failure to retry"
    send(page, "next message")
    try:
        wait_for_words(page, "next message")
    except Exception:
        return f"the next message did not run: {page.inner_text('#chat')[-200:]!r}"
    page.click("#stop")
    try:
        page.wait_for_function(f"() => ({STATUS})().includes('Stopped')", timeout=10_000)
    except Exception:
        return f"Stop did nothing: {page.inner_text('#turn-status')!r}"
    with page.expect_download(timeout=10_000) as download:
        page.click("#download")
    saved = json.loads(Path(download.value.path()).read_text())
    said = [event["text"] for event in saved["events"] if event["kind"] == "user_said"]
    expected = ["old message", "next message"] if press == "stop" else ["next message"]
    if said != expected:
        return f"Download saved the dialogue {said}, not {expected}"
    return None
