"""The chat page as a new person meets it, in Debian's chromium at 1440x900 and on a 390x844 phone (issue 16):
presses mid-turn leave a usable page, markup is shown as text, no server path reaches the page, a missing model
is said where one types, Play a goal works without the test goals, Stop keeps the reply, a reload brings the
dialogue back, the goal card reads well, and the tables and the phone layout hold up.

Screenshots go to the test's temporary folder; WOZ_UPDATE_SCREENSHOT=1 copies them into docs/."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading

import pytest

from app.settings import REPO_ROOT
from tests.agent.test_agent_dialogues import TRIP
from tests.backends.test_backends import RawServer
from tests.browser_helpers import chromium, running_app, slow_stream
from tests.midturn import PRESSES, open_page, press_mid_turn, send, wait_for_words
from tests.ui.test_browser import missing

pytestmark = pytest.mark.skipif(missing is not None, reason=str(missing))
DOCS = REPO_ROOT / "docs"
SIZES = [pytest.param({"width": 1440, "height": 900}, id="1440x900"),
         pytest.param({"width": 390, "height": 844}, id="390x844")]
READY = "() => document.querySelector('#turn-status').innerText.includes('Ready')"
USERS = ["I need a cheap guesthouse in the north", "Book worth house for 2 people, 2 nights from thursday",
         "I also need a train from london kings cross on friday after 9am", "Yes, 2 seats please",
         "And a taxi from the station to the hotel at 10:15"]
# Words a line break cut in two ("res/tau/ran/t"): a word whose text spans more than one line box.
BROKEN_WORDS = """selector => { const broken = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.offsetParent) continue;
      for (const match of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index); range.setEnd(node, match.index + match[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(match[0]); } } }
  return broken; }"""
# Header cells whose text is cut off by their cell ("referen" for "reference").
CUT_HEADERS = """selector => [...document.querySelectorAll(selector + ' th')].filter(th => th.offsetParent)
  .filter(th => th.scrollWidth > th.clientWidth + 1).map(th => th.innerText)"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def shot(page, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("WOZ_UPDATE_SCREENSHOT") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s)?.innerText.includes(t)", arg=[selector, text],
                           timeout=timeout)


# -- 1, 6, 7: a slow streaming server ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slow_app(tmp_path_factory, raw_db_dir):
    model = RawServer(slow_stream)
    env = {"WOZ_HOME": str(tmp_path_factory.mktemp("slow-home")), "WOZ_DATA_DIR": str(raw_db_dir)}
    with running_app(["--backend", "openai", "--base-url", model.url, "--model", "m"], env) as url:
        yield url
    model.close()


@pytest.mark.parametrize("viewport", SIZES)
@pytest.mark.parametrize("press", list(PRESSES))
def test_a_press_mid_turn_leaves_a_usable_page(slow_app, browser, press, viewport):
    """New dialogue and the trash icon showed the old dialogue, "working" for good, with Stop and Download dead;
    Stop replaced the streamed text with an error. (benchmarks/mid_turn_presses.py tries each 20 times.)"""
    assert press_mid_turn(browser, slow_app, press, viewport) is None


def test_the_status_line_says_working_for_the_whole_turn(slow_app, browser):
    """The page's timer (it asks for the model's state 2 s after the page loads) wrote "Ready" over a running turn;
    a person (and a test) then pressed Done on a half-said reply. Every status the line shows while the reply
    streams, across that tick, is recorded."""
    page = open_page(browser, slow_app, {"width": 1440, "height": 900})
    try:
        page.evaluate("""() => { window.statuses = []; const line = document.querySelector('#turn-status');
          new MutationObserver(() => window.statuses.push(line.innerText))
            .observe(line, {subtree: true, childList: true, characterData: true}); }""")
        send(page, "old message")
        wait_for_words(page, "old message")
        page.wait_for_timeout(3000)  # the timer's tick has come and gone
        page.click("#stop")
        page.wait_for_function(READY.replace("Ready", "Stopped"), timeout=10_000)
        shown = page.evaluate("() => window.statuses")
        began = next(i for i, text in enumerate(shown) if "working" in text)
        during = shown[began:next(i for i, text in enumerate(shown) if "Stopped" in text)]
        assert not [text for text in during if "Ready" in text], shown
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", SIZES)
def test_a_reload_mid_turn_brings_back_the_dialogue_with_what_was_shown(slow_app, browser, viewport):
    page = open_page(browser, slow_app, viewport)
    send(page, "remember me")
    wait_for_words(page, "remember me")
    page.wait_for_timeout(1000)
    page.reload(wait_until="load")
    wait_text(page, "#chat", "remember me", timeout=15_000)
    wait_text(page, "#chat", "You stopped this reply here", timeout=15_000)
    assert "word0 word1" in page.inner_text("#chat") and "working" not in page.inner_text("#turn-status")
    send(page, "and then")  # the dialogue goes on where it was
    wait_for_words(page, "and then")
    assert "remember me" in page.inner_text("#chat")
    page.click("#stop")
    page.context.close()


