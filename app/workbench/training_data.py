"""Liked replies as training data in CoALM's own shape: Alpaca records (instruction / input / output).

For each reply raters liked (the lead's label, else the majority), every model step of its turn becomes one
record, as in CoALM's training data: the action step's prompt (task, tools, format, history) and its output
(`Thought:` / `Action:` lines), then the response step's prompt (with the observations) and its `System:`
reply. The prompts are rebuilt by the CoALM format itself, so they are exactly what the model is shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.agent.formats.coalm import CoalmFormat
from app.agent.parsing import call_text
from app.dialogue.transcript import AgentSaid, Thought, ToolCalled, Transcript, TurnView
from app.tools.toolbox import all_tools
from app.workbench.agreement import final_label, units
from app.workbench.annotations import AnnotationStore
from app.workbench.results import chat_answers
from app.workbench.review_store import ReviewStore

HISTORY_END = "[END OF CONVERSATION HISTORY]"


def liked_replies(review: ReviewStore) -> list[tuple[str, str]]:
    """(dialogue, reply event id) of every reply whose final label is `like` (queue and chat ratings together),
    in a stable order."""
    adjudicated = review.adjudications()
    answers = [*chat_answers(review.engine), *review.answers()]
    return [(u.item_id, u.target) for u, by_rater in units(answers).items()
            if u.question == "reply" and final_label(by_rater, adjudicated.get((u.item_id, u.question, u.target)))
            == "like"]


def step_records(transcript: Transcript, reply_id: str, prompts: CoalmFormat) -> Iterator[dict[str, str]]:
    """The training records of one reply's turn: each model step's CoALM prompt and its output; none
    unless `reply_id` is a reply."""
    reply = transcript.event(reply_id)
    if not isinstance(reply, AgentSaid):
        return
    turns = transcript.turns()
    turn = turns[reply.turn]
    history = [t for t in turns if t.number < turn.number]
    steps = sorted({e.step for e in turn.events if e.step}) or [0]
    for step in steps:
        before = TurnView(turn.number, tuple(e for e in turn.events if e.step < step or not e.step))
        prompt = prompts.request(history, before, max_new_tokens=512).messages[0]["content"]
        output = _output([e for e in turn.events if e.step == step], reply)
        if output:
            instruction, _, rest = prompt.partition(HISTORY_END)
            yield {"instruction": (instruction + HISTORY_END).strip(), "input": rest.strip(), "output": output}


def _output(events: list[Any], reply: AgentSaid) -> str:
    lines = [f"Thought: {e.text}" for e in events if isinstance(e, Thought)]
    lines += [f"Action: {call_text(e.name, e.arguments)}" for e in events if isinstance(e, ToolCalled)]
    if any(e.id == reply.id for e in events) or (not events and not lines):
        lines.append(f"System: {reply.text}")
    return "\n".join(lines)


@dataclass(frozen=True)
class TrainingExport:
    """What an export of training data wrote: the records, and the liked replies left out with why."""

    records: int
    skipped: dict[str, str]  # dialogue id -> why its liked replies could not be written


def write_training_data(review: ReviewStore, path: Path) -> TrainingExport:
    """Write the records as JSONL. A dialogue that is not a sound transcript (stored before the queue checked
    what it takes in) is left out and named, instead of stopping the export."""
    prompts = CoalmFormat(all_tools())
    count, skipped = 0, {}
    path.parent.mkdir(parents=True, exist_ok=True)
    store = AnnotationStore(review.engine)
    with path.open("w", encoding="utf-8") as out:
        for item_id, reply_id in liked_replies(review):
            try:
                transcript = store.transcript(item_id)
                problems = transcript.problems() if transcript is not None else ["not in the store"]
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
                problems = [f"not a transcript: {str(error)[:200]}"]
            if problems or transcript is None:
                skipped[item_id] = "; ".join(problems)
                continue
            for record in step_records(transcript, reply_id, prompts):
                out.write(json.dumps({**record, "dialogue": item_id, "reply": reply_id}, ensure_ascii=False) + "\n")
                count += 1
    return TrainingExport(count, skipped)
