"""What every declared domain gets from its one declaration: a test per domain, so a sixth domain is checked too."""

from __future__ import annotations

from typing import Any

import pytest

from app.agent.formats.base import domains_sentence
from app.agent.parsing import parse_coalm
from app.dialogue.transcript import Booked, Found, Refused, Transcript
from app.evaluation.gold import gold_outputs
from app.evaluation.labels import app_key, label_key
from app.tools.toolbox import all_tools
from app.ui import view
from domains import all_domains
from domains.base import Domain, Slot
from tests.agent_helpers import run, scripted_agent

DOMAINS = pytest.mark.parametrize("declared", all_domains(), ids=lambda d: d.name)


def example(slot: Slot) -> Any:
    """A valid value of `slot`."""
    return {"day": "monday", "count": slot.low, "time": "12:00"}.get(slot.kind) or \
        (slot.allowed[0] if slot.allowed else "somewhere")


def booking_request(toolbox, declared: Domain) -> dict[str, Any]:
    """A booking of the domain's first row (or, with no search, of a trip), with valid booking slots."""
    named = {} if declared.find is None else toolbox.catalogue.find(declared, {}, 1).rows[0]
    required = {name: named.get(name, f"place {n}") for n, name in enumerate(declared.book_required)}
    optional: dict[str, Any] = {}
    if declared.find is None:  # a trip: one time is enough
        times = [n for n in declared.book_optional if declared.slot(n).kind == "time"]
        optional = {times[0]: "12:00"} if times else {}
    return {**required, **optional, **{slot.name: example(slot) for slot in declared.book_slots}}


@DOMAINS
def test_its_apis_are_derived(declared):
    tools = {tool.name: tool for tool in all_tools().values() if tool.domain is declared}
    assert set(tools) == {api for api in (declared.find_api, declared.book_api) if api}
    assert declared.find or declared.book  # a domain does something
    for tool in tools.values():
        spec = tool.json_schema()["function"]
        assert spec["description"] and set(spec["parameters"]["properties"]) == {s.name for s, _ in tool.params}
        assert all(slot.description for slot, _ in tool.params)
    assert declared.things in domains_sentence()


@DOMAINS
def test_its_table_is_imported_and_searchable(toolbox, declared):
    if declared.find is None:
        pytest.skip(f"{declared.name} has no search")
    found = toolbox.call(declared.find.api, {}, "contract")
    assert isinstance(found, Found) and found.count > 0 and found.rows[0]["key"]


@DOMAINS
def test_a_booking_is_booked_or_refused_and_shown(toolbox, declared):
    if declared.book is None:
        pytest.skip(f"{declared.name} takes no bookings")
    request = booking_request(toolbox, declared)
    agent, _ = scripted_agent(toolbox, [{"tool_calls": [{"name": declared.book.api, "arguments": request}]},
                                        "Done."], format_name="tools")
    transcript = Transcript()
    run(agent, transcript, "book it")
    outcome = transcript.calls()[0].result
    assert isinstance(outcome, Booked | Refused), outcome
    shown = view.bookings(transcript)
    assert len(shown) == 1 and "None" not in shown.iloc[0]["booked"] and shown.iloc[0]["domain"] == declared.name
    assert set(transcript.belief()) <= set(declared.belief_slots)


@DOMAINS
def test_its_belief_slots_map_to_the_label_names_and_back(declared):
    for key in declared.belief_slots:
        assert app_key(label_key(key)) == key


@DOMAINS
def test_the_oracle_reaches_a_full_gold_state_with_its_apis(declared):
    state = {label_key(key): str(example(declared.slot(key.split("-", 1)[1].removeprefix("book"))))
             for key in declared.belief_slots}
    parsed = parse_coalm(gold_outputs(state, {}, "Done.", "coalm")[0])
    assert not parsed.problems and {c.name for c in parsed.calls} <= {declared.find_api, declared.book_api}
    assert parsed.calls
