"""The rating stores on each backend: one current answer per rater, item and question however the clicks arrive
(twice at once, eight raters changing their minds at once), text limits and NUL the same on SQLite and PostgreSQL,
and the tables made safely by several processes starting at once on an empty database."""

from __future__ import annotations

import json
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.workbench.annotations import MESSAGE_FEEDBACK, AnnotationStore
from app.workbench.arena_store import ArenaStore
from app.workbench.ranking import ranking
from app.workbench.review_store import ReviewStore
from db.engine import make_engine
from db.schema import DialogueRating, MessageRating

RATERS = 8
CLICKS = 100
REPLIES = [f"ev-{i}" for i in range(4)]
QUESTIONS = {"reply": ("like", "dislike"), "flag_made_up_information": ("no", "yes"),
             "task_completed": ("yes", "partly", "no"), "naturalness": ("1", "2", "3", "4", "5")}


def test_ratings_round_trip_and_export(db_engine, tmp_path):
    store, dialogue = AnnotationStore(db_engine), f"d-{uuid.uuid4().hex}"
    store.save_dialogue(dialogue, {"turns": [{"user": "hi"}], "bookings": []}, {"model": "m"})
    store.save_dialogue(dialogue, {"turns": [{"user": "hi"}, {"user": "bye"}], "bookings": []}, {"model": "m"})
    store.rate_message(dialogue, "ev-1", 1, "Hello.", "like", "ann")
    store.rate_dialogue(dialogue, "partly", 4, '=HYPERLINK("http://evil.example", "click")', "=2+3")
    ratings = store.ratings(dialogue)
    assert [r["feedback"] for r in ratings["messages"]] == ["like"]
    assert [(r["task_completed"], r["naturalness"]) for r in ratings["dialogue"]] == [("partly", 4)]
    files = store.export(tmp_path / "export")
    assert pd.read_csv(files.dialogues_csv)["turns"].tolist() == [2]  # only this test's dialogue, saved last
    exported = pd.read_csv(files.ratings_csv)
    assert sorted(exported["kind"]) == ["dialogue", "message"]
    # Cells a spreadsheet would run as formulas are text now (OWASP: a leading single quote).
    verdict = exported[exported.kind == "dialogue"].iloc[0]
    assert verdict["comment"] == "'=HYPERLINK(\"http://evil.example\", \"click\")" and verdict["annotator"] == "'=2+3"


def test_a_click_delivered_twice_at_once_stores_one_rating(db_url):
    """Gradio's flag menu sends every choice twice, a few milliseconds apart (its LikeDislike.svelte calls
    handle_action in toggleSelection and again after it): both arrive together and one row must come of them."""
    dialogue = f"d-{uuid.uuid4().hex}"
    engines = [make_engine(db_url) for _ in range(2 * RATERS)]
    start = threading.Barrier(2 * RATERS)

    def click(index: int) -> None:
        store = AnnotationStore(engines[index])
        start.wait()
        store.rate_message(dialogue, "ev-1", 0, "Booked.", "made up information", f"rater{index // 2}")

    with ThreadPoolExecutor(2 * RATERS) as pool:
        list(pool.map(click, range(2 * RATERS)))
    rows = AnnotationStore(engines[0]).ratings(dialogue)["messages"]
    assert sorted(r["annotator"] for r in rows) == [f"rater{i}" for i in range(RATERS)]
    for engine in engines:
        engine.dispose()


