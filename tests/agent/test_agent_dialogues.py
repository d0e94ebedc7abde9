"""Scripted multi-domain dialogues through the real loop, tools and database: events, belief, bookings."""

from __future__ import annotations

import re

from app.agent.agent import FALLBACK_REPLY
from app.dialogue.transcript import (
    ActionRejected,
    AgentSaid,
    Booked,
    Found,
    Refused,
    ReplyChunk,
    ToolAnswered,
    ToolError,
    Transcript,
)
from domains.values import WEEKDAYS
from tests.agent_helpers import kinds, run, scripted_agent, streamed

TRIP = [
    "Thought: The user wants a cheap guesthouse in the north.\n"
    "Action: FindHotel(area='north', pricerange='cheap', type='guesthouse')",
    "System: I have 2 cheap guesthouses in the north: City Centre North B and B and Worth House.",
    "Thought: Book Worth House.\nAction: BookHotel(name='worth house', day='thursday', people=2, stay=2)",
    "System: Done! Worth House is booked for 2 nights from Thursday.",
    "Action: FindTrain(departure='london kings cross', destination='cambridge', day='friday', leaveat='09:00')",
    "System: TR5686 leaves London Kings Cross at 09:17 and arrives at 10:08. Shall I book it?",
    "Action: BookTrain(trainid='TR5686', day='friday', people=2)",
    "System: Booked, the fare is 47.20 pounds.",
    "Thought: Taxi from the station to the hotel.\n"
    "Action: BookTaxi(departure='cambridge station', destination='worth house', leaveat='10:15')",
    "System: A taxi will pick you up at 10:15.",
]
HOTEL_BELIEF = {"hotel-area": "north", "hotel-pricerange": "cheap", "hotel-type": "guesthouse"}
HOTEL_BOOKED = {**HOTEL_BELIEF, "hotel-name": "worth house", "hotel-bookday": "thursday", "hotel-bookpeople": "2",
                "hotel-bookstay": "2"}
TRAIN = {"train-departure": "london kings cross", "train-destination": "cambridge", "train-day": "friday",
         "train-leaveat": "09:00"}
TAXI = {"taxi-departure": "cambridge station", "taxi-destination": "worth house", "taxi-leaveat": "10:15"}
CALL_TURN = ["UserSaid", "Thought", "ToolCalled", "ToolAnswered", "BeliefChanged", "ReplyChunk", "AgentSaid"]
NO_THOUGHT = [CALL_TURN[0], *CALL_TURN[2:]]


def test_hotel_then_train_then_taxi(toolbox):
    agent, backend = scripted_agent(toolbox, TRIP)
    dialogue = Transcript()
    expected = [
        ("I need a cheap guesthouse in the north", CALL_TURN, HOTEL_BELIEF),
        ("Book worth house for 2 people, 2 nights from thursday", CALL_TURN, HOTEL_BOOKED),
        ("I also need a train from london kings cross on friday after 9am", NO_THOUGHT, {**HOTEL_BOOKED, **TRAIN}),
        ("Yes, 2 seats please", NO_THOUGHT, {**HOTEL_BOOKED, **TRAIN, "train-bookpeople": "2"}),
        ("And a taxi from the station to the hotel at 10:15", CALL_TURN,
         {**HOTEL_BOOKED, **TRAIN, "train-bookpeople": "2", **TAXI}),
    ]
    for number, (user, event_kinds, belief) in enumerate(expected):
        events = run(agent, dialogue, user)
        assert kinds(events) == event_kinds, (number, kinds(events))
        finished = events[-1]
        assert isinstance(finished, AgentSaid) and finished.turn == number
        assert dialogue.belief() == belief
        assert streamed(events) == finished.text == dialogue.turns()[-1].reply.text
        stored = [e for e in events if not isinstance(e, ReplyChunk)]
        assert all(a is b for a, b in zip(stored, [e for e in dialogue.events if e.turn == number], strict=True))
    booked = toolbox.bookings(dialogue.id)
    assert [b.domain for b in booked] == ["hotel", "train", "taxi"]
    assert [b.reference for b in dialogue.bookings()] == [b.reference for b in booked]
    assert booked[1].details["trainid"] == "TR5686" and booked[1].details["price"] == "47.20 pounds"
    assert dialogue.turns()[-1].changed == ["taxi-departure", "taxi-destination", "taxi-leaveat"]
    # The response step saw the booking's real reference in its observation.
    assert f"'reference': '{booked[0].reference}'" in backend.requests[3].messages[0]["content"]
    assert Transcript.from_json(dialogue.to_json()) == dialogue


