"""Goals generated from the database (for a machine without the MultiWOZ test goals): MultiWOZ's goal structure,
the same goals every time, labelled as generated, and each one reachable: the goal oracle meets every one of
them with the agenda user, and so does the rule-based system (the system "Watch a goal" shows on them); a system
that books the wrong venue does not."""

from __future__ import annotations

from collections import Counter

import pytest

from app.dialogue.goal_generator import GENERATED_GOALS, generate_goals
from app.settings import Settings
from app.simulation.checker import GoalChecker, venue_field
from app.simulation.cli import _system, simulate_one
from app.simulation.users.agenda import AgendaUser
from domains import domain

CHECKED = 40  # goals run through the oracle here (all 100 take about 15 s on this machine)


@pytest.fixture(scope="module")
def generated(toolbox):
    return generate_goals(toolbox.catalogue)


def test_generated_goals_have_multiwoz_structure_and_say_they_are_generated(generated, toolbox):
    assert len(generated) == GENERATED_GOALS and len({g.id for g in generated}) == GENERATED_GOALS
    assert all(g.generated and g.id.startswith("gen-") and g.message for g in generated)
    sizes = Counter(len(g.domains) for g in generated)
    assert set(sizes) == {1, 2, 3} and sizes[2] > sizes[1] > 0  # as in the test goals: mostly two domains
    assert {d.domain for g in generated for d in g.domains} == {"hotel", "restaurant", "attraction", "train", "taxi"}
    for goal in generated:
        assert goal.names.index("taxi") == len(goal.names) - 1 if "taxi" in goal.names else True  # trips last
        for part in goal.domains:
            assert part.reqt or part.books, goal  # every domain asks for something
            if venue_field(part.declared):
                found = toolbox.catalogue.find(domain(part.domain), part.constraints(), None)
                assert found.count > 0, goal  # the real constraints find a venue
                assert all(str(row.get(attribute, "?")) != "?" for row in found.rows for attribute in part.reqt)
            if part.fail_info:  # the first constraints find nothing, as MultiWOZ's fail_info does
                assert toolbox.catalogue.find(domain(part.domain), part.fail_info, None).count == 0, goal
            if part.fail_book:
                assert part.first_book != part.book
            if part.domain == "train" and part.book:
                assert "price" not in part.reqt  # as in the corpus: a booking says what the tickets cost


def test_the_same_database_gives_the_same_goals(generated, toolbox):
    assert generate_goals(toolbox.catalogue) == generated
    assert generate_goals(toolbox.catalogue, seed=7) != generated


@pytest.mark.parametrize(("system", "met"), [("oracle", CHECKED), ("rules", CHECKED), ("oracle-wrong-venue", None)])
def test_every_generated_goal_can_be_met_and_a_wrong_system_misses_them(generated, toolbox, raw_db_dir, tmp_path,
                                                                        system, met):
    settings = Settings(home=tmp_path, data_dir=raw_db_dir, backend="scripted")
    agent_for = _system(system, settings, toolbox, None).agent
    checker = GoalChecker(toolbox)
    results = [simulate_one(goal, 0, agent_for, AgendaUser, checker, toolbox, 20, {}) for goal in generated[:CHECKED]]
    complete = sum(result["verdict"]["complete"] for result in results)
    if met is not None:
        assert complete == met, [(r["verdict"]["goal"], r["verdict"]["domains"]) for r in results
                                 if not r["verdict"]["complete"]][:2]
    else:
        assert complete < CHECKED // 2  # only goals without a venue to get wrong (a taxi alone) pass


def test_a_taxi_to_another_venue_of_the_goals_domain_does_not_displace_the_venue(generated, toolbox, raw_db_dir,
                                                                                  tmp_path):
    """A generated taxi that names both its places may go to a venue of the goal's own domain (gen-008: a museum,
    then a taxi to camboats). "I have booked a taxi from bridge guest house to camboats" says where the taxi goes;
    the venue is still the one recommended, broughton house gallery (the checker took camboats, and failed 9 of
    the 100 generated goals that the rule-based system met)."""
    def to_a_venue_of_its_domain(goal) -> bool:
        taxi = next((p for p in goal.domains if p.domain == "taxi" and not p.trip), None)
        return taxi is not None and any(
            toolbox.catalogue.exact(domain(p.domain), {"name": str(taxi.info[end])})
            for p in goal.domains if venue_field(p.declared) == "name" for end in ("departure", "destination"))

    goals = [goal for goal in generated if to_a_venue_of_its_domain(goal)]
    assert {"gen-008", "gen-010", "gen-012"} <= {goal.id for goal in goals}
    settings = Settings(home=tmp_path, data_dir=raw_db_dir, backend="scripted")
    agent_for = _system("rules", settings, toolbox, None).agent
    checker = GoalChecker(toolbox)
    verdicts = [simulate_one(goal, 0, agent_for, AgendaUser, checker, toolbox, 20, {})["verdict"] for goal in goals]
    assert [v["goal"] for v in verdicts if not v["complete"]] == []
    museum = next(v for v in verdicts if v["goal"] == "gen-008")["domains"][0]
    assert museum["domain"] == "attraction" and museum["venue"] != "camboats"
