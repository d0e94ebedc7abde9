"""The workbench in Debian's chromium: a reviewer goes through the queue, votes in the arena and reads the
results; the page is checked at 1440x900 and on a 390x844 phone, with a screenshot of each tab.

Screenshots go to the test's temporary folder; WOZ_UPDATE_SCREENSHOT=1 copies them into docs/."""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.settings import REPO_ROOT
from app.tools.toolbox import Toolbox
from app.workbench.review_store import ReviewStore
from db.engine import make_engine
from db.importer import LocalFolder, ensure_imported
from tests.agent.test_agent_dialogues import TRIP
from tests.browser_helpers import chromium, running_app
from tests.ui.test_browser import missing
from tests.ui.test_workbench_ui import TOOLS_SIDE
from tests.workbench_seed import GOOD, seed_review_queue

pytestmark = pytest.mark.skipif(missing is not None, reason=str(missing))
DOCS = REPO_ROOT / "docs"
# Visible table headers whose text runs over more than one line ("referen/ce"): the text nodes' line boxes.
WRAPPED_HEADERS = """() => [...document.querySelectorAll('table th')].filter(th => th.offsetParent !== null)
  .filter(th => { const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT); const tops = new Set();
                  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    if (!node.textContent.trim() || node.parentElement.closest('button')) continue;
                    const range = document.createRange(); range.selectNodeContents(node);
                    for (const box of range.getClientRects()) tops.add(Math.round(box.top)); }
                  return tops.size > 1; }).map(th => th.innerText)"""
# Visible table headers cut off instead ("stat" for "status"), by their cell or by the table's scrolling box
# (the database rows may scroll sideways: they have a column per field).
CLIPPED_HEADERS = """() => [...document.querySelectorAll('table th .header')].filter(s => s.offsetParent !== null)
  .filter(s => !s.closest('#db-results')).filter(s => {
    const range = document.createRange(); range.selectNodeContents(s);
    const text = range.getBoundingClientRect(), cell = s.closest('th').getBoundingClientRect();
    let box = s.closest('table').parentElement;
    while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    const edge = Math.min(cell.right, box ? box.getBoundingClientRect().right : Infinity);
    return text.width > 0 && text.right > edge - 2; }).map(s => s.innerText)"""


@contextmanager
def workbench_app(home, raw_db_dir, repeats: int = 1):
    """The page with a seeded review queue, a scripted chat and a scripted arena (each script `repeats` times,
    for tests that chat and play matches more than once); yields its URL."""
    engine = make_engine(f"sqlite:///{home / 'woz.sqlite3'}")
    ensure_imported(engine, [LocalFolder(raw_db_dir)])
    seed_review_queue(ReviewStore(engine, raters_per_item=3), Toolbox(engine))
    engine.dispose()
    scripts = {}
    for name, outputs in (("chat", TRIP), ("a", GOOD), ("b", TOOLS_SIDE)):
        scripts[name] = home / f"{name}.json"
        scripts[name].write_text(json.dumps(outputs * repeats))
    arena = [{"backend": "scripted", "script": str(scripts["a"]), "model": "coalm-side"},
             {"backend": "scripted", "script": str(scripts["b"]), "model": "tools-side", "format": "tools"}]
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir), "WOZ_ADMIN_TOKEN": "letmein",
           "WOZ_ARENA": json.dumps(arena), "WOZ_RATERS_PER_ITEM": "3"}
    with running_app(["--backend", "scripted", "--script", str(scripts["chat"])], env) as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory, raw_db_dir):
    with workbench_app(tmp_path_factory.mktemp("workbench-home"), raw_db_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def shot(page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("WOZ_UPDATE_SCREENSHOT") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s)?.innerText.includes(t)", arg=[selector, text],
                           timeout=timeout)


def open_tab(page, title: str) -> None:
    page.click(f"button[role=tab]:has-text('{title}')")
    page.wait_for_timeout(300)