def refused_stay(toolbox) -> tuple[str, str, int]:
    """A hotel and day where 4 nights are refused but fewer are offered."""
    for hotel in toolbox.catalogue.vocabulary(*_hotel_name()):
        for day in WEEKDAYS:
            result = toolbox.call("BookHotel", {"name": hotel, "day": day, "people": 2, "stay": 4}, "probe")
            if isinstance(result, Refused) and (m := re.match(r"only (\d+) night", result.hint)):
                return hotel, day, int(m[1])
    raise AssertionError("no refusable stay found")


def _hotel_name():
    from domains import domain

    return domain("hotel"), domain("hotel").slot("name")


def test_refused_booking_and_recovery(toolbox):
    hotel, day, nights = refused_stay(toolbox)
    agent, backend = scripted_agent(toolbox, [
        f"Action: BookHotel(name='{hotel}', day='{day}', people=2, stay=4)",
        f"System: Sorry, {hotel} has no rooms for 4 nights; {nights} are available. Would that work?",
        f"Action: BookHotel(name='{hotel}', day='{day}', people=2, stay={nights})",
        "System: Booked.",
    ])
    dialogue = Transcript()
    first = run(agent, dialogue, f"Book {hotel} for 2 people, 4 nights from {day}")
    refusal = next(e for e in first if isinstance(e, ToolAnswered)).result
    assert isinstance(refusal, Refused) and refusal.summary().startswith("refused: ")
    assert dialogue.belief()["hotel-bookstay"] == "4" and toolbox.bookings(dialogue.id) == []
    assert "'status': 'refused'" in backend.requests[1].messages[0]["content"]
    second = run(agent, dialogue, f"OK, {nights} nights then")
    assert isinstance(next(e for e in second if isinstance(e, ToolAnswered)).result, Booked)
    assert dialogue.belief()["hotel-bookstay"] == str(nights) and dialogue.turns()[-1].changed == ["hotel-bookstay"]
    assert len(toolbox.bookings(dialogue.id)) == 1


def test_unknown_tool_and_missing_argument_are_observations_the_model_recovers_from(toolbox):
    agent, backend = scripted_agent(toolbox, [
        "Action: FindHotels(area='east')",
        "Action: BookHotel(name='cityroomz', day='monday', people=1)",
        "Action: BookHotel(name='cityroomz', day='monday', people=1, stay=1)",
        "System: Booked.",
    ])
    dialogue = Transcript()
    events = run(agent, dialogue, "book cityroomz for one night on monday")
    finished = [e.result for e in events if isinstance(e, ToolAnswered)]
    assert [type(f) for f in finished] == [ToolError, ToolError, Booked]
    assert "unknown tool 'FindHotels'" in finished[0].message
    assert "missing argument 'stay'" in finished[1].message
    # Each error reached the model in its next prompt, as an observation.
    assert "unknown tool 'FindHotels'" in backend.requests[1].messages[0]["content"]
    assert "missing argument 'stay'" in backend.requests[2].messages[0]["content"]
    assert events[-1].text == "Booked." and len(toolbox.bookings(dialogue.id)) == 1
    assert "hotel-area" not in dialogue.belief()  # a failed call changes no belief


def test_unreadable_action_is_shown_and_reported_to_the_model(toolbox):
    agent, backend = scripted_agent(toolbox, ["Action: FindHotel(area='east'", "System: Which area?"])
    dialogue = Transcript()
    events = run(agent, dialogue, "a hotel in the east")
    errors = [e for e in events if isinstance(e, ActionRejected)]
    assert errors and "unbalanced parentheses" in errors[0].message and errors[0].output.startswith("Action:")
    assert "unbalanced parentheses" in backend.requests[1].messages[0]["content"]
    assert events[-1].text == "Which area?" and dialogue.turns()[-1].status == "done"


