"""A streamed turn's last word: Gradio ends a streamed event by sending its last update again, so what the person
did between the turn's "Ready" and that resend (Done, New dialogue) was drawn over by the old page (CI once saw a
verdict shown and then blanked). Here the turn's handler lingers after its last update, as a busy machine makes
it, and the real page in chromium must keep what the person did."""

from __future__ import annotations

import json
import socket
import time

import pytest

from app.settings import Settings
from app.ui.demo import DemoApp
from app.ui.layout import CSS, build_ui
from app.ui.theme import theme
from tests.browser_helpers import chromium as launch_chromium
from tests.ui.test_browser import missing
from tests.ui.test_goal_play import ASK, GOAL, TEST_DIR, scripted_turn

pytestmark = [pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                 reason="the MultiWOZ test files are not beside the repository"),
              pytest.mark.skipif(missing is not None, reason=str(missing))]
LINGER_S = 3.0  # how long the handler runs on after the page already says Ready


@pytest.fixture(scope="module")
def lingering_page(tmp_path_factory, raw_db_dir, toolbox):
    """The page served in this process, over a scripted model that answers the goal right (twice), with the
    turn's handler ending LINGER_S after its last update."""
    home = tmp_path_factory.mktemp("lingering")
    script = home / "script.json"
    script.write_text(json.dumps(scripted_turn(toolbox) * 2))
    app = DemoApp(Settings(home=home / "home", data_dir=raw_db_dir, backend="scripted", script=script)).start()
    end = app._end

    def lingering(transcript, live):
        moved_to = end(transcript, live)
        time.sleep(LINGER_S)
        return moved_to

    app._end = lingering  # type: ignore[method-assign]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = build_ui(app)
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=False,
                        css=CSS, theme=theme())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def chromium():
    with launch_chromium() as browser:
        yield browser


def answered_goal(url: str, chromium):
    """A page where the goal was started and its question answered: the turn's status says Ready."""
    page = chromium.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    page.goto(url, wait_until="load")
    page.click("#goal-panel button:has-text('Play a goal')")
    page.wait_for_timeout(500)
    page.click("#goal-choice input")
    page.locator("#goal-choice input").press_sequentially(GOAL)
    page.locator(f"#goal-choice li[aria-label='{GOAL}']").click()
    page.click("#goal-start")
    page.wait_for_function("() => document.querySelector('#goal-card').innerText.includes('Your task (sng1066)')")
    page.fill("#message textarea", ASK)
    page.press("#message textarea", "Enter")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('entrance fee')",
                           timeout=30_000)
    page.wait_for_function("() => document.querySelector('#turn-status').innerText.includes('Ready')")
    return page


def test_done_pressed_as_the_turn_ends_keeps_its_verdict(lingering_page, chromium):
    page = answered_goal(lingering_page, chromium)
    page.click("#goal-done")
    page.wait_for_function("() => document.querySelector('#goal-verdict').innerText.includes('Goal met')",
                           timeout=30_000)
    page.wait_for_timeout(LINGER_S * 1000 + 1500)  # the handler has ended by now
    verdict = page.inner_text("#goal-verdict")
    assert "Goal met" in verdict and "attraction" in verdict and "phone" in verdict


def test_new_dialogue_pressed_as_the_turn_ends_stays_new(lingering_page, chromium):
    page = answered_goal(lingering_page, chromium)
    page.click("#new-dialogue")
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('entrance fee')")
    page.wait_for_timeout(LINGER_S * 1000 + 1500)
    assert "entrance fee" not in page.inner_text("#chat")
    assert "Your task" not in page.inner_text("#goal-card")
