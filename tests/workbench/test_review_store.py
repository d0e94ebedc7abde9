"""The review queue store: N raters per item, blind hand-out, progress, answers replaced not doubled,
adjudication, and many raters at once losing nothing (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.dialogue.transcript import Transcript, TurnFailed, UserSaid
from app.workbench.agreement import alpha
from app.workbench.questions import question
from app.workbench.review_store import ReviewStore
from app.workbench.tables import ReviewItem
from db.engine import make_engine
from db.schema import DialogueRecord

META = {"backend": "openai", "model": "uiuc-convai/CoALM-70B", "format": "coalm"}


def make_store(url: str, items: int, raters_per_item: int = 2) -> ReviewStore:
    store = ReviewStore(make_engine(url), raters_per_item=raters_per_item)
    for i in range(items):
        store.enqueue(f"dlg{i:03d}", {"id": f"dlg{i:03d}", "meta": META, "events": []}, META, source="evaluate")
    return store


def rate(store: ReviewStore, item_id: str, rater: str, completed: str = "yes", natural: str = "4") -> None:
    store.answer(item_id, rater, {("task_completed", ""): completed, ("naturalness", ""): natural,
                                  ("reply", "ev-7"): "like"})


@pytest.fixture()
def store(tmp_path) -> ReviewStore:
    return make_store(f"sqlite:///{tmp_path / 'review.sqlite3'}", items=3)


def test_each_item_goes_to_n_raters_and_never_twice_to_one(store: ReviewStore):
    seen: dict[str, list[str]] = {}
    for rater in ["ann", "bob", "cy", "dee"]:
        while (item := store.next_item(rater)) is not None:
            seen.setdefault(item.id, []).append(rater)
            rate(store, item.id, rater)
    assert {k: len(v) for k, v in seen.items()} == {"dlg000": 2, "dlg001": 2, "dlg002": 2}
    assert all(len(set(v)) == len(v) for v in seen.values())
    assert store.progress("dee").needing_raters == 0


def test_concurrent_raters_get_different_items_and_a_reload_gets_the_same_one(store: ReviewStore):
    first, second = store.next_item("ann"), store.next_item("bob")
    assert first.id == second.id  # two raters per item: both may hold it
    third = store.next_item("cy")
    assert third.id != first.id  # the first item is taken by two open claims
    assert store.next_item("ann").id == first.id  # reloading the page shows the item still open


def test_stale_claims_expire(store: ReviewStore):
    store.next_item("ann")
    store.next_item("bob")
    later = datetime.now(UTC) + timedelta(hours=1)
    assert store.next_item("cy", now=later).id == "dlg000"


def test_progress_says_what_is_left(store: ReviewStore):
    assert store.progress("ann").text() == "3 of 3 left for you · you rated 0 · 3 still need raters"
    rate(store, "dlg000", "ann")
    rate(store, "dlg000", "bob")
    rate(store, "dlg001", "bob")
    assert store.progress("ann").text() == "2 of 3 left for you · you rated 1 · 2 still need raters"


def test_the_system_is_recorded_for_results_but_not_in_the_rated_item(store: ReviewStore):
    assert store.systems()["dlg000"] == "openai uiuc-convai/CoALM-70B (coalm)"
    assert "meta" not in store.next_item("ann").transcript


def test_answering_again_replaces_and_bad_answers_save_nothing(store: ReviewStore):
    rate(store, "dlg000", "ann", natural="2")
    rate(store, "dlg000", "ann", natural="5")
    assert [a.value for a in store.answers() if a.question == "naturalness"] == ["5"]
    with pytest.raises(ValueError, match="Naturalness"):
        store.answer("dlg001", "ann", {("task_completed", ""): "yes", ("naturalness", ""): "7"})
    with pytest.raises(ValueError, match="name"):
        store.answer("dlg001", "  ", {("task_completed", ""): "yes"})
    assert {a.item_id for a in store.answers()} == {"dlg000"}


def test_enqueue_is_idempotent_and_a_reused_id_is_refused(store: ReviewStore):
    same = {"id": "dlg000", "meta": META, "events": []}
    assert not store.enqueue("dlg000", same, META, source="file")  # the very same dialogue again: no news
    with pytest.raises(ValueError, match="already taken by a different dialogue"):
        store.enqueue("dlg000", {"events": [{"kind": "user_said", "turn": 0, "text": "hi"}]}, META, source="file")


def test_only_shared_live_chats_with_a_finished_turn_join(store: ReviewStore, toolbox):
    from app.workbench.annotations import AnnotationStore
    from tests.workbench_seed import recorded_dialogue

    chats = AnnotationStore(store.engine)
    private, shared = recorded_dialogue(toolbox, "good", 1), recorded_dialogue(toolbox, "good", 2)
    shared.meta["shared"] = True
    stopped = Transcript(id="stopped", meta={**META, "shared": True})
    stopped.append(UserSaid(turn=0, text="hello"))
    stopped.append(TurnFailed(turn=0, message="Stopped."))
    for transcript in (private, shared, stopped):
        chats.save_transcript(transcript)
    assert store.enqueue_recorded() == 1 and store.enqueue_recorded() == 0
    assert set(store.systems()) == {"dlg000", "dlg001", "dlg002", shared.id}
    assert not store.share(private) and not store.share(stopped)  # not shared; no finished turn
    assert store.withdraw(shared.id) and shared.id not in store.systems()
    # A fork holds its parent's replies up to the fork (another system's, maybe): never one system's item.
    fork = shared.fork(shared.events[-1].id, id="a-fork")
    chats.save_transcript(fork)
    assert fork.meta["shared"] is True and not store.share(fork) and "a-fork" not in store.systems()


@pytest.mark.parametrize("how", ["booking", "belief", "gap", "duplicate"])
def test_an_item_that_cannot_be_shown_is_set_aside_and_the_rater_gets_the_next(tmp_path, toolbox, how):
    """Items stored before the queue checked what it takes in: the rater who is handed one gets the next item
    instead (it used to be the same broken item on every "Next dialogue" for 30 minutes)."""
    from tests.workbench_seed import malformed, recorded_dialogue

    store = make_store(f"sqlite:///{tmp_path / 'aside.sqlite3'}", items=0)
    good = recorded_dialogue(toolbox, "good", 100 + len(how))  # its own dialogue id: the session's rooms stay free
    bad = malformed(good.to_data(), how) | {"id": "bad"}
    with Session(store.engine) as session, session.begin():  # as an older version stored it, unchecked
        session.add(DialogueRecord(id="bad", data=bad, meta=META))
        session.add(ReviewItem(id="bad", source="file", system="openai m (coalm)",
                               created_at=datetime.now(UTC) - timedelta(days=1)))  # first in line
    store.enqueue(good.id, good.to_data(), META, "evaluate")
    assert store.next_item("ann").id == good.id
    assert store.next_item("ann").id == good.id  # and again: never the broken one
    assert list(store.set_aside_items()) == ["bad"]
    assert store.progress("ann").text().startswith("1 of 1 left") and store.progress("ann").set_aside == 1
    assert store.restore() == 1 and store.set_aside_items() == {}
    assert store.next_item("bob").id == good.id
    assert store.next_item("cy") is None  # the good item has its two raters; the bad one is checked again
    assert list(store.set_aside_items()) == ["bad"]


def test_a_lead_adjudicates_and_can_change_their_mind(store: ReviewStore):
    store.adjudicate("dlg000", "task_completed", "", "partly", "lead")
    store.adjudicate("dlg000", "task_completed", "", "no", "lead")
    assert store.adjudications() == {("dlg000", "task_completed", ""): "no"}
    with pytest.raises(ValueError):
        store.adjudicate("dlg000", "task_completed", "", "maybe", "lead")


def hammer(store: ReviewStore, raters: int) -> None:
    """`raters` threads at once, each taking items from the queue and rating them until none is left."""
    errors: list[BaseException] = []
    start = threading.Barrier(raters)

    def work(name: str) -> None:
        try:
            start.wait()
            while (item := store.next_item(name)) is not None:
                rate(store, item.id, name, completed=["yes", "no"][len(name) % 2], natural=str(1 + len(name) % 5))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"rater{'x' * i}",)) for i in range(raters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


def check_nothing_lost(store: ReviewStore, items: int, per_item: int) -> None:
    answers = store.answers()
    completed = [a for a in answers if a.question == "task_completed"]
    per = {}
    for a in completed:
        per.setdefault(a.item_id, set()).add(a.rater)
    # every item got exactly its raters (the last slot goes to one of the racing raters), each answer stored once
    assert len(per) == items and all(len(r) == per_item for r in per.values())
    assert len(answers) == 3 * len(completed)
    assert alpha(question("naturalness"), answers) is not None


def test_seven_raters_at_once_lose_nothing(empty_db_url):
    """On SQLite and on PostgreSQL (the `databases` fixture runs it on both; CI starts a cluster)."""
    store = make_store(empty_db_url, items=30, raters_per_item=3)
    try:
        hammer(store, raters=7)
        check_nothing_lost(store, items=30, per_item=3)
    finally:
        store.engine.dispose()