# -- 2: markup from people, models, tools and imported files ------------------------------------------------------
class Pixel:
    """A loopback server counting the requests a browser makes for a "tracking pixel"."""

    def __init__(self) -> None:
        self.hits = 0
        self.lock = threading.Lock()
        self.server = RawServer(self._answer)
        self.url = self.server.url.removesuffix("/v1") + "/tracking-pixel"

    def _answer(self, connection) -> None:
        connection.recv(65536)
        with self.lock:
            self.hits += 1
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        connection.close()


HOSTILE_USER = "<img src=x onerror=alert(1)> and <b>not bold</b>"


@pytest.fixture(scope="module")
def markup_app(tmp_path_factory, raw_db_dir):
    pixel = Pixel()
    home = tmp_path_factory.mktemp("markup-home")
    turn = ["Action: FindRestaurant(food='<img src=x onerror=alert(1)>')",
            f"System: <b>bold</b> is not bold; **this** is.\n\n- one\n- two\n\n![pixel]({pixel.url})"]
    (home / "script.json").write_text(json.dumps(turn * 2))
    imported = {"version": 2, "id": "imported-1", "meta": {"source": "file", "system": "imported"}, "events": [
        {"kind": "user_said", "turn": 0, "text": "hello"},
        {"kind": "agent_said", "turn": 0, "text": f'Look: <img src="{pixel.url}"> here'}]}
    (home / "imported.json").write_text(json.dumps(imported))
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir)}
    added = subprocess.run([sys.executable, "-m", "app.review", "add", str(home / "imported.json")], cwd=REPO_ROOT,
                           env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr
    with running_app(["--backend", "scripted", "--script", str(home / "script.json")], env) as url:
        yield url, pixel
    pixel.server.close()


@pytest.mark.parametrize("viewport", SIZES)
def test_markup_from_people_models_tools_and_files_shows_as_text(markup_app, browser, viewport):
    url, pixel = markup_app
    page = open_page(browser, url, viewport)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    send(page, HOSTILE_USER)
    page.wait_for_function(READY, timeout=30_000)
    wait_text(page, "#chat", "is not bold")
    page.wait_for_timeout(1000)
    chat = page.inner_text("#chat")
    assert HOSTILE_USER in chat  # the person's words, as typed
    assert "FindRestaurant(food='<img src=x onerror=alert(1)>')" in chat  # the tool call, whole
    assert "<b>bold</b> is not bold" in chat and "![pixel]" in chat  # the model's HTML and image, as text
    assert page.locator("#chat strong:has-text('this')").count() == 1  # its Markdown emphasis and list stay
    assert page.locator("#chat li").count() >= 2
    assert page.locator("#chat img").count() == 0 and page.locator("#chat b").count() == 0
    assert dialogs == [] and pixel.hits == 0

    page.click("button[role=tab]:has-text('Review queue')")
    page.fill("#review-rater textarea", f"rater-{viewport['width']}")
    page.click("#review-next")
    wait_text(page, "#review-chat", "Look:")
    page.wait_for_timeout(1000)
    assert f'<img src="{pixel.url}">' in page.inner_text("#review-chat")  # an imported file's text, as text
    assert page.locator("#review-chat img").count() == 0 and pixel.hits == 0  # and no request for the pixel
    page.context.close()


# -- 3: no server path on the page ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def missing_script_app(tmp_path_factory, raw_db_dir):
    home = tmp_path_factory.mktemp("missing-script-home")
    script = home / "scripts" / "no-such-script.json"
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir)}
    with running_app(["--backend", "scripted", "--script", str(script)], env) as url:
        yield url, home


