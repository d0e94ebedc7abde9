"""The workbench's finish (issue 16, item 9) in Debian's chromium at 1440x900 and 390x844: a name typed in one tab
reaches the others at once, the review queue opens each dialogue at its first message with no label over it and no
trash icon, Next dialogue moves on from an unfinished item, the empty-queue message agrees with the progress line,
and a failed adjudication keeps the lead's choice."""

from __future__ import annotations

import pytest

from tests.ui.test_browser import missing
from tests.ui.test_page_finish import SIZES, shot
from tests.ui.test_workbench_browser import browser, open_tab, server, wait_text, workbench_app  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(missing is not None, reason=str(missing))
# The review chat's scrolling box: how far down it is scrolled, and whether it scrolls at all.
SCROLL = """() => { const boxes = [...document.querySelectorAll('#review-chat *')].filter(b =>
  b.scrollHeight > b.clientHeight + 2 && ['auto', 'scroll'].includes(getComputedStyle(b).overflowY));
  return boxes.map(b => [b.scrollTop, b.scrollHeight - b.clientHeight]); }"""


def open_page(browser, url: str, viewport: dict[str, int]):  # noqa: F811 - not the fixture
    page = browser.new_page(viewport=viewport)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#message textarea")
    page.wait_for_timeout(300)
    return page


@pytest.mark.parametrize("viewport", SIZES)
def test_the_review_queue_reads_from_the_top_and_moves_on(server, browser, viewport):  # noqa: F811
    page = open_page(browser, server, viewport)
    name = f"finisher-{viewport['width']}"
    open_tab(page, "Review queue")
    page.locator("#review-rater textarea").press_sequentially(name)
    open_tab(page, "Arena")  # the name reaches the other tabs as it is typed, with no reload
    page.wait_for_function(f"() => document.querySelector('#arena-voter textarea').value === '{name}'",
                           timeout=10_000)
    open_tab(page, "Chat")
    page.click("#rating-panel button:has-text('Rate this dialogue')")
    page.wait_for_function(f"() => document.querySelector('#annotator textarea')?.value === '{name}'",
                           timeout=10_000)
    open_tab(page, "Review queue")
    page.click("#review-next")
    wait_text(page, "#review-progress", "left for you")
    page.wait_for_timeout(800)
    first = page.inner_text("#review-chat")
    assert not page.locator("#review-chat button[aria-label='Clear']").is_visible()  # read-only: no trash icon
    label = page.locator("#review-chat [data-testid='block-label']")
    assert label.count() == 0 or not label.first.is_visible()  # no label over the first message
    assert page.is_visible("text=Dialogue (read-only)")  # the title is above the chat instead
    scrolled = page.evaluate(SCROLL)
    assert scrolled and all(top == 0 for top, _room in scrolled), scrolled  # opened at its first message
    page.click("#review-next")  # left unfinished: Next dialogue hands another one (it handed the same back)
    page.wait_for_function("t => document.querySelector('#review-chat').innerText !== t", arg=first,
                           timeout=10_000)
    page.wait_for_timeout(800)
    assert all(top == 0 for top, _room in page.evaluate(SCROLL))
    page.close()


@pytest.mark.parametrize("viewport", SIZES)
def test_a_failed_adjudication_keeps_the_leads_choice(server, browser, viewport):  # noqa: F811
    page = open_page(browser, server, viewport)
    open_tab(page, "Results")
    page.fill("#results-token input", "letmein")
    page.click("#results-show")
    wait_text(page, "#results-status", "arena vote")
    page.click("#adjudicate-panel button:has-text('Adjudicate')")
    page.wait_for_timeout(300)
    page.click("#adjudicate-unit input")
    page.locator("#adjudicate-unit li").first.click()
    chosen = page.input_value("#adjudicate-unit input")
    page.locator("#adjudicate-label label").first.click()
    page.click("#adjudicate-save")  # no lead's name: refused
    wait_text(page, "#adjudicate-status", "Nothing was saved")
    page.wait_for_timeout(800)
    assert page.input_value("#adjudicate-unit input") == chosen and chosen
    page.click("#adjudicate-unit input")
    assert page.locator("#adjudicate-unit li").count() > 0  # its options are still there
    page.close()


@pytest.fixture(scope="module")
def showcase(tmp_path_factory, raw_db_dir):
    """A page with a seeded review queue and scripts long enough for a chat and an arena match at each size."""
    with workbench_app(tmp_path_factory.mktemp("showcase-home"), raw_db_dir, repeats=4) as url:
        yield url


@pytest.mark.parametrize("viewport", SIZES)
def test_each_workbench_tab_at_both_sizes(showcase, browser, viewport, tmp_path):  # noqa: F811
    """The README's screenshots of the review queue, the arena and the results, at 1440x900 and 390x844 (the chat
    tab's are taken by test_page_finish); nothing sticks out sideways on either."""
    page = open_page(browser, showcase, viewport)
    size, width = f"{viewport['width']}x{viewport['height']}", viewport["width"]
    open_tab(page, "Review queue")
    page.fill("#review-rater textarea", f"shot-{width}")
    page.click("#review-next")
    wait_text(page, "#review-progress", "left for you")
    page.wait_for_timeout(800)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, tmp_path, f"review-{size}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
    open_tab(page, "Arena")
    page.fill("#arena-message textarea", "I need a cheap guesthouse in the north")
    page.press("#arena-message textarea", "Enter")
    wait_text(page, "#arena-status", "which reply is better")
    page.wait_for_timeout(500)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, tmp_path, f"arena-{size}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
    open_tab(page, "Results")
    page.fill("#results-token input", "letmein")
    page.click("#results-show")
    wait_text(page, "#results-status", "arena vote")
    page.wait_for_timeout(1500)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, tmp_path, f"results-{size}")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
    page.close()
