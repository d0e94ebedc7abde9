"""Run an agent over test dialogues (gold history, one agent turn per user turn); scoring is in scoring.py."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from app.agent.agent import Agent
from app.dialogue.session import run_dialogue
from app.dialogue.transcript import CallWithAnswer, ToolError, Transcript
from app.evaluation.data import TestDialogue
from app.evaluation.delex import active_domains, api_values, delexicalise
from app.evaluation.labels import mwzeval_state
from app.evaluation.replay import CorpusReplay
from app.evaluation.run_folder import RunFolder, Stopped, progress_bar, run_jobs

# Builds the agent for one test dialogue and its transcript (the oracle reads both; a model needs neither).
RESULTS = "results.jsonl"
TRANSCRIPTS = "transcripts.jsonl"
AgentFactory = Callable[[Transcript], Agent]  # the agent for one dialogue (SystemUnderTest.agent)


def evaluate_dialogue(test: TestDialogue, make_agent: AgentFactory, run_id: str,
                      stop: threading.Event | None = None) -> tuple[dict[str, Any], Transcript] | Stopped:
    """One test dialogue: for each user turn the agent sees the human history so far and answers once. Once `stop`
    is set the running turn ends and the dialogue is Stopped (not a result)."""
    # The corpus' goal goes in meta: `Transcript.goal` holds a typed Goal (goal-driven dialogues book in its world);
    # turn-level evaluation keeps the baseline rules, as its numbers always had.
    transcript = Transcript(id=f"eval-{test.id}-{run_id}", meta={"test_dialogue": test.id, "corpus_goal": test.goal})
    agent = make_agent(transcript)
    for _event in run_dialogue(agent, CorpusReplay(test), transcript, stop=stop):
        pass
    if stop is not None and stop.is_set():
        return Stopped(transcript)
    # A backend whose replies already hold placeholders (the oracle replies with the human's delexicalised text)
    # says so: delexicalising again would mark names the annotators left unmarked.
    placeholders = getattr(agent.backend, "writes_placeholders", False)
    return {"id": test.id, "turns": turn_records(transcript, delexicalised=placeholders)}, transcript


def turn_records(transcript: Transcript, delexicalised: bool = False) -> list[dict[str, Any]]:
    """Per turn what the evaluator scores: the delexicalised reply, the belief state, the active domains."""
    records: list[dict[str, Any]] = []
    active: list[str] = []
    seen: list[CallWithAnswer] = []
    for turn in transcript.turns():
        calls = [call for call in turn.calls() if call.answer]
        seen += calls
        active = active_domains(calls, turn.changed, active)
        reply = turn.reply.text if turn.reply else ""
        failure = turn.failure
        records.append({
            "response": reply if delexicalised else delexicalise(reply, api_values(seen)), "raw_response": reply,
            "belief": transcript.belief(at=turn.events[-1].id), "active": active,
            "status": "error" if turn.reply is None else turn.status, "error": failure.message if failure else None,
            "calls": [_call_record(call) for call in calls],
            "latency_ms": round((turn.events[-1].at - turn.events[0].at).total_seconds() * 1000, 2),
        })
    return records


def _call_record(call: CallWithAnswer) -> dict[str, Any]:
    result = call.result
    error = result.message if isinstance(result, ToolError) else None
    return {"name": call.called.name, "arguments": call.called.arguments, "ok": error is None, "error": error,
            "elapsed_ms": call.answer.elapsed_ms if call.answer else 0.0}


def run_all(tests: list[TestDialogue], make_agent: AgentFactory, folder: RunFolder, stop: threading.Event,
            workers: int = 1) -> int:
    """Append each finished dialogue to results.jsonl in the run's folder, and its transcript to transcripts.jsonl
    beside it; dialogues already in results.jsonl are skipped (resume). Returns how many finished now."""
    results = folder.path / RESULTS
    kept = read_results(results)
    results.write_text("".join(json.dumps(record) + "\n" for record in kept))  # drops a line cut by a crash
    done = {record["id"] for record in kept}
    _keep_transcripts(folder.path / TRANSCRIPTS, done)
    todo = [t for t in tests if t.id not in done]
    run_id = uuid.uuid4().hex[:8]
    with results.open("a") as out, (folder.path / TRANSCRIPTS).open("a", encoding="utf-8") as transcripts, \
            progress_bar(len(todo), "evaluating") as advance:

        def keep(finished: tuple[dict[str, Any], Transcript]) -> None:
            record, transcript = finished
            transcripts.write(transcript.to_json() + "\n")
            transcripts.flush()  # before the result line: a dialogue counted as done always has its transcript
            out.write(json.dumps(record) + "\n")
            out.flush()

        return run_jobs([partial(evaluate_dialogue, test, make_agent, run_id) for test in todo], keep, folder, stop,
                        workers, advance)


def _keep_transcripts(path: Path, done: set[str]) -> None:
    """Rewrite `path` with one transcript per finished dialogue: a line cut by a crash, and the transcript of a
    dialogue whose result line was never written (it runs again now), would otherwise stay beside the new ones."""
    if not path.exists():
        return
    kept: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        try:
            dialogue = json.loads(line).get("meta", {}).get("test_dialogue")
        except (json.JSONDecodeError, AttributeError):
            continue
        if dialogue is None or dialogue in done:
            kept[dialogue if dialogue is not None else f"line {number}"] = line  # the last one of a dialogue
    path.write_text("".join(line + "\n" for line in kept.values()), encoding="utf-8")


def read_results(results: Path) -> list[dict[str, Any]]:
    """The finished dialogues in a results file; a last line cut short by a crash is skipped."""
    records = []
    for line in results.read_text().splitlines() if results.exists() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def predictions(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The standard evaluator's input format (Tomiinek/MultiWOZ_Evaluation)."""
    return {r["id"]: [{"response": t["response"], "state": mwzeval_state(t["belief"]), "active_domains": t["active"]}
                      for t in r["turns"]] for r in records}
