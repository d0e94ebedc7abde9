"""The workbench tabs through their handlers: blind review with saved answers, arena turns and votes with real
agents and separate bookings, the admin-only results with adjudication and exports, and the header."""

from __future__ import annotations

import json
import random
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest

from app.assembly import assemble
from app.backends.scripted import ScriptedBackend
from app.settings import Settings
from app.ui.arena_tab import ArenaTab
from app.ui.header import without_paths
from app.ui.results_tab import ResultsTab
from app.ui.review_tab import FOR_OTHERS, ONLY_THIS, ReviewTab
from app.workbench.annotations import AnnotationStore
from app.workbench.arena import Arena
from app.workbench.arena_store import ArenaStore
from app.workbench.review_store import ReviewStore
from db.engine import make_engine
from tests.workbench_seed import GOOD, recorded_dialogue, replies

CHAT, BELIEF, CALLS, BOOKINGS, ITEM, PROGRESS, STATUS = range(7)


@pytest.fixture()
def store_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'workbench.sqlite3'}")
    yield engine
    engine.dispose()


@pytest.fixture()
def review(store_engine, toolbox) -> ReviewStore:
    store = ReviewStore(store_engine, raters_per_item=2)
    for number, system in enumerate(["good", "weak"]):
        transcript = recorded_dialogue(toolbox, system, number)
        store.enqueue(transcript.id, transcript.to_data(), dict(transcript.meta), "evaluate")
    return store


def like(index: int, liked: bool | str = True) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "x", "liked": liked})


def test_a_rater_goes_through_the_queue_blind_and_every_answer_is_kept(review: ReviewStore):
    tab = ReviewTab(review)
    assert tab.next("")[STATUS].startswith("Enter your name")
    shown = tab.next("cy")
    item, chat = shown[ITEM], shown[CHAT]
    assert item == "rec-good-0" and shown[PROGRESS].startswith("2 of 2 left for you")
    assert "good-model" not in json.dumps(chat) + shown[BELIEF]  # the system stays hidden
    assert "worth house" in shown[BELIEF] and "BookHotel" in shown[CALLS].to_string()
    assert shown[BOOKINGS]["reference"].str.fullmatch(r"[A-Z0-9]{8}").all()
    # Index 1 is the tool step that opens the first reply's bubble: the rating is about that reply.
    assert tab.rate_reply(item, "cy", like(1)) == "Saved: Like for reply 1."
    assert tab.rate_reply(item, "cy", like(1, "")) == "Taken back: your answer for reply 1."
    assert review.answers(item, "cy") == []
    assert tab.rate_reply(item, "cy", like(1)) == "Saved: Like for reply 1."
    # The control shows one choice per reply: a flag chosen after the like replaces it, as the page then shows.
    assert tab.rate_reply(item, "cy", like(1, "Made up information")).startswith("Saved: Made up information")
    assert tab.rate_reply(item, "cy", like(1, "Made up information")).startswith("Saved")  # Gradio's second send
    assert tab.rate_reply(item, "cy", like(0)) == "That message is not one of the agent's replies."
    missing = tab.submit(item, "cy", "yes", None)
    assert missing[STATUS].startswith("Please choose") and review.progress("cy").rated_by_rater == 0
    after = tab.submit(item, "cy", "yes", "4")
    assert after[STATUS].startswith("✅ Saved") and after[ITEM] == "rec-weak-1"
    mine = {(a.question, a.target): a.value for a in review.answers(item, "cy")}
    first, second = replies(review_transcript(review, item))
    assert mine == {("flag_made_up_information", first): "yes",
                    ("flag_wrong_api_call", first): "no", ("flag_ignored_the_user", first): "no",
                    ("task_completed", ""): "yes", ("naturalness", ""): "4"}
    assert second not in {target for _, target in mine}
    assert tab.next("cy")[ITEM] == "rec-weak-1"  # a reload shows the same open item
    tab.submit("rec-weak-1", "cy", "no", "2")
    # Both still need a second rater, someone else: the message and the progress line say the same thing (it
    # said "every dialogue has its raters" beside "2 still need raters").
    done = tab.next("cy")
    assert done[STATUS] == FOR_OTHERS.format(n=2) and done[ITEM] is None
    assert done[PROGRESS].endswith("2 rated by you still need other raters")


