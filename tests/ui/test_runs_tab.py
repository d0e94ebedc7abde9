"""The Runs tab in Debian's chromium: a run made by `app.simulate --backend rules --goals 3` is listed, filtered
to passed and failed dialogues, and a dialogue stepped through its events with the belief panel following."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.agent.test_agent_dialogues import TRIP
from tests.browser_helpers import running_app
from tests.run_helpers import needs_test_files, rules_run
from tests.ui.test_browser import missing
from tests.ui.test_workbench_browser import browser, open_tab, shot, wait_text  # noqa: F401 - fixtures

pytestmark = [pytest.mark.skipif(missing is not None, reason=str(missing)), needs_test_files]


@pytest.fixture(scope="module")
def runs_server(tmp_path_factory, raw_db_dir):
    home = tmp_path_factory.mktemp("runs-home")
    root = tmp_path_factory.mktemp("runs-root")
    made = rules_run(root / "nightly" / "sim-rules", raw_db_dir, home)
    copy = root / "nightly" / "sim-copy"  # the same run, but one goal's last reply said otherwise
    shutil.copytree(made, copy)
    records = [json.loads(line) for line in (copy / "transcripts.jsonl").read_text().splitlines()]
    changed = next(r for r in records if r["goal"] == "pmul2437")
    last = max(i for i, e in enumerate(changed["transcript"]["events"]) if e["kind"] == "agent_said")
    changed["transcript"]["events"][last]["text"] = "Goodbye then."
    (copy / "transcripts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    script = home / "chat.json"
    script.write_text(json.dumps(TRIP))
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir), "WOZ_RUNS_DIR": str(root)}
    with running_app(["--backend", "scripted", "--script", str(script)], env) as url:
        yield url, root


def belief(page) -> str:
    return page.inner_text("#runs-belief")


def test_open_a_run_filter_it_and_step_through_a_dialogue(runs_server, browser, tmp_path):  # noqa: F811
    url, root = runs_server
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load")
    page.wait_for_selector("#message textarea")
    open_tab(page, "Runs")
    page.fill("#runs-folder textarea", "../..")
    page.click("#runs-list")
    wait_text(page, "#runs-status", "not below the runs folder")
    page.fill("#runs-folder textarea", "")
    page.click("#runs-list")
    wait_text(page, "#runs-status", "2 runs found")
    table = page.inner_text("#runs-table")
    assert "nightly/sim-rules" in table and "nightly/sim-copy" in table and "agenda" in table
    wait_text(page, "#runs-dialogues-status", "3 of 3 dialogues")
    page.locator("#runs-verdict label").filter(has_text=re.compile(r"^\s*not complete\s*$")).click()
    wait_text(page, "#runs-dialogues-status", "0 of 3 dialogues")  # the rule-based system meets every goal
    page.locator("#runs-verdict label").filter(has_text=re.compile(r"^\s*complete\s*$")).click()
    wait_text(page, "#runs-dialogues-status", "3 of 3 dialogues")
    page.wait_for_function("() => (document.querySelector('#runs-dialogues').innerText.match(/sim-/g) || [])"
                           ".length >= 3", timeout=10_000)
    wait_text(page, "#runs-event-label", "event ")
    last = page.inner_text("#runs-event-label")
    total = int(re.search(r"of (\d+)", last)[1])
    assert f"event {total} of {total}" in last
    final = belief(page)
    assert "Nothing understood yet" not in final
    slider = page.locator("#runs-event input[type=range]")
    slider.focus()
    page.keyboard.press("Home")
    wait_text(page, "#runs-event-label", f"event 1 of {total}")
    wait_text(page, "#runs-belief", "Nothing understood yet")
    seen = {belief(page)}
    for _step in range(total - 1):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(250)
        seen.add(belief(page))
    wait_text(page, "#runs-event-label", f"event {total} of {total}")
    page.wait_for_function("t => document.querySelector('#runs-belief').innerText === t", arg=final, timeout=10_000)
    assert final in seen and len(seen) >= 2, seen  # the panel followed the slider from empty to the final state
    assert page.locator("#runs-chat .message").count() >= 2  # the dialogue itself, with the chat's panels beside it
    assert str(root) not in page.inner_text("#tab-runs")  # no server path on the page
    page.locator("#runs-dialogue").scroll_into_view_if_needed()
    shot(page, tmp_path, "runs-1440x900")  # a dialogue at its last event, with the chat's panels

    page.click("#runs-compare-panel button:has-text('side by side')")
    page.wait_for_timeout(300)
    page.click("#runs-compare")
    wait_text(page, "#runs-compare-status", "pmul2437: the dialogues part at")
    assert "⚑" in page.inner_text("#runs-compare-left") and "⚑" in page.inner_text("#runs-compare-right")
    assert "Goodbye then." in page.inner_text("#runs-compare-left") + page.inner_text("#runs-compare-right")

    page.click("#runs-fork")  # at the last event: the taxi booked, the goodbye said
    page.wait_for_selector("#chat", state="visible", timeout=15_000)  # the Chat tab opened with the fork
    wait_text(page, "#chat", "taxi")
    wait_text(page, "#bookings", "booked")
    assert page.inner_text("#belief") == final
    forked_reference = page.inner_text("#bookings tbody td:nth-child(2)")
    # The fork goes on with another backend than its parent's (the rule-based system ran it; the page's scripted
    # model answers now), on top of what the parent had said and booked.
    page.fill("#message textarea", "I need a cheap guesthouse in the north")
    page.press("#message textarea", "Enter")
    wait_text(page, "#chat", "I have 2 cheap guesthouses in the north")
    assert "taxi" in page.inner_text("#chat") and forked_reference in page.inner_text("#bookings")
    open_tab(page, "Runs")
    assert "Forked" in page.inner_text("#runs-fork-status")
    page.locator("#runs-event input[type=range]").focus()
    page.keyboard.press("End")
    wait_text(page, "#runs-event-label", f"event {total} of {total}")
    parent_reference = page.inner_text("#runs-bookings tbody td:nth-child(2)")
    assert forked_reference != parent_reference and len(forked_reference) == 8  # made again under the fork's id
    page.close()


def test_the_runs_tab_on_a_phone(runs_server, browser, tmp_path):  # noqa: F811
    url, _root = runs_server
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#message textarea")
    open_tab(page, "Runs")
    page.click("#runs-list")
    wait_text(page, "#runs-status", "2 runs found")
    wait_text(page, "#runs-event-label", "event ")
    wait_text(page, "#runs-bookings", "booked")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 391  # nothing sticks out sideways
    page.locator("#runs-dialogue").scroll_into_view_if_needed()
    shot(page, tmp_path, "runs-390x844")
    page.close()