def test_reviewer_queue_arena_and_results(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(server, wait_until="load")
    page.wait_for_selector("#message textarea")
    assert str(REPO_ROOT) not in page.inner_text("#header") and "/shared/" not in page.inner_text("#header")
    page.fill("#message textarea", "I need a cheap guesthouse in the north")
    page.press("#message textarea", "Enter")
    wait_text(page, "#chat", "Worth House")
    wait_text(page, "#turn-status", "Ready")
    page.fill("#message textarea", "Book worth house for 2 people, 2 nights from thursday")
    page.press("#message textarea", "Enter")
    wait_text(page, "#chat", "Worth House is booked")
    wait_text(page, "#turn-status", "Ready")
    assert page.evaluate(WRAPPED_HEADERS) == [] and page.evaluate(CLIPPED_HEADERS) == []
    weight = page.eval_on_selector("#bookings tbody td:nth-child(2)", "td => getComputedStyle(td).fontWeight")
    assert int(weight) >= 700  # the booking reference stands out
    assert page.locator("#belief-state tr.changed").count() == 4
    shot(page, tmp_path, "tab-chat")
    page.click("#share input")  # the person shares this chat: only now may raters read it
    wait_text(page, "#share-status", "Shared: raters in the review queue can read this dialogue.")

    open_tab(page, "Review queue")
    page.fill("#review-rater textarea", "cy")
    page.click("#review-next")
    wait_text(page, "#review-progress", "of 5 left for you")
    assert "5 of 5 left for you" in page.inner_text("#review-progress")  # 4 recorded + the chat just shared
    assert "good-model" not in page.inner_text("#tab-review")
    page.locator("#review-chat button[aria-label='Like']").first.click()
    wait_text(page, "#review-status", "Saved: Like for reply 1")
    page.click("#review-task-completed label:has-text('yes')")
    page.click("#review-naturalness label:has-text('4')")
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, tmp_path, "tab-review")
    page.click("#review-submit")
    wait_text(page, "#review-status", "Saved.")
    wait_text(page, "#review-progress", "4 of 5 left for you · you rated 1")
    assert page.evaluate(WRAPPED_HEADERS) == [] and page.evaluate(CLIPPED_HEADERS) == []
    assert not page.locator("#review-chat button[aria-label='Clear']").is_visible()  # read-only: no trash icon
    # The item shown forks into the Chat tab, at its last event, with the item's words and nothing of its system.
    opening = page.inner_text("#review-chat").strip().splitlines()[0]
    page.click("#review-fork-panel button:has-text('Fork this dialogue')")
    wait_text(page, "#review-fork-event-label", "event ")
    page.click("#review-fork")
    page.wait_for_selector("#chat", state="visible", timeout=15_000)
    wait_text(page, "#chat", opening)
    assert "good-model" not in page.inner_text("#chat") and "weak-model" not in page.inner_text("#chat")
    open_tab(page, "Review queue")
    wait_text(page, "#review-fork-status", "Forked after event")
    assert "4 of 5 left for you · you rated 1" in page.inner_text("#review-progress")  # forking rated nothing

    open_tab(page, "Arena")
    page.fill("#arena-message textarea", "I need a cheap guesthouse in the north")
    page.press("#arena-message textarea", "Enter")
    wait_text(page, "#arena-status", "which reply is better")
    assert "Worth House" in page.inner_text("#arena-chat-a") and "Worth House" in page.inner_text("#arena-chat-b")
    page.fill("#arena-voter textarea", "cy")
    page.click("#arena-vote-a")
    wait_text(page, "#arena-status", "Vote saved for turn 1")
    shot(page, tmp_path, "tab-arena")
    page.click("#arena-chat-a button[aria-label='Clear']")  # one side's trash icon starts a new match for both
    wait_text(page, "#arena-status", "New match")
    assert "Worth House" not in page.inner_text("#arena-chat-b")

    open_tab(page, "Results")
    page.fill("#results-token input", "letmein")
    page.click("#results-show")
    wait_text(page, "#results-status", "arena vote")
    agreement = page.inner_text("#results-agreement")
    assert "Naturalness (1-5)" in agreement and "ordinal" in agreement
    ranking = page.inner_text("#results-ranking")
    assert "coalm-side" in ranking and "tools-side" in ranking
    assert "good-model" in page.inner_text("#results-by-system")
    assert page.evaluate(WRAPPED_HEADERS) == [] and page.evaluate(CLIPPED_HEADERS) == []
    shot(page, tmp_path, "tab-results")

    page.reload(wait_until="load")  # the name typed in the queue is remembered in this browser, on every tab
    page.wait_for_selector("#message textarea")
    open_tab(page, "Review queue")
    page.wait_for_function("() => document.querySelector('#review-rater textarea')?.value === 'cy'", timeout=15_000)
    open_tab(page, "Arena")
    assert page.input_value("#arena-voter textarea") == "cy"
    page.close()


def test_the_chat_on_a_phone(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(server, wait_until="load")
    page.wait_for_selector("#message textarea")
    page.fill("#message textarea", "I need a cheap guesthouse in the north")
    page.click("#send")
    wait_text(page, "#chat", "guesthouse in the north")
    wait_text(page, "#turn-status", "Ready")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 391  # nothing sticks out sideways
    size = page.eval_on_selector("#chat .message-wrap", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 14
    chat_box = page.locator("#chat").bounding_box()
    assert chat_box["width"] >= 0.8 * 390 and chat_box["height"] <= 844
    shot(page, tmp_path, "phone-chat")
    page.close()