def test_step_bound_gives_the_polite_fallback(toolbox):
    agent, _ = scripted_agent(toolbox, ["Action: FindHotel(area='east')"] * 3, max_steps=3)
    dialogue = Transcript()
    events = run(agent, dialogue, "hotels in the east?")
    assert events[-1].fallback and events[-1].text == FALLBACK_REPLY == streamed(events)
    assert dialogue.turns()[-1].status == "fallback" and len(dialogue.turns()[-1].calls()) == 3


def test_native_tool_calls_drive_the_same_loop(toolbox):
    agent, backend = scripted_agent(toolbox, [
        {"tool_calls": [{"name": "FindRestaurant", "arguments": '{"food": "italian", "area": "centre"}'}]},
        "There are several Italian restaurants in the centre.",
        {"tool_calls": [{"name": "BookRestaurant", "arguments": {"name": "pizza hut city centre", "day": "sunday",
                                                                   "people": 3, "time": "12:00"}}]},
        "Your table is booked.",
    ], format_name="tools")
    dialogue = Transcript()
    first = run(agent, dialogue, "italian food in the centre")
    assert kinds(first) == NO_THOUGHT
    assert dialogue.belief() == {"restaurant-food": "italian", "restaurant-area": "centre"}
    tool_message = backend.requests[1].messages[-1]
    assert tool_message["role"] == "tool" and '"count"' in tool_message["content"]
    assert backend.requests[0].tools and backend.requests[0].tools[0]["type"] == "function"
    run(agent, dialogue, "book pizza hut city centre for 3 at noon on sunday")
    assert dialogue.belief()["restaurant-booktime"] == "12:00"
    assert dialogue.belief()["restaurant-name"] == "pizza hut city centre"
    assert backend.requests[2].messages[1:3] == [{"role": "user", "content": "italian food in the centre"},
                                                 {"role": "assistant", "content": dialogue.turns()[0].reply.text}]


def test_dontcare_is_kept_in_the_belief_and_ignored_by_the_search(toolbox):
    agent, _ = scripted_agent(toolbox, ["Action: FindHotel(area=\"don't care\", stars=4)", "System: Many."])
    dialogue = Transcript()
    events = run(agent, dialogue, "any area, 4 stars")
    assert dialogue.belief() == {"hotel-area": "dontcare", "hotel-stars": "4"}
    found = next(e for e in events if isinstance(e, ToolAnswered)).result
    assert isinstance(found, Found) and found.count == 21


def test_forty_turn_dialogue_stays_within_the_prompt_budget(toolbox):
    outputs = []
    for turn in range(40):
        day, hour = WEEKDAYS[turn % 7], 8 + turn % 12
        outputs += [f"Action: FindTrain(departure='cambridge', day='{day}', leaveat='{hour}:00')",
                    f"System: Reply number {turn}: there are trains; " + "details " * 30]
    limit = 1500
    agent, backend = scripted_agent(toolbox, outputs, max_prompt_tokens=limit)
    dialogue = Transcript()
    for turn in range(40):
        events = run(agent, dialogue, f"message {turn}: a train please " + "really " * 20)
        assert isinstance(events[-1], AgentSaid) and not events[-1].fallback
    sizes = [backend.count_tokens(request) for request in backend.requests]
    assert max(sizes) <= limit
    last_prompt = backend.requests[-1].messages[0]["content"]
    assert "message 38:" in last_prompt and "message 0:" not in last_prompt  # oldest dropped, newest kept
    assert len(dialogue.turns()) == 40 and all(t.status == "done" for t in dialogue.turns())


def test_a_call_that_cannot_run_still_records_what_was_understood(toolbox):
    agent, _ = scripted_agent(toolbox, ["Action: BookHotel(name='cityroomz', day='monday', people='lots')",
                                        "System: How many people?"])
    dialogue = Transcript()
    run(agent, dialogue, "book cityroomz from monday")
    assert dialogue.belief() == {"hotel-name": "cityroomz", "hotel-bookday": "monday"}
    assert toolbox.bookings(dialogue.id) == []
