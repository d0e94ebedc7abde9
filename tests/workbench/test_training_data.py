"""Liked replies become CoALM-shaped training records (instruction / input / output), one per model step."""

from __future__ import annotations

import json

from app.dialogue.transcript import AgentSaid, Transcript
from app.workbench.review_store import ReviewStore
from app.workbench.training_data import write_training_data
from tests.agent.test_agent_dialogues import TRIP
from tests.agent_helpers import run, scripted_agent


def test_a_liked_reply_gives_its_action_and_response_steps(toolbox, tmp_path):
    agent, _ = scripted_agent(toolbox, TRIP[:4])
    transcript = Transcript(meta={"backend": "scripted", "format": "coalm"})
    run(agent, transcript, "I need a cheap guesthouse in the north")
    run(agent, transcript, "Book worth house for 2 people, 2 nights from thursday")
    first, second = [e for e in transcript.events if isinstance(e, AgentSaid)]
    store = ReviewStore(toolbox.catalogue.engine, raters_per_item=2)
    store.enqueue(transcript.id, transcript.to_data(), dict(transcript.meta), "live")
    for rater in ("ann", "bob"):
        store.answer(transcript.id, rater, {("reply", first.id): "like", ("reply", second.id): "dislike"})
    store.answer(transcript.id, "cy", {("reply", second.id): "like"})  # 2 of 3 dislike: not training data

    count = write_training_data(store, tmp_path / "train.jsonl").records
    records = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert count == len(records) == 2
    action, response = records
    assert "[BEGIN OF AVAILABLE TOOLS]" in action["instruction"]
    assert action["instruction"].endswith("[END OF CONVERSATION HISTORY]")
    assert action["input"] == "User: I need a cheap guesthouse in the north"
    assert action["output"] == ("Thought: The user wants a cheap guesthouse in the north.\n"
                                "Action: FindHotel(area='north', pricerange='cheap', type='guesthouse')")
    assert "[BEGIN OF AVAILABLE TOOLS]" not in response["instruction"]
    assert response["input"].startswith("User: I need a cheap guesthouse") and "Observation: {" in response["input"]
    assert response["output"] == f"System: {first.text}"
    assert {r["reply"] for r in records} == {first.id}

    store.adjudicate(transcript.id, "reply", second.id, "like", "lead")  # the lead overrules the majority
    assert write_training_data(store, tmp_path / "again.jsonl").records == 4

    from app.workbench.annotations import AnnotationStore  # a like in the chat tab counts as well

    chat = AnnotationStore(store.engine)
    chat.save_transcript(transcript)
    store.adjudicate(transcript.id, "reply", second.id, "dislike", "lead")
    assert write_training_data(store, tmp_path / "lead.jsonl").records == 2
    chat.rate_message(transcript.id, second.id, 1, second.text, "like", "dee")
    assert write_training_data(store, tmp_path / "lead.jsonl").records == 2  # the lead's label still wins
    live, _ = scripted_agent(toolbox, TRIP[:2])
    chatted = Transcript(meta={"backend": "scripted", "format": "coalm"})
    run(live, chatted, "I need a cheap guesthouse in the north")
    chat.save_transcript(chatted)  # never queued: liked in the chat tab only
    reply = next(e for e in chatted.events if isinstance(e, AgentSaid))
    chat.rate_message(chatted.id, reply.id, 0, reply.text, "like", "eve")
    assert write_training_data(store, tmp_path / "chat.jsonl").records == 4


def test_a_liked_reply_in_a_broken_dialogue_is_left_out_not_fatal(toolbox, tmp_path):
    """A dialogue stored before imports were checked, whose Find names an unknown domain: its liked reply broke
    the admin export for everyone (KeyError); now it is left out and named, and the rest is written."""
    from sqlalchemy.orm import Session

    from app.workbench.tables import ReviewItem
    from db.engine import make_engine
    from db.schema import DialogueRecord
    from tests.workbench_seed import malformed, recorded_dialogue

    store = ReviewStore(make_engine(f"sqlite:///{tmp_path / 'training.sqlite3'}"), raters_per_item=1)
    good = recorded_dialogue(toolbox, "good", 40)
    good.id = "training-good"
    broken = malformed(good.to_data(), "found") | {"id": "training-broken"}
    store.enqueue(good.id, good.to_data(), dict(good.meta), "evaluate")
    with Session(store.engine) as session, session.begin():
        session.add(DialogueRecord(id="training-broken", data=broken, meta=dict(good.meta)))
        session.add(ReviewItem(id="training-broken", source="file", system="scripted good-model (coalm)"))
    first = next(e for e in good.events if isinstance(e, AgentSaid))
    for item in (good.id, "training-broken"):
        store.answer(item, "ann", {("reply", first.id): "like"})
    written = write_training_data(store, tmp_path / "train.jsonl")
    assert written.records == 2 and list(written.skipped) == ["training-broken"]
    assert "unknown domain 'spaceship'" in written.skipped["training-broken"]