def clicks(rater: int) -> list[tuple[str, str, str, str | None]]:
    """A rater's seeded clicks, changing their mind often: (door, target, question, value); value None takes
    a chat rating back."""
    rng = random.Random(rater)
    made = []
    for _ in range(CLICKS):
        door = rng.choice(("chat", "chat-dialogue", "review", "arena"))
        if door == "chat":
            made.append((door, rng.choice(REPLIES), "feedback", rng.choice([*MESSAGE_FEEDBACK, None])))
        elif door == "chat-dialogue":
            made.append((door, "", "rating", f"{rng.choice(('yes', 'partly', 'no'))}|{rng.randint(1, 5)}"))
        elif door == "review":
            name = rng.choice(list(QUESTIONS))
            target = rng.choice(REPLIES) if name in ("reply", "flag_made_up_information") else ""
            made.append((door, target, name, rng.choice(QUESTIONS[name])))
        else:
            made.append((door, str(rng.choice((0, 1, 2, None))), "vote", rng.choice(("a", "b", "tie", "bothbad"))))
    return made


def test_eight_raters_clicking_at_once_keep_one_current_answer_each(db_url):
    """Eight raters, each on their own pool (as separate app processes are), 100 clicks each at once over the chat's
    reply and dialogue ratings, review answers and arena votes: exactly one current answer per rater, item and
    question (the last one each gave), and the ranking counts one vote per voter and turn."""
    dialogue, item, match = f"d-{uuid.uuid4().hex}", f"i-{uuid.uuid4().hex}", f"m-{uuid.uuid4().hex}"
    setup = make_engine(db_url)
    ReviewStore(setup).enqueue(item, {"events": []}, {"backend": "scripted", "format": "coalm"}, "file")
    ArenaStore(setup).record_match(match, "coalm", "tools", f"{match}-a", f"{match}-b")
    engines = [make_engine(db_url) for _ in range(RATERS)]
    start = threading.Barrier(RATERS)

    def rater(index: int) -> None:
        chat, review, arena = AnnotationStore(engines[index]), ReviewStore(engines[index]), ArenaStore(engines[index])
        name = f"rater{index}"
        start.wait()
        for door, target, question, value in clicks(index):
            if door == "chat":
                chat.rate_message(dialogue, target, 0, f"reply {target}", value or "", name)
            elif door == "chat-dialogue":
                completed, natural = value.split("|")
                chat.rate_dialogue(dialogue, completed, int(natural), "", name)  # type: ignore[arg-type]
            elif door == "review":
                review.answer(item, name, {(question, target): value})
            else:
                arena.vote(match, value, name, None if target == "None" else int(target))

    with ThreadPoolExecutor(RATERS) as pool:
        list(pool.map(rater, range(RATERS)))

    expected: dict[tuple[str, str, str, str], str | None] = {}  # (door, rater, target, question) -> last value
    for index in range(RATERS):
        for door, target, question, value in clicks(index):
            expected[door, f"rater{index}", target, question] = value
    with Session(setup) as session:
        chat_rows = [(r.annotator, r.event_id, r.feedback) for r in session.scalars(
            select(MessageRating).where(MessageRating.dialogue_id == dialogue))]
        verdicts = [(r.annotator, f"{r.task_completed}|{r.naturalness}") for r in session.scalars(
            select(DialogueRating).where(DialogueRating.dialogue_id == dialogue))]
    assert sorted(chat_rows) == sorted((rater, target, value) for (door, rater, target, _), value in expected.items()
                                       if door == "chat" and value is not None)
    assert sorted(verdicts) == sorted((rater, value) for (door, rater, _, _), value in expected.items()
                                      if door == "chat-dialogue")
    answers = ReviewStore(setup).answers(item)
    assert sorted((a.rater, a.target, a.question, a.value) for a in answers) == sorted(
        (rater, target, question, value) for (door, rater, target, question), value in expected.items()
        if door == "review")
    votes = ArenaStore(setup).votes()
    wanted = {(rater, target): value for (door, rater, target, _), value in expected.items() if door == "arena"}
    assert sorted((v.voter, str(v.turn), v.winner) for v in votes) == sorted((r, t, w) for (r, t), w in wanted.items())
    assert ranking(votes)[["votes"]].sum().item() == 2 * len(wanted)  # each vote counted once, for both systems
    for engine in [setup, *engines]:
        engine.dispose()


