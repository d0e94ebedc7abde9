"""Find calls against a straightforward filter over the raw MultiWOZ JSON (the evaluator's semantics)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from sqlalchemy import update

from app.dialogue.events import Found, ToolError
from db.catalogue import Catalogue
from db.schema import domain_table
from domains import domain

RAW_KEYS = {"leaveat": "leaveAt", "arriveby": "arriveBy", "trainid": "trainID"}
FUZZY = {"name", "food", "departure", "destination"}
SEARCHABLE = {"hotel": "FindHotel", "restaurant": "FindRestaurant", "train": "FindTrain",
              "attraction": "FindAttraction"}


def to_minutes(hhmm: str) -> int:
    hour, minute = hhmm.split(":")
    return int(hour) * 60 + int(minute)


def reference_find(records: list[dict], constraints: dict[str, str]) -> list[dict]:
    """A deliberately plain filter written from the evaluator's description, sharing no code with the app."""
    found = []
    for record in records:
        for slot, value in constraints.items():
            if value in ("", "dontcare"):
                continue
            have = str(record[RAW_KEYS.get(slot, slot)]).strip().lower()
            have = "multiple sports" if have == "mutliple sports" else have
            if slot == "leaveat":
                ok = to_minutes(have) >= to_minutes(value)
            elif slot == "arriveby":
                ok = to_minutes(have) <= to_minutes(value)
            elif have == "?":
                ok = True
            elif slot in FUZZY:
                ok = fuzz.partial_ratio(value, have) >= 90
            else:
                ok = have == value
            if not ok:
                break
        else:
            found.append(record)
    return found


def key_of(domain_name: str, record: dict) -> str:
    if domain_name == "train":
        return f"{record['trainID']} {record['day']} {record['leaveAt']}"
    return record["name"]


def slot_values(records: list[dict], slot: str) -> list[str]:
    return sorted({str(r[RAW_KEYS.get(slot, slot)]).lower() for r in records} - {"?"})


def constraint_sets(domain_name: str, records: list[dict]) -> st.SearchStrategy[dict[str, str]]:
    options = {}
    for slot in domain(domain_name).searchable:
        if slot.kind == "time":
            value = st.integers(0, 24 * 60 + 59).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")
        elif slot.match == "fuzzy":
            known = slot_values(records, slot.name)
            # whole values, or a piece of one (what people type), kept to a readable fragment
            piece = st.tuples(st.sampled_from(known), st.integers(0, 5), st.integers(3, 12)).map(
                lambda t: t[0][t[1]:t[1] + t[2]].strip()).filter(bool)
            value = st.sampled_from(known) | piece
        elif slot.kind == "category":
            value = st.sampled_from(slot.allowed)
        else:
            value = st.sampled_from(slot_values(records, slot.name))
        options[slot.name] = value | st.just("dontcare")
    return st.fixed_dictionaries({}, optional=options)


def normalised(value: str) -> str:
    return " ".join(value.lower().split())


@pytest.mark.parametrize("domain_name", list(SEARCHABLE))
def test_find_matches_reference_filter(domain_name, db_toolbox, raw_records):
    records = raw_records[domain_name]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(constraint_sets(domain_name, records))
    def check(constraints):
        expected = reference_find(records, {k: normalised(v) for k, v in constraints.items()})
        found = db_toolbox.call(SEARCHABLE[domain_name], constraints, "find-test")
        assert isinstance(found, Found), found
        assert found.count == len(expected)
        every = db_toolbox.catalogue.find(domain(domain_name), {k: normalised(v) for k, v in constraints.items()
                                                             if v != "dontcare"}, limit=None)
        assert sorted(r["key"] for r in every.rows) == sorted(key_of(domain_name, r) for r in expected)
        shown = found.rows
        assert len(shown) == min(5, len(expected))
        assert all(set(r) >= {"key", "name" if domain_name != "train" else "trainid"} for r in shown)

    check()


def train_keys(toolbox, **constraints) -> list[str]:
    found = toolbox.call("FindTrain", constraints, "t")
    assert isinstance(found, Found), found
    return [r["key"] for r in toolbox.catalogue.find(domain("train"), outcome_constraints(constraints), None).rows]


def outcome_constraints(constraints):
    return {k: domain("train").slot(k).normalise(v) for k, v in constraints.items()}


def test_leaveat_includes_equal_time(db_toolbox):
    keys = train_keys(db_toolbox, departure="cambridge", destination="london kings cross", day="monday",
                      leaveat="05:00")
    assert keys[0] == "TR7075 monday 05:00"


