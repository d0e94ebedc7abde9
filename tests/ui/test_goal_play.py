""""Play a goal": the task card, the handlers (start, chat, Done, stored verdict) and the real page in chromium."""

from __future__ import annotations

import json

import gradio as gr
import pytest

from app.dialogue.goals import load_goals
from app.dialogue.transcript import VERDICT_KEY
from app.settings import REPO_ROOT
from app.ui.goal_card import task_card
from domains import domain
from tests.browser_helpers import chromium as launch_chromium
from tests.browser_helpers import running_app
from tests.markup import shown_text
from tests.ui.test_browser import missing
from tests.ui.test_ui_handlers import CARD, STATE, STATUS, VERDICT, last, started

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


def test_the_task_card_says_what_to_find_book_and_ask_in_words_each_domain_under_its_heading():
    goal = next(g for g in load_goals(TEST_DIR) if g.id == "mul2499")
    card = shown_text(task_card(goal))
    assert "1. Restaurant" in card and "3. Taxi" in card
    assert ("Find one type entertainment, in the centre; if there is none, one type architecture, in the centre"
            in card)
    assert "Book it: at 18:30, on thursday, for 8 people (if that fails: at 17:30, on thursday, for 8 people)" in card
    assert "Get the car type, phone number and reference number" in card
    assert "If the booking fails how about 17:30" in card
    # The next domain's heading starts its own block (it was glued to the last bullet: "entrance fee 2. Train").
    assert "\n\n#### 2. Attraction" in task_card(goal) and "entrance fee 2." not in card
    train = shown_text(task_card(next(g for g in load_goals(TEST_DIR) if g.id == "pmul4648")))
    for slot_name in ("arriveby", "leaveat", "trainid", "pricerange"):  # words, not slot names
        assert slot_name not in train, train


def test_a_goal_played_through_the_handlers_is_checked_and_stored(tmp_path, raw_db_dir, toolbox):
    from app.ui.goal_play import GoalPlay

    app = started(tmp_path, raw_db_dir, scripted_turn(toolbox))
    play = GoalPlay(app)
    assert all(isinstance(value, type(gr.skip())) for value in play.done(None))  # no goal: a warning, no change
    ids = play.goal_set().ids
    assert GOAL in ids and play.deal() in ids and not play.goal_set().generated
    opened = play.start(GOAL, "model", None)
    transcript, card = opened[STATE], opened[CARD]
    assert transcript.goal.id == GOAL and not transcript.events and "boat" in card and opened[VERDICT] == ""
    nothing_said = play.done(transcript)  # Done before any turn: no verdict shown that is not saved
    assert isinstance(nothing_said[VERDICT], type(gr.skip())) and app.store.transcript(transcript.id) is None
    turn = app.respond(ASK, transcript)
    next(turn)  # the message is shown and the turn runs: neither Done nor the page's timer may speak for it
    assert all(isinstance(value, type(gr.skip())) for value in play.done(transcript))
    assert all(isinstance(value, type(gr.skip())) for value in app.model_status(transcript))
    assert VERDICT_KEY not in transcript.meta
    final = next(shown for shown in turn if shown[STATUS] == "✅ Ready")  # the turn's last update; its handler
    assert app.model_status(final[STATE])[0] == final[STATUS]  # has not ended, but from now on the page is Ready
    checked = play.done(final[STATE])  # and Done, pressed at once, is not refused
    assert list(turn) == []
    verdict, saved = checked[VERDICT], checked[STATE]
    assert verdict.startswith("✅ **Goal met.**") and "| attraction |" in verdict
    stored = app.store.transcript(saved.id)
    assert stored.goal.id == GOAL and stored.meta[VERDICT_KEY]["complete"] is True
    assert stored.meta[VERDICT_KEY]["domains"][0]["requested"] == {"phone": True, "entrance fee": True}
    exported = app.store.export(tmp_path / "export").dialogues_jsonl.read_text()
    assert '"goal_verdict"' in exported and GOAL in exported  # beside the ratings, in the annotators' export
    # New dialogue takes the card and the verdict away with the goal (they stayed while Done said "no goal").
    fresh = app.start_over(saved)
    assert fresh[STATE].goal is None and fresh[VERDICT] == "" and "Pick or deal a goal" in fresh[CARD]
    back = app.restore(saved.id)  # a reload brings the goal card and its verdict back with the dialogue
    assert back[STATE].goal.id == GOAL and "boat" in back[CARD] and back[VERDICT].startswith("✅ **Goal met.**")


def test_a_goal_left_undone_is_not_met(tmp_path, raw_db_dir):
    from app.ui.goal_play import GoalPlay

    app = started(tmp_path, raw_db_dir, ["System: Sorry, I cannot help."])
    play = GoalPlay(app)
    _every, final = last(app.respond(ASK, play.start(GOAL, "model", None)[STATE]))
    checked = play.done(final[STATE])
    assert checked[VERDICT].startswith("❌ **Goal not met.**") and "no venue was offered" in checked[VERDICT]
    assert app.store.transcript(checked[STATE].id).meta[VERDICT_KEY]["complete"] is False


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
    assert "Find one type boat, in the north" in page.inner_text("#goal-card")
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