def test_text_limits_and_nul_are_handled_at_the_door_alike_on_both_databases(db_url):
    """PostgreSQL lost these ratings with DataError (NUL in text, names over 200 characters), or said "database
    is not reachable"; SQLite kept them. Now both keep NUL as U+FFFD and refuse an overlong name with a message."""
    engine = make_engine(db_url)
    chat, review, arena = AnnotationStore(engine), ReviewStore(engine), ArenaStore(engine)
    dialogue = f"d-{uuid.uuid4().hex}"
    chat.rate_message(dialogue, "ev-1", 0, "Booked\x00 it.", "like", "ann\x00")
    chat.rate_dialogue(dialogue, "yes", 5, "fine\x00 comment", "ann")
    ratings = chat.ratings(dialogue)
    message = ratings["messages"][0]
    assert message["message"] == "Booked\ufffd it." and message["annotator"] == "ann\ufffd"
    assert ratings["dialogue"][0]["comment"] == "fine\ufffd comment"
    for name in ("x" * 300, "y" * 201):
        with pytest.raises(ValueError, match="characters long; use at most 100"):
            chat.rate_message(dialogue, "ev-1", 0, "Booked.", "like", name)
        with pytest.raises(ValueError, match="characters long"):
            chat.rate_dialogue(dialogue, "yes", 5, "", name)
    review.enqueue("item-1", {"events": []}, {"backend": "scripted"}, "s" * 60)  # a long meta.source
    with pytest.raises(ValueError, match="characters long"):
        review.answer("item-1", "r" * 300, {("task_completed", ""): "yes"})
    with pytest.raises(ValueError, match="its id is 250 characters long"):
        review.enqueue("i" * 250, {"events": []}, {"backend": "scripted"}, "file")
    arena.record_match("m1", "coalm", "tools", "m1-a", "m1-b")
    with pytest.raises(ValueError, match="characters long"):
        arena.vote("m1", "a", "v" * 300)
    assert review.systems() == {"item-1": "scripted"}
    engine.dispose()


def test_tables_made_by_several_processes_at_once_on_an_empty_database(empty_db_url):
    """Six pools open the workbench at once on an empty database; on PostgreSQL two to five of them used to fail
    with a duplicate key in its catalogue (pg_type_typname_nsp_index)."""
    engines = [make_engine(empty_db_url) for _ in range(6)]
    start, errors = threading.Barrier(6), []

    def open_stores(index: int) -> None:
        start.wait()
        try:
            ReviewStore(engines[index])
            AnnotationStore(engines[index])
            ArenaStore(engines[index])
        except Exception as error:
            errors.append(f"{type(error).__name__}: {str(error)[:120]}")

    threads = [threading.Thread(target=open_stores, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for engine in engines:
        engine.dispose()


def test_an_older_store_keeps_its_latest_rating_per_annotator(tmp_path):
    """A store made when every click added a row (duplicates, no unique index) is brought up to date on opening:
    of the rows one annotator gave one reply, the latest stays."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE message_ratings (id INTEGER PRIMARY KEY, dialogue_id VARCHAR(200), "
                                "event_id VARCHAR(40), turn INTEGER, message TEXT, feedback VARCHAR(100), "
                                "annotator VARCHAR(200), created_at DATETIME)"))
        for feedback in ("like", "like", "dislike"):
            connection.execute(text("INSERT INTO message_ratings (dialogue_id, event_id, turn, message, feedback, "
                                    "annotator, created_at) VALUES ('d', 'e1', 0, 'Hi', :f, 'ann', '2026-01-01')"),
                               {"f": feedback})
    store = AnnotationStore(engine)
    assert [r["feedback"] for r in store.ratings("d")["messages"]] == ["dislike"]
    store.rate_message("d", "e1", 0, "Hi", "like", "ann")
    assert [r["feedback"] for r in store.ratings("d")["messages"]] == ["like"]
    json.dumps(store.ratings("d"), default=str)
    engine.dispose()
