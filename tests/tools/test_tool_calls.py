"""The tool-call door: bad and hostile arguments get clear errors and change nothing; the JSON-lines CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.dialogue.events import Booked, Found, Refused, ToolError
from app.settings import REPO_ROOT
from app.tools.toolbox import all_tools
from db.engine import make_engine
from domains import all_domains
from tests.db.test_importer import row_counts, table_digest

HOSTILE = [
    "'; DROP TABLE hotel; --",
    "x' OR '1'='1",
    "a" * 10_000,
    "\x00\x01",
    "<script>alert(1)</script>",
    "🏨🏨🏨",
]


def snapshot(toolbox):
    return table_digest(toolbox.catalogue.engine)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("tool", ["FindHotel", "BookHotel", "FindTrain", "BookTaxi"])
def test_hostile_values_are_refused_and_change_nothing(db_toolbox, tool, value):
    before = snapshot(db_toolbox)
    slot = "name" if "Hotel" in tool else "departure"
    arguments = {"day": "monday", "people": 2, "stay": 1, "destination": "ely", "leaveat": "10:00"} \
        if tool.startswith("Book") else {}
    arguments = {k: v for k, v in arguments.items() if k in {s.name for s, _ in all_tools()[tool].params}}
    answer = db_toolbox.call(tool, {**arguments, slot: value}, "hostile")
    assert isinstance(answer, ToolError) and answer.message.startswith(f"{tool}: {slot}=")
    assert len(answer.message) < 400  # a 10,000-character value is not echoed back whole
    assert snapshot(db_toolbox) == before and db_toolbox.bookings("hostile") == []


def test_unicode_place_names_are_text_not_errors(db_toolbox):
    answer = db_toolbox.call("FindRestaurant", {"name": "café über"}, "u")
    assert isinstance(answer, Found) and answer.count == 0


@pytest.mark.parametrize(("tool", "arguments", "says"), [
    ("FindHotel", {"area": 5}, "choose one of: centre, north, south, east, west"),
    ("FindHotel", {"name": 42}, "must be text, not int"),
    ("FindHotel", {"colour": "red"}, "unknown argument 'colour' (FindHotel takes: area, pricerange"),
    ("FindTrain", {"day": "tomorrow"}, "use a weekday name: monday"),
    ("BookHotel", {"name": "cityroomz", "day": "monday", "people": 0, "stay": 1}, "allowed: 1 to 20"),
    ("BookHotel", {"name": "cityroomz", "day": "monday", "people": True, "stay": 1}, "whole number"),
    ("BookHotel", {"name": "cityroomz", "day": "monday", "people": 2.5, "stay": 1}, "whole number"),
    ("BookHotel", {"name": "cityroomz", "day": "monday", "stay": 1}, "missing argument 'people'"),
    ("BookHotel", {"name": "cityroomz", "day": "dontcare", "people": 1, "stay": 1}, "not a day"),
    ("BookRestaurant", {"name": "curry garden", "day": "monday", "people": 2, "time": "soon"}, "HH:MM"),
    ("FindTrain", ["cambridge"], "must be keyword arguments"),
    ("Teleport", {}, "unknown tool 'Teleport'; available: FindAttraction"),
])
def test_bad_arguments_say_what_is_allowed(db_toolbox, tool, arguments, says):
    answer = db_toolbox.call(tool, arguments, "bad")
    assert isinstance(answer, ToolError) and says in answer.message, answer


def test_people_written_as_words_or_digits(db_toolbox):
    base = {"name": "cityroomz", "day": "tuesday", "stay": 1}
    for people in ("two", "2", 2):
        answer = db_toolbox.call("BookHotel", {**base, "people": people}, f"words-{uuid.uuid4()}")
        assert isinstance(answer, Booked) and answer.details["people"] == 2, answer


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from([*all_tools(), "", "findhotel"]),
       arguments=st.dictionaries(st.sampled_from(["name", "area", "day", "people", "stay", "time", "leaveat",
                                                  "trainid", "departure", "x"]), json_values, max_size=5)
       | json_values)
def test_any_arguments_give_a_result_or_an_error_never_an_exception(db_toolbox, name, arguments):
    answer = db_toolbox.call(name, arguments, "fuzz")
    assert isinstance(answer, Found | Booked | Refused | ToolError), answer


def test_tool_specs_are_derived_from_declarations():
    tools = all_tools()
    assert set(tools) == {"FindHotel", "BookHotel", "FindRestaurant", "BookRestaurant", "FindTrain", "BookTrain",
                          "BookTaxi", "FindAttraction"}
    spec = tools["FindHotel"].json_schema()["function"]
    assert spec["parameters"]["properties"]["area"]["enum"] == ["centre", "north", "south", "east", "west"]
    assert spec["parameters"]["required"] == []
    assert tools["BookHotel"].json_schema()["function"]["parameters"]["required"] == ["name", "day", "people", "stay"]
    assert tools["BookTrain"].signature() == "BookTrain(trainid, day, departure, destination, leaveat, people)"
    belief = [slot for d in all_domains() for slot in d.belief_slots]
    assert len(belief) == 30 and "hotel-bookstay" in belief and "train-leaveat" in belief
    assert not any("trainid" in slot for slot in belief)


def run_cli(lines: list[str], env: dict[str, str]) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "app.tools"], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, cwd=REPO_ROOT, env={**os.environ, **env}, timeout=120, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_cli_answers_each_line_and_survives_bad_json(tmp_path, raw_db_dir, empty_db_url):
    env = {"WOZ_HOME": str(tmp_path), "WOZ_DATA_DIR": str(raw_db_dir), "WOZ_DB_URL": empty_db_url}
    replies = run_cli([
        json.dumps({"name": "FindTrain", "arguments": {"departure": "cambridge", "destination": "ely",
                                                       "day": "monday", "leaveat": "10:00"}, "dialogue_id": "d1"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"name": "BookTaxi", "arguments": {"departure": "ely", "destination": "cambridge",
                                                      "leaveat": "12:00"}, "dialogue_id": "d1"}),
        json.dumps({"name": "FindHotel", "arguments": {"stars": "six"}, "dialogue_id": "d1"}),
    ], env)
    assert [r["ok"] for r in replies] == [True, False, False, True, False]
    assert replies[0]["result"]["count"] > 0 and replies[0]["result"]["results"][0]["leaveat"] >= "10:00"
    assert replies[1]["error"].startswith("line 2: not a valid call")
    assert replies[3]["result"]["status"] == "booked"
    assert "choose one of" in replies[4]["error"]
    assert row_counts(make_engine(empty_db_url))["hotel"] == 33  # imported into the configured database
