"""The results tables and exports, from stored answers and votes."""

from __future__ import annotations

import json

import pandas as pd

from app.workbench.arena_store import ArenaStore
from app.workbench.results import Results
from app.workbench.review_store import ReviewStore
from db.engine import make_engine

COALM = {"backend": "openai", "model": "CoALM-70B", "format": "coalm"}
TOOLS = {"backend": "openai", "model": "Llama-3.1-8B", "format": "tools"}


def build(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'results.sqlite3'}")
    review, arena = ReviewStore(engine, raters_per_item=2), ArenaStore(engine)
    judged = {"success": True, "domains": [{"domain": "hotel"}]}
    review.enqueue("c1", {"id": "c1"}, {**COALM, "goal_verdict": judged}, "evaluate")
    review.enqueue("t1", {"id": "t1"}, {**TOOLS, "goal_verdict": {"success": False, "goal": "SNG0073"}}, "evaluate")
    for rater, natural in (("ann", "5"), ("bob", "3")):
        review.answer("c1", rater, {("task_completed", ""): "yes", ("naturalness", ""): natural,
                                    ("reply", "e1"): "like", ("flag_made_up_information", "e1"): "no"})
    review.answer("t1", "ann", {("task_completed", ""): "no", ("naturalness", ""): "2", ("reply", "e9"): "dislike",
                                ("flag_wrong_api_call", "e9"): "yes"})
    review.adjudicate("c1", "naturalness", "", "4", "lead")
    arena.record_match("m1", "coalm", "tools", "m1-a", "m1-b")
    for turn, winner in ((0, "a"), (1, "a"), (2, "b"), (None, "tie")):
        arena.vote("m1", winner, "ann", turn)
    return review, arena


def test_tables_per_system_and_rater(tmp_path):
    results = Results.gather(*build(tmp_path))
    by_system = results.by_system.set_index("system")
    coalm = by_system.loc["openai CoALM-70B (coalm)"]
    # c1 was rated by two raters: one dialogue, two ratings (it read "2 dialogues")
    assert coalm[["dialogues", "ratings", "naturalness", "completed yes", "replies liked", "flags"]].tolist() == [
        1, 2, 4.0, "100%", "100%", 0]
    assert by_system.loc["openai Llama-3.1-8B (tools)", "flags"] == 1
    assert results.by_rater.set_index("rater").loc["ann", "dialogues"] == 2
    label = results.labels.set_index(["item", "question"]).loc[("c1", "naturalness")]
    assert (label["final"], label["by"]) == ("4", "lead")
    assert results.ranking["system"].tolist() == ["coalm", "tools"]  # one match: too few votes for strengths
    assert results.ranking["strength"].isna().all() and results.ranking["note"].str.startswith("too few").all()
    assert results.voters.iloc[0][["votes", "a", "b", "tie"]].tolist() == [4, 2, 1, 1]
    verdicts = results.verdicts.set_index("system")["success"]
    assert verdicts.to_dict() == {"openai CoALM-70B (coalm)": 1.0, "openai Llama-3.1-8B (tools)": 0.0}
    assert results.plot().axes[0].get_title().startswith("Arena")


def test_reloading_gives_the_same_numbers_and_exports_everything(tmp_path):
    review, arena = build(tmp_path)
    first, again = Results.gather(review, arena), Results.gather(review, arena)
    assert first.agreement.equals(again.agreement) and first.ranking.equals(again.ranking)
    files = {p.name: p for p in first.export(tmp_path / "out")}
    assert len(pd.read_csv(files["by_system.csv"])) == 2
    answers = [json.loads(line) for line in files["answers.jsonl"].read_text().splitlines()]
    assert len(answers) == 12 and {a["system"] for a in answers} == {"openai CoALM-70B (coalm)",
                                                                     "openai Llama-3.1-8B (tools)"}
    votes = [json.loads(line, parse_constant=refuse) for line in files["votes.jsonl"].read_text().splitlines()]
    assert [v["turn"] for v in votes] == [0, 1, 2, None]  # whole numbers, and null (not NaN) for the dialogue
    assert all(type(v["turn"]) is int for v in votes[:3])


def refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def test_csv_exports_neutralise_formulas(tmp_path):
    review, arena = build(tmp_path)
    review.answer("t1", "=2+3", {("task_completed", ""): "yes", ("naturalness", ""): "3"})
    files = {p.name: p for p in Results.gather(review, arena).export(tmp_path / "out")}
    raters = pd.read_csv(files["by_rater.csv"])["rater"].tolist()
    assert "'=2+3" in raters and "=2+3" not in raters


def test_nothing_rated_yet_gives_empty_tables(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    results = Results.gather(ReviewStore(engine), ArenaStore(engine))
    assert results.by_system.empty and results.ranking.empty and results.verdicts.empty
    assert results.agreement["alpha"].isna().all()
    results.plot()


def test_the_chat_tabs_own_ratings_count_too(tmp_path):
    from app.workbench.annotations import AnnotationStore

    review, arena = build(tmp_path)
    chat = AnnotationStore(review.engine)
    chat.save_dialogue("live1", {"id": "live1"}, {"backend": "scripted", "model": "trip", "format": "coalm"})
    chat.rate_message("live1", "ev-2", 0, "Done!", "like", "ann")
    chat.rate_message("live1", "ev-3", 1, "Booked.", "made up information", "ann")
    chat.rate_message("live1", "ev-2", 0, "Done!", "dislike", "bob")
    chat.rate_dialogue("live1", "partly", 3, "", "ann")
    chat.rate_dialogue("live1", "no", 2, "changed my mind", "ann")  # replaces ann's first rating
    results = Results.gather(review, arena)
    live = results.by_system.set_index("system").loc["scripted trip (coalm)"]
    assert live[["dialogues", "ratings", "naturalness", "no", "replies liked", "flags"]].tolist() == [
        1, 1, 2.0, "100%", "50%", 1]
