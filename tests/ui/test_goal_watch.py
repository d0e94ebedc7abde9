""""Watch a goal" and the first minute without a model: the handlers (the agenda user against the rule-based
system, through the one dialogue loop, to a saved verdict; Pause, Stop; Play a goal with the rules) and the real
page in chromium at 1440x900 and 390x844, on a machine with no model and no test goals."""

from __future__ import annotations

import threading
import time

import gradio as gr
import pytest

from app.dialogue.transcript import VERDICT_KEY, AgentSaid
from app.settings import Settings
from app.simulation.systems import RULES, RULES_LABEL
from app.ui.demo import PAUSED, PLAYING, DemoApp
from tests.ui.test_ui_handlers import CARD, CHAT, INPUT, SEND, STATE, STATUS, VERDICT, last


def no_model_app(tmp_path, raw_db_dir, **more) -> DemoApp:
    """The page's handlers on a machine where the model cannot start (a scripted backend without a script) and
    the test goals are not found (goals are generated from the database)."""
    settings = Settings(home=tmp_path, data_dir=raw_db_dir, backend="scripted", test_dir=tmp_path / "no-goals",
                        download_timeout_s=1, watch_pause_s=0, **more)
    return DemoApp(settings).start()


@pytest.fixture
def watcher(tmp_path, raw_db_dir, monkeypatch):
    from app.evaluation import data
    from app.ui.goal_play import GoalPlay
    from app.ui.goal_watch import GoalWatch

    def nowhere(*_args, **_kwargs):
        raise data.TestDataUnavailable("no test goals on this machine")

    monkeypatch.setattr(data, "locate", nowhere)
    app = no_model_app(tmp_path, raw_db_dir)
    return app, GoalWatch(GoalPlay(app))


def test_watch_a_goal_plays_the_agenda_user_against_the_rules_to_a_saved_verdict(watcher):
    app, watch = watcher
    assert app.status.state == "failed"
    goals = watch.play.goal_set()
    assert goals.generated and goals.ids
    assert watch.play.systems()["choices"] == [(RULES_LABEL, RULES)]  # no model offered when none can answer
    every, final = last(watch.watch(goals.ids[0], "agenda", RULES, None))
    transcript = final[STATE]
    assert transcript.goal.id == goals.ids[0] and transcript.meta["backend"] == RULES
    assert transcript.meta["model"] == RULES_LABEL and transcript.meta["user"] == "agenda"
    assert len(transcript.turns()) >= 2 and any(isinstance(e, AgentSaid) for e in transcript.events)
    assert final[VERDICT].startswith(("✅ **Goal met.**", "❌ **Goal not met.**")) and "| domain |" in final[VERDICT]
    assert "Your task" in final[CARD]
    assert any(o[STATUS].startswith("▶ Watching") for o in every[:-1])  # said while it plays
    assert final[STATUS].startswith(("🏁 ✅ Goal met:", "🏁 ❌ Goal not met (blame:"))  # and how it ended, by the box
    stored = app.store.transcript(transcript.id)  # saved like any other dialogue, with its verdict
    assert stored is not None and stored.meta[VERDICT_KEY]["complete"] in (True, False)
    # Not "no model": the rules answer this dialogue, so the person may go on chatting and Send is on; the page's
    # timer (which says the model's state) leaves its status line alone.
    assert "🔴" not in final[STATUS] and final[SEND]["interactive"] is True
    assert all(isinstance(value, type(gr.skip())) for value in app.model_status(transcript))
    assert app.model_status(None)[0].startswith("🔴")
    # Like any other dialogue: rated, downloaded, shared with the review queue.
    assert app.rate_dialogue(transcript, "partly", 3, "watched", "ann")[0].startswith("✅ Saved")
    assert app.download_file(transcript) is not None
    assert app.share(transcript, True)[1] == "Shared: raters in the review queue can read this dialogue."
    assert app.review.item(transcript.id) is not None


