"""Goals from the test set, and the goal checker proven on the goal oracle, its wrong variants and tampering."""

from __future__ import annotations

import pytest

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.dialogue.goals import Goal, load_goals
from app.dialogue.session import Messages, run_dialogue
from app.dialogue.transcript import AgentSaid, Refused, ToolAnswered, Transcript
from app.settings import REPO_ROOT
from app.simulation.checker import GoalChecker
from app.simulation.oracle import GoalOracle
from app.simulation.users.agenda import AgendaUser
from app.simulation.users.alignment import alignment, conveyed
from domains import domain as find_domain
from domains.values import DONTCARE

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
pytestmark = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                reason="the MultiWOZ test files are not beside the repository")
SAMPLE = slice(0, None, 8)  # 125 of the 1,000 goals: every kind of goal, in a few seconds


@pytest.fixture(scope="module")
def goals() -> dict[str, Goal]:
    return {g.id: g for g in load_goals(TEST_DIR)}


@pytest.fixture(scope="module")
def checker(toolbox) -> GoalChecker:
    return GoalChecker(toolbox)


def play(goal: Goal, toolbox, mistake=None, user=None) -> Transcript:
    """One goal-driven dialogue through the real agent loop, parser and tools."""
    transcript = Transcript(goal=goal.model_dump(mode="json"))
    agent = Agent(GoalOracle(transcript, mistake), make_format("coalm", toolbox.tools), toolbox, Limits(max_steps=10))
    for _event in run_dialogue(agent, user or AgendaUser(goal), transcript, max_turns=20):
        pass
    return transcript


def test_every_test_goal_loads_in_the_domains_slot_names(goals):
    assert len(goals) == 1000
    for goal in goals.values():
        assert goal.domains and goal.message and goal.first_user_turn
        assert not any("<span" in sentence for sentence in goal.message)
        for part in goal.domains:
            declared = find_domain(part.domain)
            for slot, value in {**part.info, **part.fail_info, **part.book, **part.fail_book}.items():
                assert value == DONTCARE or declared.slot(slot).normalise(value) == value, (goal.id, slot, value)
            assert set(part.info) | set(part.fail_info) <= {s.name for s in declared.slots}
            assert set(part.book) | set(part.fail_book) <= {s.name for s in declared.book_slots}
        assert Goal.model_validate(goal.model_dump(mode="json")) == goal  # goals travel inside transcripts


def test_a_goal_with_fallbacks_reads_as_its_message_says(goals):
    goal = goals["mul2499"]
    assert goal.names == ("restaurant", "attraction", "taxi")  # the corpus' order; the trip after its venues
    restaurant, attraction, taxi = goal.domains
    assert restaurant.first_book == {"time": "18:30", "day": "thursday", "people": 8}  # "... at 18:30 on thursday"
    assert restaurant.book == {"time": "17:30", "day": "thursday", "people": 8}  # "If the booking fails ... 17:30"
    assert attraction.first_info == {"type": "entertainment", "area": "centre"}
    assert attraction.info["type"] == "architecture"
    assert taxi.books and taxi.info == {"arriveby": "17:30"} and taxi.reqt == ("car type", "phone")
    assert goal.first_user_turn.startswith("I am looking for a cheap restaurant")
    assert "If the booking fails how about 17:30" in goal.message


def test_corpus_values_the_slots_refuse_are_read_as_meant(goals):
    assert goals["mul0842"].domain("attraction").info["type"] == "multiple sports"  # "mutliple sports"
    assert goals["mul1139"].domain("taxi").info["leaveat"] == "24:30"  # past midnight, as the taxi slot allows


def test_the_oracle_with_the_agenda_user_meets_every_goal(goals, toolbox, checker):
    """In the goal's world (bookings fail and succeed as the goal says) every goal can be met, and the oracle meets
    each one, a first choice the goal expects to fail included."""
    sample = list(goals.values())[SAMPLE]
    for goal in sample:
        transcript = play(goal, toolbox)
        verdict = checker.check(goal, transcript, toolbox.bookings(transcript.id))
        assert alignment(goal, transcript) == 1.0  # the agenda user said every value of its goal
        assert verdict.complete, verdict.summary()
        refused = {e.result.domain for e in transcript.events
                   if isinstance(e, ToolAnswered) and isinstance(e.result, Refused)}
        assert refused == {part.domain for part in goal.domains if part.fail_book}, goal.id
    assert any(part.fail_book for goal in sample for part in goal.domains)


def test_an_oracle_offering_a_venue_that_breaks_the_constraints_fails(goals, toolbox, checker):
    with_venues = [g for g in list(goals.values())[SAMPLE] if any(p.declared.find_api for p in g.domains)]
    for goal in with_venues:
        transcript = play(goal, toolbox, mistake="venue")
        verdict = checker.check(goal, transcript, toolbox.bookings(transcript.id))
        assert not verdict.inform and not verdict.complete and not verdict.success, goal.id
        for part, judged in zip(goal.domains, verdict.domains, strict=True):
            if part.books and part.declared.find_api and judged.venue is not None:
                assert judged.booked is False  # the goal's slots at the wrong venue are no booking