@pytest.mark.parametrize("viewport", SIZES)
def test_no_server_path_reaches_the_page_or_the_store(missing_script_app, browser, viewport):
    url, home = missing_script_app
    page = open_page(browser, url, viewport)
    wait_text(page, "#turn-status", "WOZ_SCRIPT")
    send(page, "hello")
    page.wait_for_timeout(1500)
    page.click("button[role=tab]:has-text('Arena')")
    page.fill("#arena-message textarea", "hello")
    page.press("#arena-message textarea", "Enter")
    wait_text(page, "#arena-status", "not available")
    assert "no-such-script.json" in page.inner_text("#arena-status")  # named by its file name
    shown = page.evaluate("() => document.body.innerText")
    assert str(home) not in shown and str(home) not in page.content()
    page.context.close()
    with sqlite3.connect(home / "woz.sqlite3") as database:  # nor in any dialogue it stored
        assert not [row for row in database.execute("select data from dialogues") if str(home) in str(row)]


# -- 4, 5: a fresh machine: no model, no test goals ------------------------------------------------------------
@pytest.fixture(scope="module")
def fresh_machine_app(tmp_path_factory, raw_db_dir):
    home = tmp_path_factory.mktemp("fresh-home")
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir), "WOZ_TEST_DIR": "", "HF_HUB_OFFLINE": "1",
           "WOZ_DOWNLOAD_TIMEOUT_S": "5"}
    with running_app([], env) as url:  # `python app.py`: CoALM-8B through transformers, which cannot load here
        yield url


STATUSES = """() => { window.statuses = []; setInterval(() => {
  const status = document.querySelector('#turn-status');
  if (status) window.statuses.push(status.innerText); }, 50); }"""


@pytest.mark.parametrize("viewport", SIZES)
def test_without_a_model_the_page_says_so_where_one_types_and_send_does_not_pretend(fresh_machine_app, browser,
                                                                                    viewport):
    context = browser.new_context(viewport=viewport)
    context.add_init_script(f"({STATUSES})()")
    page = context.new_page()
    page.goto(fresh_machine_app, wait_until="load")
    wait_text(page, "#turn-status", "WOZ_MODEL", timeout=60_000)
    wait_text(page, "#header", "🔴")
    status = page.inner_text("#turn-status")
    assert status.startswith("🔴") and "set WOZ_MODEL" in status and "Review queue" in status
    assert page.is_disabled("#send")
    box, notice = page.locator("#message").bounding_box(), page.locator("#turn-status").bounding_box()
    assert 0 <= box["y"] - (notice["y"] + notice["height"]) < 40 and notice["y"] >= 0  # right above the box
    assert box["y"] + box["height"] <= viewport["height"]  # and both in view
    send(page, "hello")
    page.wait_for_timeout(1500)
    assert "hello" not in page.inner_text("#chat") and page.input_value("#message textarea") == "hello"
    assert "Retry" not in page.inner_text("#turn-status") and not page.is_visible("#retry")
    assert not [s for s in page.evaluate("() => window.statuses") if "Ready" in s]  # never said Ready
    context.close()


@pytest.mark.parametrize("viewport", SIZES)
def test_play_a_goal_deals_generated_goals_without_the_test_goals(fresh_machine_app, browser, viewport):
    page = open_page(browser, fresh_machine_app, viewport)
    page.click("#goal-panel button:has-text('Play a goal')")
    page.wait_for_timeout(500)
    wait_text(page, "#goal-choice", "generated from the database", timeout=30_000)
    page.click("#goal-deal")
    page.wait_for_function("() => document.querySelector('#goal-choice input').value.startsWith('gen-')",
                           timeout=15_000)
    page.click("#goal-start")
    wait_text(page, "#goal-card", "generated from the database")
    card = page.inner_text("#goal-card")
    assert "1. " in card and ("Find one" in card or "Book one" in card)
    page.context.close()


# -- 7, 8, 10: a whole trip, the goal card, tables and the phone ----------------------------------------------------
@pytest.fixture(scope="module")
def trip_app(tmp_path_factory, raw_db_dir):
    home = tmp_path_factory.mktemp("trip-home")
    (home / "script.json").write_text(json.dumps(TRIP + TRIP + ["System: Noted."] * 4))
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir)}
    with running_app(["--backend", "scripted", "--script", str(home / "script.json")], env) as url:
        yield url


