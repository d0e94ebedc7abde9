"""Every refusal hint is true when followed in the same dialogue, whatever that dialogue booked before."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.dialogue.events import Booked, Refused
from domains import domain
from domains.restaurant import NEARBY_STEPS
from domains.values import WEEKDAYS, minutes

HOTELS = ("acorn guest house", "cityroomz", "alexander bed and breakfast", "the lensfield hotel", "a and b guest house",
          "university arms hotel", "autumn house", "bridge guest house")
RESTAURANTS = ("j restaurant", "curry garden", "pizza hut city centre", "the gandhi", "nandos", "midsummer house")
hotel_requests = st.fixed_dictionaries({
    "name": st.sampled_from(HOTELS), "day": st.sampled_from(WEEKDAYS), "people": st.integers(1, 8),
    "stay": st.integers(1, 7)})
restaurant_requests = st.fixed_dictionaries({
    "name": st.sampled_from(RESTAURANTS), "day": st.sampled_from(WEEKDAYS[4:]), "people": st.integers(1, 12),
    "time": st.sampled_from(["12:00", "12:30", "18:00", "19:00", "19:30", "20:00"])})
CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def book(toolbox, tool: str, request: dict, dialogue: str) -> Booked | Refused:
    answer = toolbox.call(tool, request, dialogue)
    assert isinstance(answer, Booked | Refused), answer
    return answer


@CHECKS
@given(earlier=st.lists(hotel_requests, max_size=6), request=hotel_requests)
def test_hotel_hints_hold_for_the_same_stay(toolbox, earlier, request):
    dialogue = f"hints-{uuid.uuid4().hex}"
    for booking in earlier:  # what this dialogue booked before: the hint must account for it
        book(toolbox, "BookHotel", booking, dialogue)
    refused = book(toolbox, "BookHotel", request, dialogue)
    if isinstance(refused, Booked):
        return
    hint = refused.hint
    if match := re.fullmatch(r"only (\d+) nights? (?:is|are) available from (\w+)", hint):
        assert match[2] == request["day"]
        assert isinstance(book(toolbox, "BookHotel", {**request, "stay": int(match[1])}, dialogue), Booked)
    elif match := re.fullmatch(r"rooms are free from (\w+)", hint):
        followed = book(toolbox, "BookHotel", {**request, "day": match[1]}, dialogue)
        assert isinstance(followed, Booked) and followed.details["stay"] == request["stay"], (hint, followed)
    else:
        assert hint == "try another hotel"
        for day in set(WEEKDAYS) - {request["day"]}:  # no other start day fits the stay
            assert isinstance(book(toolbox, "BookHotel", {**request, "day": day}, dialogue), Refused)


@CHECKS
@given(earlier=st.lists(restaurant_requests, max_size=6), request=restaurant_requests)
def test_restaurant_hints_offer_times_that_book(toolbox, earlier, request):
    dialogue = f"hints-{uuid.uuid4().hex}"
    for booking in earlier:
        book(toolbox, "BookRestaurant", booking, dialogue)
    refused = book(toolbox, "BookRestaurant", request, dialogue)
    if isinstance(refused, Booked):
        return
    if refused.hint.startswith(prefix := f"free on {request['day']} at "):
        for time in refused.hint.removeprefix(prefix).split(", "):
            assert isinstance(book(toolbox, "BookRestaurant", {**request, "time": time}, dialogue), Booked)
    else:
        assert refused.hint == f"no table nearby on {request['day']}; try another day"
        start = minutes(request["time"])
        for step in NEARBY_STEPS:
            time = f"{(start + step) // 60:02d}:{(start + step) % 60:02d}"
            assert isinstance(book(toolbox, "BookRestaurant", {**request, "time": time}, dialogue), Refused)


@pytest.fixture(scope="module")
def trains(toolbox) -> list[dict]:
    return toolbox.catalogue.find(domain("train"), {}, None).rows


@CHECKS
@given(row=st.integers(0, 2827), earlier=st.lists(st.integers(1, 4), max_size=3), people=st.integers(1, 8))
def test_train_hints_say_how_many_seats_book(toolbox, trains, row, earlier, people):
    train = trains[row]
    request = {"trainid": train["trainid"], "day": train["day"], "leaveat": train["leaveat"],
               "departure": train["departure"]}
    dialogue = f"hints-{uuid.uuid4().hex}"
    for seats in earlier:
        book(toolbox, "BookTrain", {**request, "people": seats}, dialogue)
    refused = book(toolbox, "BookTrain", {**request, "people": people}, dialogue)
    if isinstance(refused, Booked):
        return
    if match := re.fullmatch(r"book at most (\d+) people on it or choose another train", refused.hint):
        assert isinstance(book(toolbox, "BookTrain", {**request, "people": int(match[1])}, dialogue), Booked)
    else:
        assert refused.hint == "choose another train (FindTrain lists them)"
        assert isinstance(book(toolbox, "BookTrain", {**request, "people": 1}, dialogue), Refused)