def test_next_dialogue_does_not_hand_back_the_item_left_unfinished(review: ReviewStore):
    tab = ReviewTab(review)
    first = tab.next("cy")[ITEM]
    second = tab.next("cy", first)[ITEM]  # Next dialogue on an unfinished item: another one (it was the same)
    assert second != first and second is not None
    assert tab.next("cy", second)[ITEM] == first  # the first is still cy's, to come back to
    tab.submit(first, "cy", "yes", "4")
    only = tab.next("cy", second)  # nothing else for cy: the unfinished one stays, and the page says why
    assert only[STATUS] == ONLY_THIS and isinstance(only[ITEM], type(gr.skip()))


def review_transcript(review: ReviewStore, item_id: str):
    from app.dialogue.transcript import Transcript

    return Transcript.from_data({**review.item(item_id).transcript, "meta": {}})


def test_live_chats_join_the_queue_only_when_shared(review: ReviewStore, toolbox):
    live = recorded_dialogue(toolbox, "good", 9)
    AnnotationStore(review.engine).save_transcript(live)
    tab = ReviewTab(review)
    assert tab.next("dee")[PROGRESS].startswith("2 of 2 left")  # every saved chat used to join
    live.meta["shared"] = True
    assert review.share(live) and tab.next("eve")[PROGRESS].startswith("3 of 3 left")


def test_a_broken_item_is_set_aside_and_the_rater_gets_the_next(review: ReviewStore, toolbox, store_engine, tmp_path):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.orm import Session

    from app.workbench.tables import ReviewItem
    from db.schema import DialogueRecord
    from tests.workbench_seed import malformed

    broken = malformed(recorded_dialogue(toolbox, "good", 7).to_data(), "gap") | {"id": "broken"}
    with Session(review.engine) as session, session.begin():  # stored by an older version, unchecked
        session.add(DialogueRecord(id="broken", data=broken, meta={"backend": "x"}))
        session.add(ReviewItem(id="broken", source="file", system="x", created_at=datetime.now(UTC) - timedelta(1)))
    tab = ReviewTab(review)
    for _ in range(2):  # "Next dialogue" again: still not the broken one
        assert tab.next("cy")[ITEM] == "rec-good-0"
    results = ResultsTab(review, ArenaStore(store_engine), "s3cret", tmp_path / "exports")
    assert "1 dialogue set aside (cannot be shown): broken: turn numbers" in results.show("s3cret")[0]


def arena_tab(toolbox, store_engine, outputs_a, outputs_b) -> ArenaTab:
    systems = [assemble(Settings(backend="scripted", format=fmt, model=name), toolbox, backend=ScriptedBackend(outputs),
                        name=name)
               for name, fmt, outputs in (("coalm-side", "coalm", outputs_a), ("tools-side", "tools", outputs_b))]
    saver = AnnotationStore(store_engine)
    return ArenaTab(lambda: Arena(systems, ArenaStore(store_engine), saver.save_transcript, random.Random(3)))


TOOLS_SIDE = [{"tool_calls": [{"name": "FindHotel", "arguments": {"area": "north", "pricerange": "cheap"}}]},
              "Worth House is cheap and in the north.",
              {"tool_calls": [{"name": "BookHotel", "arguments": {"name": "worth house", "day": "thursday",
                                                                  "people": 2, "stay": 2}}]},
              "Booked."]


