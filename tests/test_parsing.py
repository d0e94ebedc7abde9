"""The output parser: tolerant of how models write calls, and it never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.parsing import Call, parse_calls, parse_coalm, parse_json_calls


@pytest.mark.parametrize(("text", "calls"), [
    ("Action: FindHotel(area='north', stars=4)", [Call("FindHotel", {"area": "north", "stars": 4})]),
    ('Action: FindHotel(area="north")', [Call("FindHotel", {"area": "north"})]),
    ("Action: FindHotel(area=north)", [Call("FindHotel", {"area": "north"})]),
    ("```python\nAction: FindHotel(area='east')\n```", [Call("FindHotel", {"area": "east"})]),
    ("Action: FindHotel(area='east'), FindTrain(day='monday')",
     [Call("FindHotel", {"area": "east"}), Call("FindTrain", {"day": "monday"})]),
    ("Action: [FindHotel(area='east')]", [Call("FindHotel", {"area": "east"})]),
    ("Action: I'll search. FindHotel(area='east') should do.", [Call("FindHotel", {"area": "east"})]),
    ("Action: FindHotel(area='east')\nAction: FindTrain(day='monday')",
     [Call("FindHotel", {"area": "east"}), Call("FindTrain", {"day": "monday"})]),
    ("FindHotel(area='east')", [Call("FindHotel", {"area": "east"})]),
    ("Action: functions.FindHotel(area='east')", [Call("FindHotel", {"area": "east"})]),
])
def test_calls_are_read_in_the_ways_models_write_them(text, calls):
    parsed = parse_coalm(text)
    assert parsed.calls == calls and parsed.problems == [] and parsed.reply is None


def test_thought_action_and_invented_observation():
    parsed = parse_coalm("Thought: look it up\nAction: FindHotel(area='north')\nObservation: {'count': 9}\n"
                         "System: I found 9 hotels")
    assert parsed.thought == "look it up" and parsed.calls == [Call("FindHotel", {"area": "north"})]
    assert parsed.reply is None  # everything after an invented observation is invented too


@pytest.mark.parametrize(("text", "reply"), [
    ("System: Which area would you like?", "Which area would you like?"),
    ("Which area would you like?", "Which area would you like?"),
    ("Thought: ask\nSystem: Which area?\nUser: north please", "Which area?"),
    ("Response: Which area?", "Which area?"),
])
def test_replies(text, reply):
    assert parse_coalm(text).reply == reply


@pytest.mark.parametrize(("text", "problem"), [
    ("Action: FindHotel(area='north'", "unbalanced parentheses"),
    ("Action: FindHotel('north')", "positional arguments"),
    ("Action: FindHotel(area=__import__('os').system('ls'))", "must be a plain value"),
    ("Action: FindHotel(**{'area': 'x'})", "**arguments"),
    ("Action: search for a hotel", "write it as ToolName(argument='value')"),
])
def test_unreadable_actions_become_problems(text, problem):
    parsed = parse_coalm(text)
    assert parsed.calls == [] and any(problem in p for p in parsed.problems), parsed


@pytest.mark.parametrize(("text", "calls", "reply"), [
    ('{"name": "FindHotel", "parameters": {"area": "north"}}', [Call("FindHotel", {"area": "north"})], None),
    ('<|python_tag|>{"name": "FindHotel", "arguments": "{\\"area\\": \\"x\\"}"}', [Call("FindHotel", {"area": "x"})],
     None),
    ('{"name": "A", "parameters": {}}; {"name": "B", "parameters": {}}', [Call("A", {}), Call("B", {})], None),
    ("[FindHotel(area='north')]", [Call("FindHotel", {"area": "north"})], None),
    ("Sure, which area?", [], "Sure, which area?"),
    ("[name] is in the centre.", [], "[name] is in the centre."),
    ('[{"name": "A", "parameters": {}}]', [Call("A", {})], None),
])
def test_json_tool_calls(text, calls, reply):
    parsed = parse_json_calls(text)
    assert parsed.calls == calls and parsed.reply == reply and not parsed.problems


def test_broken_json_call_is_a_problem():
    assert "not valid JSON" in parse_json_calls('{"name": "FindHotel", "parameters": {"area": ').problems[0]


FRAGMENTS = st.sampled_from(["Thought:", "Action:", "System:", "Observation:", "User:", "FindHotel(", ")", "(", "'",
                             '"', "area=", "north", ",", "\n", "```", "{", "}", "[", "]", "**", "=", " ", "\\",
                             '{"name": "X", "parameters": {', "<|python_tag|>", "lambda: 0", "1e999", "\x00"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), st.lists(FRAGMENTS, max_size=40).map("".join)))
def test_parsers_never_raise(text):
    for parser in (parse_coalm, parse_json_calls):
        parsed = parser(text)
        assert all(isinstance(c.name, str) and isinstance(c.arguments, dict) for c in parsed.calls)
        assert all(isinstance(p, str) for p in parsed.problems)
    calls, problems = parse_calls(text)
    assert isinstance(calls, list) and isinstance(problems, list)