def test_an_oracle_booking_the_wrong_day_fails(goals, toolbox, checker):
    with_day = [g for g in list(goals.values())[SAMPLE]
                if any("day" in p.info or "day" in p.book for p in g.domains)]
    assert len(with_day) > 80
    for goal in with_day:
        transcript = play(goal, toolbox, mistake="day")
        assert not checker.check(goal, transcript, toolbox.bookings(transcript.id)).complete, goal.id


def test_a_booking_the_goal_did_not_ask_for_fails_the_goal(goals, toolbox, checker):
    goal = goals["sng0073"]  # a taxi only
    transcript = play(goal, toolbox)
    assert checker.check(goal, transcript, toolbox.bookings(transcript.id)).complete
    toolbox.call("BookRestaurant", {"name": "eraina", "day": "monday", "people": 2, "time": "12:00"}, transcript.id)
    verdict = checker.check(goal, transcript, toolbox.bookings(transcript.id))
    assert verdict.extra_bookings and not verdict.complete and verdict.book is False


def test_an_attribute_or_reference_not_said_fails(goals, toolbox, checker):
    goal = goals["mul2499"]
    transcript = play(goal, toolbox)
    bookings = toolbox.bookings(transcript.id)
    assert checker.check(goal, transcript, bookings).complete
    quiet = transcript.model_copy(update={"events": [
        e.model_copy(update={"text": e.text.split(" The ")[0].split(" Booked")[0]}) if isinstance(e, AgentSaid) else e
        for e in transcript.events]})
    verdict = checker.check(goal, quiet, bookings)
    assert not verdict.success and not verdict.complete
    assert verdict.domains[0].requested["reference"] is False
    assert verdict.domains[2].requested == {"car type": False, "phone": False}  # a taxi's goal asks no reference


def test_a_number_counts_as_said_only_as_a_whole_value(goals, toolbox, checker):
    """Hotel stars 4 is not "said" by the 4 inside a train id (TR8143), a phone number or a reference."""
    goal = goals["pmul1812"]  # a train (the oracle names TR8143), then a hotel whose stars the user asks for
    transcript = play(goal, toolbox)
    bookings = toolbox.bookings(transcript.id)
    assert checker.check(goal, transcript, bookings).domains[1].requested["stars"]
    untold = transcript.model_copy(update={"events": [
        e.model_copy(update={"text": e.text.replace(" The stars is 4.", "")}) if isinstance(e, AgentSaid) else e
        for e in transcript.events]})
    assert "TR8143" in "".join(e.text for e in untold.events if isinstance(e, AgentSaid))
    verdict = checker.check(goal, untold, bookings)
    assert verdict.domains[1].requested["stars"] is False and not verdict.complete


def test_the_fallback_counts_only_after_the_first_choice_was_refused(goals, toolbox, checker):
    goal = goals["mul2499"]  # the restaurant at 18:30 is refused; 17:30 is the fallback
    transcript = play(goal, toolbox)
    bookings = toolbox.bookings(transcript.id)
    refusals = [e for e in transcript.events if isinstance(e, ToolAnswered) and isinstance(e.result, Refused)]
    assert [e.result.domain for e in refusals] == ["restaurant"]
    assert checker.check(goal, transcript, bookings).complete
    # The same dialogue without the refusal: the agent skipped the user's first choice.
    skipped = transcript.model_copy(update={"events": [e for e in transcript.events if e not in refusals]})
    verdict = checker.check(goal, skipped, bookings)
    assert verdict.domains[0].booked is False and "was never refused" in verdict.domains[0].problems[0]


def test_a_taxi_between_other_places_fails(goals, toolbox, checker):
    goal = goals["mul2499"]  # the taxi goes between the restaurant and the attraction
    transcript = play(goal, toolbox)
    bookings = toolbox.bookings(transcript.id)
    taxi = next(b for b in bookings if b.domain == "taxi")
    moved = [b if b.domain != "taxi" else type(b)(b.reference, b.domain, b.entity_key,
                                                    {**b.details, "destination": "kings college"}) for b in bookings]
    assert checker.check(goal, transcript, bookings).domains[2].booked
    verdict = checker.check(goal, transcript, moved)
    assert verdict.domains[2].booked is False and "destination" in verdict.domains[2].problems[0]
    assert taxi.details["arriveby"] == "17:30"


def test_alignment_sees_a_user_that_says_nothing_of_its_goal(goals, toolbox):
    goal = goals["mul2499"]
    transcript = play(goal, toolbox, user=Messages(["hello", "thanks"]))
    checked = conveyed(goal, transcript)
    assert checked and not any(checked.values()) and alignment(goal, transcript) == 0.0
