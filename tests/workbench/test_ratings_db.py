"""The rating store on each backend: what annotators save is read back and exported, also when saved at once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from app.workbench.annotations import AnnotationStore
from db.engine import make_engine

ANNOTATORS = 8


def test_ratings_round_trip_and_export(db_engine, tmp_path):
    store, dialogue = AnnotationStore(db_engine), f"d-{uuid.uuid4().hex}"
    store.save_dialogue(dialogue, {"turns": [{"user": "hi"}], "bookings": []}, {"model": "m"})
    store.save_dialogue(dialogue, {"turns": [{"user": "hi"}, {"user": "bye"}], "bookings": []}, {"model": "m"})
    store.rate_message(dialogue, 1, "Hello.", "like", "ann")
    store.rate_dialogue(dialogue, "partly", 4, "fine", "ann")
    ratings = store.ratings(dialogue)
    assert [r["feedback"] for r in ratings["messages"]] == ["like"]
    assert [(r["task_completed"], r["naturalness"]) for r in ratings["dialogue"]] == [("partly", 4)]
    files = store.export(tmp_path / "export")
    assert pd.read_csv(files.dialogues_csv)["turns"].tolist() == [2]  # only this test's dialogue, saved last
    assert sorted(pd.read_csv(files.ratings_csv)["kind"]) == ["dialogue", "message"]


def test_annotators_rating_at_once_lose_nothing(db_url):
    """Eight annotators, each on their own connection pool (as separate app processes are), rate at once."""
    dialogue, start = f"d-{uuid.uuid4().hex}", threading.Barrier(ANNOTATORS)
    engines = [make_engine(db_url) for _ in range(ANNOTATORS)]

    def rate(index: int) -> None:
        store = AnnotationStore(engines[index])
        start.wait()
        for turn in range(5):
            store.rate_message(dialogue, turn, f"reply {turn}", "like", f"ann{index}")
        store.rate_dialogue(dialogue, "yes", 1 + index % 5, "", f"ann{index}")

    with ThreadPoolExecutor(ANNOTATORS) as pool:
        list(pool.map(rate, range(ANNOTATORS)))
    ratings = AnnotationStore(engines[0]).ratings(dialogue)
    assert len(ratings["messages"]) == 5 * ANNOTATORS and len(ratings["dialogue"]) == ANNOTATORS
    for engine in engines:
        engine.dispose()


def test_sessions_saving_one_dialogue_at_once_all_succeed(db_url):
    """Eight processes' pools save the same new dialogue at once (each page saves after every turn): no key clash,
    no "database is locked", and the record holds one of the saves whole."""
    dialogue, start = f"d-{uuid.uuid4().hex}", threading.Barrier(ANNOTATORS)
    engines = [make_engine(db_url) for _ in range(ANNOTATORS)]

    def save(index: int) -> None:
        store = AnnotationStore(engines[index])
        start.wait()
        for turn in range(3):
            store.save_dialogue(dialogue, {"turns": [{"user": f"{index}-{turn}"}], "bookings": []}, {"by": index})

    with ThreadPoolExecutor(ANNOTATORS) as pool:
        list(pool.map(save, range(ANNOTATORS)))
    saved = AnnotationStore(engines[0]).transcript(dialogue)
    assert saved is not None
    for engine in engines:
        engine.dispose()
