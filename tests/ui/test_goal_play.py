""""Play a goal": the task card, the handlers (start, chat, Done, stored verdict) and the real page in chromium."""

from __future__ import annotations

import json

import pytest

from app.dialogue.goals import load_goals
from app.dialogue.transcript import VERDICT_KEY
from app.settings import REPO_ROOT
from app.ui.goal_play import task_card
from domains import domain
from tests.browser_helpers import chromium as launch_chromium
from tests.browser_helpers import running_app
from tests.ui.test_browser import missing
from tests.ui.test_ui_handlers import STATE, last, started

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
pytestmark = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                reason="the MultiWOZ test files are not beside the repository")
GOAL = "sng1066"  # a boat in the north; the user must get its phone and entrance fee
ASK = "I am looking for a boat in the north. What is the phone and the entrance fee?"


def scripted_turn(toolbox) -> list[str]:
    """What a right model would output for GOAL: the Find, then a reply naming the boat, its phone and fee."""
    boat = toolbox.catalogue.find(domain("attraction"), {"type": "boat", "area": "north"}, 1).rows[0]
    return ["Action: FindAttraction(type='boat', area='north')",
            f"System: {boat['name']} is a boat in the north; phone {boat['phone']}, "
            f"entrance fee {boat['entrance fee']}."]


def test_the_task_card_says_what_to_find_book_and_ask():
    goal = next(g for g in load_goals(TEST_DIR) if g.id == "mul2499")
    card = task_card(goal)
    assert "**1. Restaurant**" in card and "**3. Taxi**" in card
    assert ("Find one with type entertainment, area centre; if there is none, with type architecture, area centre"
            in card)
    assert "Book it: time 18:30, day thursday, people 8 (if that fails: time 17:30, day thursday, people 8)" in card
    assert "Get the car type, phone, reference number" in card and "If the booking fails how about 17:30" in card


def test_a_goal_played_through_the_handlers_is_checked_and_stored(tmp_path, raw_db_dir, toolbox):
    from app.ui.goal_play import GoalPlay

    app = started(tmp_path, raw_db_dir, scripted_turn(toolbox))
    play = GoalPlay(app, TEST_DIR)
    assert play.done(None)[0].startswith("Start a goal first")
    assert GOAL in play.choices() and play.deal() in play.choices()
    opened = play.start(GOAL)
    transcript, card = opened[STATE], opened[-2]
    assert transcript.goal.id == GOAL and not transcript.events and "boat" in card
    _every, final = last(app.respond(ASK, transcript))
    verdict, saved, _download = play.done(final[STATE])
    assert verdict.startswith("✅ **Goal met.**") and "| attraction |" in verdict
    stored = app.store.transcript(saved.id)
    assert stored.goal.id == GOAL and stored.meta[VERDICT_KEY]["complete"] is True
    assert stored.meta[VERDICT_KEY]["domains"][0]["requested"] == {"phone": True, "entrance fee": True}
    exported = app.store.export(tmp_path / "export").dialogues_jsonl.read_text()
    assert '"goal_verdict"' in exported and GOAL in exported  # beside the ratings, in the annotators' export


def test_a_goal_left_undone_is_not_met(tmp_path, raw_db_dir):
    from app.ui.goal_play import GoalPlay

    app = started(tmp_path, raw_db_dir, ["System: Sorry, I cannot help."])
    play = GoalPlay(app, TEST_DIR)
    _every, final = last(app.respond(ASK, play.start(GOAL)[STATE]))
    verdict, saved, _download = play.done(final[STATE])
    assert verdict.startswith("❌ **Goal not met.**") and "no venue was offered" in verdict
    assert "**Blame:** agent (the user conveyed the goal)" in verdict  # the person asked for everything
    stored = app.store.transcript(saved.id).meta[VERDICT_KEY]
    assert stored["complete"] is False and stored["blame"] == "agent"


def test_a_goal_the_person_never_told_blames_the_user(tmp_path, raw_db_dir):
    from app.ui.goal_play import GoalPlay

    app = started(tmp_path, raw_db_dir, ["System: Hello! What can I do for you?"])
    play = GoalPlay(app, TEST_DIR)
    _every, final = last(app.respond("Hello there.", play.start(GOAL)[STATE]))
    verdict, _saved, _download = play.done(final[STATE])
    assert "**Blame:** user (the user conveyed 0 of 2 goal values" in verdict


@pytest.fixture(scope="module")
def goal_server(tmp_path_factory, raw_db_dir, toolbox):
    home = tmp_path_factory.mktemp("goal-home")
    script = home / "script.json"
    script.write_text(json.dumps(scripted_turn(toolbox)))
    env = {"WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir)}
    with running_app(["--backend", "scripted", "--script", str(script)], env) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    with launch_chromium() as browser:
        yield browser


@pytest.mark.skipif(missing is not None, reason=str(missing))
def test_playing_a_goal_in_the_browser_ends_with_its_verdict(goal_server, chromium):
    page = chromium.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    page.goto(goal_server, wait_until="load")
    page.click("#goal-panel button:has-text('Play a goal')")
    page.wait_for_timeout(500)  # let the panel mount, as a person would
    page.click("#goal-choice input")
    page.locator("#goal-choice input").press_sequentially(GOAL)  # typed, so the list filters as for a person
    page.locator(f"#goal-choice li[aria-label='{GOAL}']").click()
    page.click("#goal-start")
    page.wait_for_function("() => document.querySelector('#goal-card').innerText.includes('Your task (sng1066)')")
    assert "Find one with type boat, area north" in page.inner_text("#goal-card")
    page.fill("#message textarea", ASK)
    page.press("#message textarea", "Enter")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('entrance fee')",
                           timeout=30_000)
    page.wait_for_function("() => document.querySelector('#turn-status').innerText.includes('Ready')")
    page.click("#goal-done")
    page.wait_for_function("() => document.querySelector('#goal-verdict').innerText.includes('Goal met')",
                           timeout=30_000)
    verdict = page.inner_text("#goal-verdict")
    assert "attraction" in verdict and "phone" in verdict and "not met" not in verdict