def test_a_model_found_unable_to_load_after_the_page_loaded_leaves_the_rules_and_opens_watch_a_goal(tmp_path,
                                                                                                    raw_db_dir):
    """The page loads while the model still loads (both panels offer it, Watch a goal stays shut); the page's timer
    then finds it failed, and the panels change as a page loaded after the failure shows them."""
    from app.ui.demo import Status
    from app.ui.goal_play import GoalPanel, GoalPlay
    from app.ui.goal_watch import WatchPanel

    app = no_model_app(tmp_path, raw_db_dir)
    failed = app.status
    with gr.Blocks():
        play = GoalPlay(app)
        watch, goal = WatchPanel(play), GoalPanel(play)
    app.status = Status("loading", "loading the model…")
    assert watch.when_no_model() == (gr.skip(), gr.skip()) and goal.when_no_model() == gr.skip()
    assert [value for _, value in play.systems()["choices"]] == ["model", RULES]  # what the page loaded with
    app.status = failed
    system, panel = watch.when_no_model()
    assert panel == gr.update(open=True)
    assert system["choices"] == [(RULES_LABEL, RULES)] and system["value"] == RULES
    assert goal.when_no_model()["choices"] == [(RULES_LABEL, RULES)]


def test_play_a_goal_with_the_rules_chats_without_a_model(watcher):
    app, watch = watcher
    goal = watch.play.goal_set().ids[0]
    assert all(isinstance(v, type(gr.skip())) for v in watch.play.start(goal, "model", None))  # no model: refused
    opened = watch.play.start(goal, RULES, None)
    assert opened[STATE].meta["backend"] == RULES and opened[SEND]["interactive"] is True
    _every, final = last(app.respond("I am looking for a hotel in the north.", opened[STATE]))
    assert final[STATE].turns() and final[CHAT][-1]["role"] == "assistant" and final[CHAT][-1]["content"]
    checked = watch.play.done(final[STATE])
    assert checked[VERDICT].startswith(("✅", "❌"))


def test_watch_a_goal_with_the_loaded_model(tmp_path, raw_db_dir, monkeypatch):
    """The other system choice: the page's own model (here a scripted one that cannot help) plays the goal, and the
    verdict blames it."""
    from app.evaluation import data
    from app.ui.goal_play import MODEL, GoalPlay
    from app.ui.goal_watch import GoalWatch
    from tests.ui.test_ui_handlers import started

    monkeypatch.setattr(data, "locate", lambda *a, **k: (_ for _ in ()).throw(data.TestDataUnavailable("none")))
    app = started(tmp_path, raw_db_dir, ["System: Sorry, I cannot help with that."] * 40, watch_pause_s=0)
    watch = GoalWatch(GoalPlay(app))
    assert [value for _label, value in watch.play.systems()["choices"]] == [MODEL, RULES]  # the model first
    *_, final = watch.watch(watch.play.goal_set().ids[0], "agenda", MODEL, None)
    transcript = final[STATE]
    assert transcript.meta["backend"] == "scripted" and not app.by_rules(transcript)
    assert final[STATUS].startswith("🏁 ❌ Goal not met (blame: agent)") and "| domain |" in final[VERDICT]


def test_pause_holds_a_watched_dialogue_and_stop_ends_it_without_a_verdict(tmp_path, raw_db_dir, monkeypatch):
    from app.evaluation import data
    from app.ui.goal_play import GoalPlay
    from app.ui.goal_watch import GoalWatch

    monkeypatch.setattr(data, "locate", lambda *a, **k: (_ for _ in ()).throw(data.TestDataUnavailable("none")))
    app = no_model_app(tmp_path, raw_db_dir)
    app.settings.watch_pause_s = 0.2
    watch = GoalWatch(GoalPlay(app))
    pages = watch.watch(watch.play.goal_set().ids[0], "agenda", RULES, None)
    first = next(pages)
    transcript = first[STATE]
    assert app.watching(transcript)
    assert app.pause(transcript)["value"] == "Resume"
    seen: list = []
    reader = threading.Thread(target=lambda: seen.extend(pages))
    reader.start()
    time.sleep(1.5)
    held = len(transcript.events)
    time.sleep(1.0)
    assert len(transcript.events) == held and any(page[STATUS] == PAUSED for page in seen)  # paused: nothing moves
    *_, refused = app.respond("let me type too", transcript)  # one writer per dialogue: the message stays in the box
    assert refused[INPUT] == "let me type too" and refused[STATUS] == PLAYING and len(transcript.events) == held
    assert app.pause(transcript)["value"] == "Pause"  # Resume
    time.sleep(0.5)
    app.stop_turn(transcript)
    reader.join(timeout=10)
    assert not reader.is_alive() and not app.watching(transcript)
    assert VERDICT_KEY not in transcript.meta and seen[-1][VERDICT] == ""  # stopped: no verdict