def test_an_arena_turn_reaches_both_sides_each_with_its_own_booking(toolbox, store_engine):
    tab = arena_tab(toolbox, store_engine, GOOD, TOOLS_SIDE)
    match = tab.new_match()[6]
    for text in ("I need a cheap guesthouse in the north", "Book worth house for 2 people, 2 nights from thursday"):
        final = list(tab.send(text, match))[-1]
    chat_a, _belief_a, booked_a, chat_b, _belief_b, booked_b, match, _message, status = final
    assert status.startswith("Turn 2: which reply is better?")
    assert "coalm-side" not in json.dumps(chat_a + chat_b)
    references = {booked_a["reference"].item(), booked_b["reference"].item()}
    assert len(references) == 2  # two bookings, one per side
    a, b = match.sides
    assert {bk.reference for bk in toolbox.bookings(a.id)} | {bk.reference for bk in toolbox.bookings(b.id)} == \
        references
    assert tab.vote(match, "A is better", "eve", whole=False)[0] == ("✅ Vote saved for turn 2: **A is better**. "
                                                                     "Keep chatting, or start a new match.")
    replaced = tab.vote(match, "B is better", "eve", whole=False)[0]  # a re-vote on the same turn
    assert replaced.startswith("✅ Vote saved for turn 2: **B is better** (it replaces your earlier vote")
    assert tab.vote(match, "Tie", "eve", whole=True)[0].startswith("✅ Vote saved for the whole dialogue")
    votes = ArenaStore(store_engine).votes()
    assert [(v.winner, v.turn) for v in votes] == [("b", 1), ("tie", None)]  # one vote per voter and turn
    assert {votes[0].system_a, votes[0].system_b} == {"coalm-side", "tools-side"}
    assert AnnotationStore(store_engine).transcript(a.id).meta["source"] == "arena"


def test_arena_refuses_bad_input_and_votes_before_a_message(toolbox, store_engine):
    tab = arena_tab(toolbox, store_engine, GOOD, TOOLS_SIDE)
    match = tab.new_match()[6]
    assert tab.vote(match, "A is better", "eve", whole=False)[0].startswith("Send a message first")
    assert list(tab.send("   ", match))[-1][-1].startswith("⚠️ The message is empty")


def test_results_need_the_token_and_show_adjudicate_and_export(review: ReviewStore, store_engine, tmp_path):
    for rater, completed in (("ann", "yes"), ("bob", "no")):
        review.answer("rec-good-0", rater, {("task_completed", ""): completed, ("naturalness", ""): "4"})
    tab = ResultsTab(review, ArenaStore(store_engine), "s3cret", tmp_path / "exports")
    assert tab.show("nope")[0] == "Wrong admin token."
    shown = tab.show("s3cret")
    assert shown[0].startswith("4 answers on 1 dialogue · ")
    agreement = shown[1].set_index("question")
    assert agreement.loc["Task completed?", "units"] == 1
    assert agreement.loc["Task completed?", "note"] == "too few units: 1 of the 6 an interval needs"
    unit = shown[-1]["choices"][0][1]
    assert unit == "rec-good-0|task_completed|"
    saved = tab.adjudicate("s3cret", unit, "partly", "lead")
    assert saved[0].startswith("✅ Final label") and saved[-1]["choices"]  # saved: the results are refreshed
    failed = tab.adjudicate("s3cret", unit, "partly", " ")
    assert failed[0].startswith("Please enter the lead's name first") and failed[0].endswith("Nothing was saved.")
    # A failed save leaves the tables, the chosen answer and the dropdown's options as they were (they were reset).
    assert all(isinstance(value, type(gr.skip())) for value in failed[1:])
    labels = tab.show("s3cret")[8].set_index("question")
    assert labels.loc["task_completed", ["final", "by"]].tolist() == ["partly", "lead"]
    status, files = tab.export("s3cret")
    assert status.startswith("✅ Exported 9 tables")
    assert len(pd.read_csv(next(f for f in files if f.endswith("labels.csv")))) == 2
    assert Path(next(f for f in files if f.endswith("coalm_training.jsonl"))).exists()


def test_the_header_names_folders_not_server_paths():
    assert without_paths("**data:** local folder /work/wt/shared/multiwoz/db") == "**data:** local folder …/db"
    assert without_paths("uiuc-convai/CoALM-8B via http://host:8000/v1") == "uiuc-convai/CoALM-8B via " \
        "http://host:8000/v1"
