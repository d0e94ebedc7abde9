"""The rule-based system (the honest ceiling): an ordinary backend built by the assembler, in both prompt formats,
that understands the user's words and never reads the goal."""

from __future__ import annotations

import re

import pytest

from app.assembly import assemble
from app.dialogue.goals import load_goals
from app.dialogue.session import Messages, run_dialogue
from app.dialogue.transcript import AgentSaid, ToolCalled, Transcript
from app.settings import REPO_ROOT
from app.simulation.checker import GoalChecker
from app.simulation.rules import RulesBackend, replies
from app.simulation.rules.understanding import Ontology, understand
from app.simulation.users.agenda import AgendaUser
from domains.values import DONTCARE

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
needs_test_data = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                     reason="the MultiWOZ test files are not beside the repository")


@pytest.fixture(scope="module")
def ontology(toolbox) -> Ontology:
    return Ontology.of(toolbox)


@pytest.mark.parametrize(("text", "active", "domain", "values", "book"), [
    ("I need a cheap guesthouse in the north with free wifi.", None, "hotel",
     {"pricerange": "cheap", "type": "guesthouse", "area": "north", "internet": "yes"}, {}),
    ("I'd like one that does not need to have free parking.", "hotel", None, {"parking": "no"}, {}),
    ("Somewhere to eat that serves north indian food in the centre.", None, "restaurant",
     {"food": "north indian", "area": "centre"}, {}),
    ("Could you book it for a party of 5 on thursday at 5:30 pm?", "restaurant", None, {},
     {"people": 5, "day": "thursday", "time": "17:30"}),
    ("A train from cambridge to london kings cross arriving by 17:45 on monday.", None, "train",
     {"departure": "cambridge", "destination": "london kings cross", "arriveby": "17:45", "day": "monday"}, {}),
    ("I also need a taxi from the hotel to pizza express fen ditton, leaving at 13:45.", "hotel", "taxi",
     {"departure": "@hotel", "destination": "pizza express fen ditton", "leaveat": "13:45"}, {}),
    ("I'd like a restaurant called meze bar restaurant.", None, "restaurant", {"name": "meze bar"}, {}),  # as listed
    ("A restaurant called ask, please.", None, "restaurant", {"name": "ask"}, {}),  # unknown: the search finds it
    ("I don't mind about the area.", "attraction", None, {"area": DONTCARE}, {}),
    ("A hotel rated zero stars, for three nights starting friday, for 2 people.", None, "hotel",
     {"type": "hotel", "stars": "0"}, {"stay": 3, "day": "friday", "people": 2}),
])
def test_it_reads_what_people_say(ontology, text, active, domain, values, book):
    read = understand(text, ontology, active)
    assert read.domain == domain
    assert read.values == values and read.book == book


def test_it_asks_what_it_was_asked(ontology):
    read = understand("Could you give me the phone number and whether they have internet?", ontology, "hotel")
    assert read.requests == ["phone", "internet"] and read.values == {}


@needs_test_data
def test_it_meets_the_agenda_users_goals_in_both_prompt_formats(toolbox, settings):
    """Built by the assembler like the oracle (a backend per dialogue); the CoALM text format and native tools."""
    goals = load_goals(TEST_DIR)[::25]
    checker = GoalChecker(toolbox)
    for prompt_format in ("coalm", "tools"):
        system = assemble(settings.model_copy(update={"format": prompt_format}), toolbox, name="rules",
                          max_steps=10, backend_for=RulesBackend.factory(toolbox))
        for goal in goals:
            transcript = Transcript(goal=goal)
            agent = system.agent(transcript)
            assert isinstance(agent.backend, RulesBackend) and system.backend is None
            for _event in run_dialogue(agent, AgendaUser(goal), transcript, max_turns=20):
                pass
            verdict = checker.check(goal, transcript)
            assert verdict.complete, (prompt_format, goal.id, verdict.summary())


@needs_test_data
def test_it_never_reads_the_goal(toolbox, settings):
    """The same user words in dialogues of two different goals: the same calls and the same replies."""
    goals = {g.id: g for g in load_goals(TEST_DIR)}
    words = ["I need a cheap restaurant in the centre that serves italian food.",
             "Please book it for 4 people on friday at 18:00.", "Could you give me the phone number?",
             "Thanks. I also need a taxi from the restaurant to the cambridge museum of technology, leaving at 20:00.",
             "That is all, goodbye."]
    system = assemble(settings, toolbox, name="rules", max_steps=10, backend_for=RulesBackend.factory(toolbox))
    seen = []
    for goal_id in ("mul2499", "sng0073"):
        transcript = Transcript(goal=goals[goal_id])
        for _event in run_dialogue(system.agent(transcript), Messages(words), transcript):
            pass
        calls = [(e.name, e.arguments) for e in transcript.events if isinstance(e, ToolCalled)]
        replies = [re.sub(r"\b[A-Z0-9]{8}\b", "REF", e.text) for e in transcript.events if isinstance(e, AgentSaid)]
        seen.append((calls, [re.sub(r"a \w+ \w+, contact", "a car, contact", r) for r in replies]))  # a random car
    assert seen[0] == seen[1] and seen[0][0][0] == ("FindRestaurant", {"pricerange": "cheap", "area": "centre",
                                                                          "food": "italian"})



def test_counts_and_no_match_name_what_was_asked_for_as_people_do():
    """Not "There are 23 attractions museum." or "there is no hotel hotel, without free wifi" (what "Watch a goal"
    showed on the generated goals)."""
    assert replies.how_many("attraction", 23, {"type": "museum", "area": "dontcare"}) == "There are 23 museums."
    assert replies.how_many("restaurant", 57, {"pricerange": "expensive"}) == "There are 57 expensive restaurants."
    assert replies.how_many("hotel", 9, {"type": "hotel", "internet": "yes"}) == "There are 9 hotels with free wifi."
    assert (replies.how_many("hotel", 29, {"parking": "yes", "internet": "yes"})
            == "There are 29 places to stay with free parking and with free wifi.")
    assert (replies.no_match("hotel", {"type": "hotel", "internet": "no", "area": "centre"})
            == "I am sorry, there is no hotel in the centre without free wifi. Would you like to try something else?")
    assert replies.no_match("attraction", {"area": "east", "type": "architecture"}).startswith(
        "I am sorry, there is no place of interesting architecture in the east.")
