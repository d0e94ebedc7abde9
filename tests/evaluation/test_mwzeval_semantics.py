"""Inform / Success on hand-made dialogues, each answer worked out from mwzeval's code (metrics.py,
normalization.py, database.py at 7f19ee0): one case per divergence the project once had."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from app.evaluation import normalise
from app.evaluation.metrics import (
    GoalSpec,
    ScoredTurn,
    StateScores,
    SuccessRates,
    dialogue_success,
    estimate_active_domains,
)
from app.evaluation.venues import VenueDatabase, partial_ratio

COLUMNS = {"address": "x", "phone": "1", "postcode": "cb1", "type": "restaurant", "introduction": "", "location": []}
RESTAURANTS = [{**COLUMNS, "id": "1", "name": "alpha", "food": "british", "area": "centre", "pricerange": "cheap"},
               {**COLUMNS, "id": "2", "name": "bravo house", "food": "british", "area": "centre",
                "pricerange": "expensive"},
               {**COLUMNS, "id": "3", "name": "charlie", "food": "chinese", "area": "north", "pricerange": "cheap"}]
TRAIN = {"day": "monday", "departure": "cambridge", "destination": "ely", "price": "4", "duration": "30"}
TRAINS = [{**TRAIN, "trainID": "TR1", "leaveAt": "09:00", "arriveBy": "09:30"},
          {**TRAIN, "trainID": "TR2", "leaveAt": "11:00", "arriveBy": "11:30"}]
SIGHT = {"address": "x", "phone": "1", "postcode": "cb1", "pricerange": "?", "entrance fee": "?", "openhours": "?"}
ATTRACTIONS = [{**SIGHT, "id": "1", "name": "the junction", "type": "theatre", "area": "south"},
               {**SIGHT, "id": "2", "name": "kings hedges", "type": "multiple sports", "area": "north"}]


@pytest.fixture(scope="module")
def venues() -> VenueDatabase:
    return VenueDatabase.from_records({"restaurant": RESTAURANTS, "train": TRAINS, "attraction": ATTRACTIONS})


def turn(response, state, active=("restaurant",), booked=()):
    return ScoredTurn(normalise.response_tokens(response), normalise.state(state), tuple(active), frozenset(booked))


def goal(**domains):
    return GoalSpec.from_goal(domains)


CHEAP_BRITISH = {"info": {"food": "british", "pricerange": "cheap"}, "reqt": []}


def test_every_venue_matching_the_offer_must_be_a_goal_venue(venues):
    broad = turn("[name] is nice.", {"restaurant": {"food": "british"}})  # alpha and bravo house; only alpha fits
    assert dialogue_success(goal(restaurant=CHEAP_BRITISH), [broad], venues)[0]["restaurant"] is False
    exact = turn("[name] is nice.", {"restaurant": {"food": "british", "pricerange": "cheap"}})
    assert dialogue_success(goal(restaurant=CHEAP_BRITISH), [exact], venues)[0]["restaurant"] is True


def test_a_turn_whose_state_lacks_the_domain_offers_nothing(venues):
    train = {"info": {"day": "monday", "departure": "cambridge", "destination": "ely", "leaveAt": "10:00"}, "reqt": []}
    offer = turn("[trainid] leaves at [leaveat].", {}, active=("train",))
    assert dialogue_success(goal(train=train), [offer], venues)[0]["train"] is True  # unrequested: passes
    asked = {**train, "reqt": ["trainID"]}
    assert dialogue_success(goal(train=asked), [offer], venues)[0]["train"] is False
    assert dialogue_success(goal(restaurant=CHEAP_BRITISH), [turn("[name].", {})], venues)[0]["restaurant"] is False
    # leaveAt 10:00 matches only TR2 (leaves 11:00); TR1 (09:00) would fail the goal
    right = turn("[trainid].", {"train": {"leave at": "10:00", "day": "monday"}}, active=("train",))
    assert dialogue_success(goal(train=asked), [right], venues)[0]["train"] is True
    early = turn("[trainid].", {"train": {"day": "monday"}}, active=("train",))
    assert dialogue_success(goal(train=asked), [early], venues)[0]["train"] is False


def test_the_offered_set_changes_only_when_the_new_matches_do_not_cover_it(venues):
    first = turn("[name] is nice.", {"restaurant": {"food": "british", "pricerange": "cheap"}})  # {alpha}
    wider = turn("[name] again.", {"restaurant": {"area": "centre"}})  # {alpha, bravo}: covers {alpha}, kept
    assert dialogue_success(goal(restaurant=CHEAP_BRITISH), [first, wider], venues)[0]["restaurant"] is True
    other = turn("[name] instead.", {"restaurant": {"food": "chinese"}})  # {charlie}: replaces
    assert dialogue_success(goal(restaurant=CHEAP_BRITISH), [first, other], venues)[0]["restaurant"] is False


def test_placeholders_are_normalised_before_they_are_looked_for():
    text = normalise.response_tokens("[Restaurant_Name]s, [ref], [value_phone], [train_id]-s, [fee] [ticket] [post]")
    assert text == "NAME, REFERENCE, PHONE, TRAINID,   "  # unknown names ([fee], [ticket], [post]) vanish
    assert normalise.response_tokens("[entrancefee] [price] [value_place]es") == "PRICE PRICE PLACE"


def test_respelled_placeholders_count(venues):
    wanted = goal(restaurant={**CHEAP_BRITISH, "reqt": ["phone"], "book": {"people": "2"}})
    good = {"restaurant": {"food": "british", "pricerange": "cheap"}}
    turns = [turn("[restaurant_name] has [value_phone].", good), turn("Booked: [ref].", good, booked={"restaurant"})]
    assert dialogue_success(wanted, turns, venues) == ({"restaurant": True, "total": True},
                                                       {"restaurant": True, "total": True})
    early = [turn("[restaurant_name], [value_phone], [ref].", good)]  # a reference before the booking
    assert dialogue_success(wanted, early, venues)[1] == {"restaurant": False, "total": False}


def test_values_are_normalised_with_mwzevals_alias_tables(venues):
    english = turn("[name].", {"restaurant": {"food": "english", "pricerange": "cheap"}})  # english -> british
    assert dialogue_success(goal(restaurant=CHEAP_BRITISH), [english], venues)[0]["restaurant"] is True
    typo = goal(attraction={"info": {"type": "mutliple sports"}, "reqt": []})  # the goal's own typo
    offer = turn("[name].", {"attraction": {"type": "multiple sports"}}, active=("attraction",))
    assert dialogue_success(typo, [offer], venues)[0]["attraction"] is True


def test_the_junction_alias_follows_mwzeval_unless_corrected(venues):
    theatre = goal(attraction={"info": {"type": "theatre"}, "reqt": []})
    offer = turn("[name] it is.", {"attraction": {"name": "the junction"}}, active=("attraction",))
    assert dialogue_success(theatre, [offer], venues)[0]["attraction"] is False  # "junction theatre": no row
    fixed = VenueDatabase.from_records(venues.rows, corrected=True)
    offer = ScoredTurn(offer.response, normalise.state({"attraction": {"name": "the junction"}}, corrected=True),
                       offer.active, offer.booked)
    assert dialogue_success(theatre, [offer], fixed)[0]["attraction"] is True


def test_per_domain_success_needs_every_domain_informed_and_rates_have_one_decimal(venues):
    two = goal(restaurant={**CHEAP_BRITISH, "reqt": ["phone"]}, attraction={"info": {"type": "theatre"}, "reqt": []})
    turns = [turn("[name], phone [phone].", {"restaurant": {"food": "british", "pricerange": "cheap"}}),
             turn("[name] is fun.", {"attraction": {"area": "north"}}, active=("attraction",))]  # wrong attraction
    match, success = dialogue_success(two, turns, venues)
    assert match == {"restaurant": True, "attraction": False, "total": False} and success == {}
    rates = SuccessRates()
    rates.add(match, success)
    rates.add(*dialogue_success(two, turns[:1], venues))  # attraction never offered: fails too
    solo = goal(restaurant={**CHEAP_BRITISH, "reqt": ["phone"]})
    rates.add(*dialogue_success(solo, turns[:1], venues))
    assert rates.rate(rates.informed, "restaurant") == 100.0
    assert rates.rate(rates.succeeded, "restaurant") == 33.3  # 1 of 3: the others failed Inform elsewhere
    assert rates.rate(rates.succeeded) == 33.3 and rates.rate(rates.informed) == 33.3


def test_active_domains_are_estimated_from_state_changes_as_mwzeval_does():
    states = [{}, {"hotel": {"area": "north"}}, {"hotel": {"area": "north"}},
              {"hotel": {"area": "north"}, "train": {"day": "monday", "destination": "ely"}, "taxi": {"leave": "1"}},
              {"hotel": {"area": "north"}, "train": {"day": "monday", "destination": "ely"}, "taxi": {"leave": "1"}}]
    assert estimate_active_domains(states) == [(), ("hotel",), ("hotel",), ("train",), ("taxi",)]


@pytest.mark.parametrize(("convention", "jga", "recall"), [("value", 0.0, 50.0), ("mwzeval", 0.0, 100.0),
                                                          ("ignore", 100.0, 100.0)])
def test_dontcare_conventions(convention, jga, recall):
    scores = StateScores(dontcare=convention)
    scores.add({"hotel-area": "north", "hotel-parking": "dontcare"}, {"hotel-area": "north", "hotel-stars": "dontcare"})
    summary = scores.summary()
    assert (summary["jga"], summary["slot_recall"], summary["dontcare"]) == (jga, recall, convention)


def test_partial_ratio_is_fuzzywuzzys():
    # checked against fuzzywuzzy 0.18 + python-Levenshtein on every pair of database names and stations
    assert partial_ratio("the junction", "junction theatre") == 67  # rapidfuzz's best window says 80
    assert partial_ratio("christ college", "christ's college") == 86
    assert partial_ratio("fen ditton", "pizza hut fen ditton") == 100 and partial_ratio("", "ely") == 0


@given(st.text("abc de", max_size=12), st.text("abc de", max_size=12))
def test_partial_ratio_never_beats_the_best_window(first, second):
    assert partial_ratio(first, second) == partial_ratio(second, first) or len(first) == len(second)
    assert partial_ratio(first, second) <= round(fuzz.partial_ratio(first, second)) + 1 or first == second