def test_arriveby_past_midnight_compares_minutes(db_toolbox):
    late = dict(departure="london kings cross", destination="cambridge", day="monday")
    assert "TR2851 monday 23:17" in train_keys(db_toolbox, **late, arriveby="24:08")  # arrives exactly 24:08
    assert "TR2851 monday 23:17" not in train_keys(db_toolbox, **late, arriveby="24:07")
    assert "TR2851 monday 23:17" not in train_keys(db_toolbox, **late, arriveby="23:59")


@pytest.mark.parametrize(("spoken", "clock"), [("5pm", "17:00"), ("5:30 pm", "17:30"), ("17.30", "17:30"),
                                               ("1730", "17:30"), ("9:05", "09:05"), ("noon", "12:00"),
                                               ("12am", "00:00"), ("24:55", "24:55")])
def test_spoken_times_are_normalised(db_toolbox, spoken, clock):
    base = dict(departure="cambridge", destination="ely", day="friday")
    said = db_toolbox.call("FindTrain", {**base, "leaveat": spoken}, "t")
    assert isinstance(said, Found) and said == db_toolbox.call("FindTrain", {**base, "leaveat": clock}, "t"), said


@pytest.mark.parametrize("bad", ["after five", "5", "30:00", "17:60", "13pm", "", "tomorrow morning"])
def test_unreadable_times_are_refused_with_the_format(db_toolbox, bad):
    answer = db_toolbox.call("FindTrain", {"leaveat": bad}, "t")
    if bad == "":  # an empty value is "not given", as in the evaluator
        assert isinstance(answer, Found) and answer.count == 2828
    else:
        assert isinstance(answer, ToolError) and "HH:MM" in answer.message


def test_results_are_ordered_by_departure(db_toolbox):
    found = db_toolbox.call("FindTrain", {"departure": "cambridge", "day": "sunday", "leaveat": "20:00"}, "t")
    assert isinstance(found, Found), found
    times = [r["leaveat"] for r in found.rows]
    assert times == sorted(times) and times[0] >= "20:00"


def test_question_mark_matches_any_constraint(db_engine):
    # No searchable column holds "?" in the published data, so mark one attraction's area unknown.
    engine = db_engine
    table = domain_table(domain("attraction"))
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.key == "abbey pool and astroturf pitch").values(area="?"))
    catalogue = Catalogue(engine)
    for area in ("north", "south", "centre"):
        found = catalogue.find(domain("attraction"), {"area": area, "type": "swimmingpool"}, None)
        keys = [r["key"] for r in found.rows]
        assert "abbey pool and astroturf pitch" in keys


@pytest.mark.parametrize(("arguments", "same_as"), [
    ({"area": "center"}, {"area": "centre"}),
    ({"parking": "free"}, {"parking": "yes"}),
    ({"stars": 4}, {"stars": "4"}),
    ({"stars": "4 stars"}, {"stars": "4"}),
    ({"type": "guest house"}, {"type": "guesthouse"}),
    ({"area": "North", "name": "  ACORN  guest house "}, {"area": "north", "name": "acorn guest house"}),
    ({"pricerange": "don't care"}, {}),
])
def test_user_spellings_mean_the_same(db_toolbox, arguments, same_as):
    found = db_toolbox.call("FindHotel", arguments, "h")
    assert isinstance(found, Found) and found == db_toolbox.call("FindHotel", same_as, "h"), found


def test_stars_that_do_not_exist_find_nothing_rather_than_fail(db_toolbox):
    found = db_toolbox.call("FindHotel", {"stars": 5}, "h")
    assert isinstance(found, Found) and found.count == 0


def test_multiple_sports_is_found_despite_the_source_typo(db_toolbox):
    found = db_toolbox.call("FindAttraction", {"type": "sports"}, "a")
    assert isinstance(found, Found) and found.count == 1


@pytest.mark.parametrize("domain_name", ["restaurant", "hotel", "attraction"])
def test_a_name_given_exactly_is_the_first_row_shown(db_toolbox, raw_records, domain_name):
    """Names match fuzzily ("j restaurant" also matches twenty "... restaurant"s) and only the first rows are shown:
    the venue named exactly must be among them, first."""
    j_restaurant = db_toolbox.call("FindRestaurant", {"name": "j restaurant"}, "f")
    assert isinstance(j_restaurant, Found) and j_restaurant.count > 5 and j_restaurant.rows[0]["name"] == "j restaurant"
    for record in raw_records[domain_name]:
        name = normalised(record["name"])
        found = db_toolbox.call(SEARCHABLE[domain_name], {"name": name}, "f")
        assert isinstance(found, Found) and normalised(found.rows[0]["name"]) == name, (name, found.rows[:2])