def test_new_dialogue_leaves_a_watched_dialogue(tmp_path, raw_db_dir, monkeypatch):
    from app.evaluation import data
    from app.ui.goal_play import GoalPlay
    from app.ui.goal_watch import GoalWatch

    monkeypatch.setattr(data, "locate", lambda *a, **k: (_ for _ in ()).throw(data.TestDataUnavailable("none")))
    app = no_model_app(tmp_path, raw_db_dir)
    app.settings.watch_pause_s = 0.3
    watch = GoalWatch(GoalPlay(app))
    pages = watch.watch(watch.play.goal_set().ids[0], "agenda", RULES, None)
    watched = next(pages)[STATE]
    next(pages)
    assert all(isinstance(value, type(gr.skip())) for value in app.start_over(watched))  # its handler draws the new
    rest = list(pages)
    assert rest[-1][STATE].id != watched.id and rest[-1][STATE].events == []  # ... one, last
    assert VERDICT_KEY not in watched.meta and not app.watching(watched)


# -- the real page, on a machine with no model and no test goals ----------------------------------------------------
from tests.browser_helpers import chromium, running_app  # noqa: E402 - the browser half of this file
from tests.midturn import open_page, send  # noqa: E402
from tests.ui.test_browser import missing  # noqa: E402
from tests.ui.test_page_finish import SIZES, shot, wait_text  # noqa: E402

browser_only = pytest.mark.skipif(missing is not None, reason=str(missing))
CHAT_MESSAGES = "() => document.querySelectorAll('#chat .message-row, #chat .message').length"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def no_model_page(tmp_path_factory, raw_db_dir):
    """`python app.py` where CoALM cannot load (no GPU, no Hub) and the test goals cannot be found or fetched."""
    home = tmp_path_factory.mktemp("no-model-home")
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir), "WOZ_TEST_DIR": "", "HF_HUB_OFFLINE": "1",
           "WOZ_DOWNLOAD_TIMEOUT_S": "5", "WOZ_WATCH_PAUSE_S": "0.8"}
    with running_app([], env) as url:
        yield url


def deal(page, prefix: str) -> None:
    wait_text(page, f"#{prefix}-goal" if prefix == "watch" else "#goal-choice", "generated from the database")
    page.click(f"#{prefix}-deal")
    selector = "#watch-goal input" if prefix == "watch" else "#goal-choice input"
    page.wait_for_function(f"() => document.querySelector('{selector}').value.startsWith('gen-')", timeout=15_000)


