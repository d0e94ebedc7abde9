"""The output parser: tolerant of how models write calls, and it never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.agent.formats.native import NativeToolsFormat
from app.agent.parsing import MAX_CALLS_PER_STEP, MAX_PARSED_CHARS, Call, parse_calls, parse_coalm, parse_json_calls
from app.backends.base import ToolCallDelta


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


HOSTILE = {
    "4,000-digit number": "Action: FindHotel(stars=" + "9" * 4000 + ")",
    "5,000-digit number": "Action: FindHotel(stars=" + "9" * 5000 + ")",
    "dict with tuple keys": "Action: FindHotel(area={(1, 2): 'north'})",
    "a set": "Action: FindHotel(area={'north'})",
    "f()() x 900": "Action: f" + "()" * 900,
    "f()() x 30,000": "Action: f" + "()" * 30_000,
    "( x 100,000": "Action: " + "(" * 100_000,
    "letters x 40,000": "Action: " + "a" * 40_000,
    "nested lists": "Action: FindHotel(area=" + "[" * 50 + "]" * 50 + ")",
}
HOSTILE_JSON = {
    "JSON nested 100,000 deep": '{"name": "FindHotel", "parameters": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "JSON 5,000-digit number": '{"name": "FindHotel", "parameters": {"stars": ' + "9" * 5000 + "}}",
    "JSON name a number": '{"name": 5, "parameters": {}}',
    "JSON parameters a list": '{"name": "FindHotel", "parameters": [1, 2]}',
    "JSON arguments text of a list": '{"name": "FindHotel", "arguments": "[1, 2]"}',
}


@pytest.mark.parametrize("name", [*HOSTILE, *HOSTILE_JSON])
def test_hostile_output_becomes_a_problem_not_an_exception(name):
    text = HOSTILE.get(name) or HOSTILE_JSON[name]
    parsed = (parse_coalm if name in HOSTILE else parse_json_calls)(text)
    assert parsed.calls == [] and parsed.problems and all(len(p) < 400 for p in parsed.problems), parsed.problems


@pytest.mark.parametrize(("name", "arguments"), [
    ("FindHotel", "[1, 2]"), ("FindHotel", "null"), ("FindHotel", '"north"'), ("FindHotel", [1, 2]),
    (5, {"area": "north"}), (None, "{}"), ("", "{}"),
])
def test_native_calls_that_are_not_a_name_and_an_object_are_problems(name, arguments):
    parsed = NativeToolsFormat({}).parse("", [ToolCallDelta(name, arguments)])
    assert parsed.calls == [] and len(parsed.problems) == 1


def test_native_call_arguments_may_be_an_object():
    native = [ToolCallDelta("FindHotel", {"area": "north", "stars": (4, 3)})]
    parsed = NativeToolsFormat({}).parse("let me look", native)
    assert parsed.calls == [Call("FindHotel", {"area": "north", "stars": [4, 3]})] and parsed.thought == "let me look"


def test_only_the_first_calls_of_an_output_are_run():
    parsed = parse_coalm("Action: " + ", ".join(f"BookTaxi(departure='a{n}', destination='b')" for n in range(300)))
    assert [c.arguments["departure"] for c in parsed.calls] == [f"a{n}" for n in range(MAX_CALLS_PER_STEP)]
    assert parsed.problems == [f"only the first {MAX_CALLS_PER_STEP} calls were run; make the others after seeing "
                               "their results"]


def test_output_beyond_the_cap_is_not_read():
    parsed = parse_coalm("Action: FindHotel(area='north')\n" + "Thought: more " * MAX_PARSED_CHARS)
    assert parsed.calls == [Call("FindHotel", {"area": "north"})]
    assert any("longer than" in p for p in parsed.problems) and len(parsed.discarded) > MAX_PARSED_CHARS // 2


@pytest.mark.parametrize(("text", "reply", "calls", "discarded"), [
    ("Thought: done\nObservation: {'status': 'booked'}\nSystem: Booked! Your reference is FAKE0001", None, [],
     "Observation: {'status': 'booked'}\nSystem: Booked! Your reference is FAKE0001"),
    ("System: Sure, let me book that.\nAction: BookHotel(name='acorn guest house')", "Sure, let me book that.", [],
     "Action: BookHotel(name='acorn guest house')"),
    ("Action: FindHotel(area='north')\nSystem: I found 9 hotels", None, [Call("FindHotel", {"area": "north"})],
     "System: I found 9 hotels"),
    ("System: Which area?\nUser: north\nSystem: Great", "Which area?", [], "User: north\nSystem: Great"),
    ("Thought: a\nThought: b\nSystem: Hi", "Hi", [], ""),
])
def test_a_step_ends_where_the_streamer_stops(text, reply, calls, discarded):
    parsed = parse_coalm(text)
    assert (parsed.reply, parsed.calls, parsed.discarded) == (reply, calls, discarded)


HUGE = st.builds(lambda part, times: part * times, FRAGMENTS | st.text(max_size=5), st.integers(1, 5000))


@settings(max_examples=150, deadline=None)
@given(st.lists(HUGE | FRAGMENTS, max_size=6).map("".join))
def test_parsers_never_raise_on_long_repetitive_output(text):
    for parse in (parse_coalm, parse_json_calls):
        parsed = parse(text)
        assert len(parsed.calls) <= MAX_CALLS_PER_STEP and all(isinstance(p, str) for p in parsed.problems)


@pytest.mark.parametrize("text", ["Action: os.path.FindHotel(area='east')", "Action: tools.x.FindHotel(area='east')",
                                  "Action: FindHotel.__call__(area='east')"])
def test_a_dotted_name_other_than_functions_runs_no_tool(text):
    parsed = parse_coalm(text)
    assert parsed.calls == [] and any("does not name a tool" in p for p in parsed.problems)
