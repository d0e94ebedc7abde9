"""Agreement statistics: alpha against hand-computed values, order independence, disputes, final labels."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.workbench.agreement import (
    Answer,
    agreement_table,
    alpha,
    disagreement,
    final_label,
    most_disputed,
    rater_counts,
    units,
)
from app.workbench.questions import question

TASK, NATURAL = question("task_completed"), question("naturalness")


def dialogue_answers(q: str, table: dict[str, list[str | None]]) -> list[Answer]:
    """table: rater -> one value per item (None = not rated)."""
    return [Answer(f"d{i}", rater, q, "", value) for rater, values in table.items()
            for i, value in enumerate(values) if value is not None]


def test_nominal_alpha_matches_the_hand_computed_value():
    # Values a:3, b:5 over 8 pairable answers; one unit disagrees. Do = 2/8, De = 2*3*5/(8*7): alpha = 8/15.
    answers = dialogue_answers("task_completed", {"ann": ["yes", "no", "yes", "no"], "bob": ["yes", "no", "no", "no"]})
    assert alpha(TASK, answers) == pytest.approx(1 - 0.25 / (30 / 56))


def test_ordinal_alpha_penalises_far_answers_more_than_near_ones():
    near = dialogue_answers("naturalness", {"ann": ["1", "3", "5", "2"], "bob": ["2", "3", "4", "2"]})
    far = dialogue_answers("naturalness", {"ann": ["1", "3", "5", "2"], "bob": ["5", "3", "1", "2"]})
    assert alpha(NATURAL, near) > 0.5 > alpha(NATURAL, far)
    assert alpha(NATURAL, dialogue_answers("naturalness", {"a": ["1", "4"], "b": ["1", "4"]})) == pytest.approx(1.0)


def test_alpha_is_undefined_without_pairs_or_without_variation():
    assert alpha(TASK, dialogue_answers("task_completed", {"ann": ["yes", "no"]})) is None
    assert alpha(TASK, dialogue_answers("task_completed", {"ann": ["yes", "yes"], "bob": ["yes", "yes"]})) is None


@given(st.randoms(use_true_random=False))
def test_numbers_do_not_depend_on_the_order_rows_come_back_in(rng: random.Random):
    answers = dialogue_answers("naturalness", {"ann": ["1", "3", "5", "2", None], "bob": ["2", "3", "4", "2", "1"],
                                               "cy": [None, "2", "5", "1", "1"]})
    shuffled = answers[:]
    rng.shuffle(shuffled)
    assert alpha(NATURAL, shuffled) == alpha(NATURAL, answers)
    assert agreement_table(shuffled).equals(agreement_table(answers))
    assert most_disputed(shuffled) == most_disputed(answers)


def test_a_raters_later_answer_replaces_the_earlier_one():
    answers = [Answer("d0", "ann", "task_completed", "", "no"), Answer("d0", "ann", "task_completed", "", "yes")]
    assert units(answers)[next(iter(units(answers)))] == {"ann": "yes"}


def test_most_disputed_puts_the_widest_split_first_and_skips_agreement():
    answers = dialogue_answers("naturalness", {"ann": ["1", "3", "5"], "bob": ["5", "3", "4"]})
    disputed = most_disputed(answers)
    assert [(u.item_id, round(score, 2)) for u, score, _ in disputed] == [("d0", 1.0), ("d2", 0.25)]
    assert disagreement(TASK, ["yes", "yes", "no"]) == pytest.approx(2 / 3)


def test_rater_counts_and_final_labels():
    answers = dialogue_answers("task_completed", {"ann": ["yes", "no"], "bob": ["yes", None]})
    answers.append(Answer("d0", "ann", "reply", "e3", "like"))
    counts = rater_counts(answers).set_index("rater")
    assert counts.loc["ann"].tolist() == [2, 3] and counts.loc["bob"].tolist() == [1, 1]
    assert final_label({"a": "yes", "b": "yes", "c": "no"}, None) == "yes"
    assert final_label({"a": "yes", "b": "no"}, None) is None
    assert final_label({"a": "yes", "b": "no"}, "partly") == "partly"


def test_every_alpha_comes_with_the_units_behind_it_and_few_units_get_no_interval():
    few = dialogue_answers("task_completed", {"ann": ["yes", "no", "yes"], "bob": ["yes", "no", "no"]})
    row = agreement_table(few).set_index("question").loc["Task completed?"]
    assert (row["units"], row["raters"], row["answers"]) == (3, 2, 6)
    assert row["alpha"] is not None and row["95% CI"] is None
    assert row["note"] == "too few units: 3 of the 6 an interval needs"
    many = dialogue_answers("task_completed", {"ann": ["yes", "no", "yes", "no", "yes", "no", "partly", "yes"],
                                               "bob": ["yes", "no", "no", "no", "yes", "no", "partly", "partly"]})
    row = agreement_table(many).set_index("question").loc["Task completed?"]
    low, high = (float(x) for x in row["95% CI"].split(" to "))
    assert row["units"] == 8 and row["note"] == "" and low < row["alpha"] <= high
    assert agreement_table(many).equals(agreement_table(list(reversed(many))))  # a fixed seed: the same each time