@pytest.mark.parametrize("viewport", SIZES)
def test_a_trip_with_tables_that_read_well_and_a_reload_that_keeps_it(trip_app, browser, viewport, tmp_path):
    page = open_page(browser, trip_app, viewport)
    width, height = viewport["width"], viewport["height"]
    for selector in ("#chat", "#message", "#send"):  # the chat and its input in view as the page opens
        box = page.locator(selector).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, selector
    assert page.locator("#tabs button[aria-label='More tabs']").is_hidden()  # every tab named in the bar
    assert page.locator("#chat button[aria-label*='hare']").count() == 0  # no share icon that does nothing
    assert page.is_disabled("#download")  # nothing to download yet: the button says so by being off
    page.locator("#chat .example").first.click()  # an opener, inside the chat where its reply appears
    wait_text(page, "#chat", "City Centre North B and B")
    page.wait_for_function(READY)
    assert page.locator("#chat").bounding_box()["y"] >= 0 and page.evaluate("() => window.scrollY") == 0
    for text in USERS[1:]:
        send(page, text)
        page.wait_for_timeout(300)
        page.wait_for_function(READY, timeout=30_000)
    wait_text(page, "#chat", "pick you up at 10:15")
    assert page.is_enabled("#download")
    page.wait_for_timeout(500)
    shot(page, tmp_path, f"chat-{width}x{height}")

    tables = "#api-calls, #db-results, #bookings"
    assert page.evaluate(CUT_HEADERS, "#api-calls") == [] and page.evaluate(CUT_HEADERS, "#bookings") == []
    assert page.evaluate(CUT_HEADERS, "#db-results") == []
    assert page.evaluate(BROKEN_WORDS, tables) == [] and page.evaluate(BROKEN_WORDS, "#chat .message") == []
    assert page.inner_text("#db-results th") in ("name", "trainid")  # the table leads with what a row is
    turns = page.locator("#api-calls tbody tr td:nth-child(3)").all_inner_texts()
    assert turns == sorted(turns, key=int, reverse=True)  # the newest call first, above the table's scroll
    aligned = page.eval_on_selector("#api-calls tbody td:nth-child(4)", "td => getComputedStyle(td).textAlign")
    assert aligned == "right"  # numbers right-aligned
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1  # nothing sticks out

    page.click("#rating-panel button:has-text('Rate this dialogue')")
    page.wait_for_timeout(500)
    scale = page.locator("#naturalness label")
    assert len({round(scale.nth(i).bounding_box()["y"]) for i in range(5)}) == 1  # 1-5 on one line, not a grid

    page.reload(wait_until="load")  # the dialogue comes back: chat, belief, calls, bookings
    wait_text(page, "#chat", "pick you up at 10:15", timeout=15_000)
    assert USERS[0] in page.inner_text("#chat") and "worth house" in page.inner_text("#belief")
    assert "TR5686" in page.inner_text("#bookings") and page.is_enabled("#download")
    page.context.close()


@pytest.mark.parametrize("viewport", SIZES)
def test_the_goal_card_reads_well_and_goes_with_its_dialogue(trip_app, browser, viewport):
    page = open_page(browser, trip_app, viewport)
    page.click("#goal-panel button:has-text('Play a goal')")
    page.wait_for_timeout(500)
    page.click("#goal-choice input")
    page.locator("#goal-choice input").press_sequentially("pmul4648")
    page.locator("#goal-choice li[aria-label='pmul4648']").click()
    page.click("#goal-start")
    wait_text(page, "#goal-card", "Your task (pmul4648)")
    card = page.inner_text("#goal-card")
    assert "\n2. Attraction" in card and "address 2." not in card, card  # a domain's heading on its own line
    for slot_name in ("arriveby", "leaveat", "trainid", "pricerange"):
        assert slot_name not in card, card  # words, not slot names
    page.click("#goal-done")  # Done before anything was said: no verdict that would not be saved
    page.wait_for_timeout(1000)
    assert page.inner_text("#goal-verdict").strip() == ""
    send(page, "hello")
    wait_text(page, "#chat", "hello")
    page.wait_for_timeout(300)
    page.wait_for_function(READY, timeout=30_000)  # whatever the script answers: Done checks the dialogue
    page.click("#goal-done")
    wait_text(page, "#goal-verdict", "Goal not met")
    page.reload(wait_until="load")  # the card and the verdict come back with the dialogue
    wait_text(page, "#goal-card", "Your task (pmul4648)", timeout=15_000)
    wait_text(page, "#goal-verdict", "Goal not met")
    page.click("#new-dialogue")  # a new dialogue has no goal: the card and the verdict go with the old one
    wait_text(page, "#goal-card", "Pick or deal a goal")
    assert page.inner_text("#goal-verdict").strip() == ""
    page.context.close()