@browser_only
@pytest.mark.parametrize("viewport", SIZES)
def test_without_a_model_watch_a_goal_plays_to_a_verdict(no_model_page, browser, viewport, tmp_path):
    page = open_page(browser, no_model_page, viewport)
    size = f"{viewport['width']}x{viewport['height']}"
    wait_text(page, "#turn-status", "Watch a goal", timeout=60_000)  # the no-model sentence offers it
    assert "rule-based system (not a model)" in page.inner_text("#turn-status")
    wait_text(page, "#header", "🔴")  # the header has caught up with the model's state (the page's timer)
    page.wait_for_selector("#watch-deal", state="visible", timeout=15_000)  # its panel is open already
    wait_text(page, "#watch-system", "rule-based system (not a model)")
    assert "the model (" not in page.inner_text("#watch-system")  # no model is offered when none can answer
    assert "agenda user" in page.inner_text("#watch-user")
    deal(page, "watch")
    page.click("#watch-start")
    wait_text(page, "#turn-status", "Watching")
    page.wait_for_function(f"() => ({CHAT_MESSAGES})() >= 2", timeout=30_000)
    page.wait_for_timeout(2500)  # a couple of turns, at reading speed
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, tmp_path, f"watch-{size}-1-playing")
    page.click("#watch-pause")  # Pause holds the dialogue; Resume lets it go on
    wait_text(page, "#turn-status", "Paused")
    assert page.inner_text("#watch-pause") == "Resume"
    page.wait_for_timeout(300)
    held = page.evaluate(CHAT_MESSAGES)
    page.wait_for_timeout(2500)
    assert page.evaluate(CHAT_MESSAGES) == held
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, tmp_path, f"watch-{size}-2-paused")
    page.click("#watch-pause")
    wait_text(page, "#goal-verdict", "Goal", timeout=120_000)  # the checker's verdict ends it
    verdict = page.inner_text("#goal-verdict")
    assert ("Goal met" in verdict or "Goal not met" in verdict) and "domain" in verdict
    assert "Blame" in verdict or "Goal met" in verdict  # a failure says whose it was
    status = page.inner_text("#turn-status")
    assert status.startswith("🏁") and "Goal" in status  # how it ended, said where the person looks
    assert "Watching" not in status and "🔴" not in status and page.is_enabled("#download")
    assert page.is_enabled("#send")  # the rules answer this dialogue: the person may go on with it
    assert "Your task" in page.inner_text("#goal-card")
    page.locator("#goal-verdict").scroll_into_view_if_needed()
    shot(page, tmp_path, f"watch-{size}-3-verdict")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"] + 1
    table = page.locator("#goal-verdict table").bounding_box()  # the verdict's table stays on the screen
    assert table["x"] >= 0 and table["x"] + table["width"] <= viewport["width"] + 1
    page.reload(wait_until="load")  # saved like any other dialogue: a reload brings it back, verdict and all
    wait_text(page, "#goal-verdict", "Goal", timeout=15_000)
    page.context.close()


@browser_only
def test_stop_ends_a_watched_dialogue_where_it_is(no_model_page, browser):
    page = open_page(browser, no_model_page, {"width": 1440, "height": 900})
    page.wait_for_selector("#watch-deal", state="visible", timeout=60_000)
    deal(page, "watch")
    page.click("#watch-start")
    page.wait_for_function(f"() => ({CHAT_MESSAGES})() >= 2", timeout=30_000)
    page.click("#watch-stop")
    page.wait_for_function("() => !document.querySelector('#turn-status').innerText.includes('Watching')",
                           timeout=15_000)
    held = page.evaluate(CHAT_MESSAGES)
    page.wait_for_timeout(2500)
    assert page.evaluate(CHAT_MESSAGES) == held and page.inner_text("#goal-verdict").strip() == ""
    page.context.close()


@browser_only
@pytest.mark.parametrize("viewport", SIZES)
def test_without_a_model_play_a_goal_chats_with_the_rules(no_model_page, browser, viewport):
    page = open_page(browser, no_model_page, viewport)
    wait_text(page, "#turn-status", "Watch a goal", timeout=60_000)
    page.click("#goal-panel button:has-text('Play a goal')")
    page.wait_for_timeout(500)
    wait_text(page, "#goal-system", "rule-based system (not a model)")
    deal(page, "goal")
    page.click("#goal-start")
    wait_text(page, "#goal-card", "generated from the database")
    page.wait_for_function("() => !document.querySelector('#send').disabled", timeout=15_000)
    assert "🔴" not in page.inner_text("#turn-status")
    send(page, "Hello, I need some help please.")
    page.wait_for_function(f"() => ({CHAT_MESSAGES})() >= 2", timeout=30_000)
    wait_text(page, "#turn-status", "Ready")
    page.click("#goal-done")
    wait_text(page, "#goal-verdict", "Goal")
    page.context.close()

