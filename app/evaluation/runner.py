"""Run an agent over test dialogues (gold history, one agent turn per user turn); scoring is in scoring.py."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from app.agent import Agent
from app.dialogue import Dialogue
from app.evaluation.data import LabelVersion, TestDialogue
from app.evaluation.delex import active_domains, api_values, delexicalise
from app.evaluation.gold import GoldBackend
from app.evaluation.labels import mwzeval_state

AgentFactory = Callable[[], Agent]


def run_dialogue(test: TestDialogue, agent: Agent, labels: LabelVersion, run_id: str) -> dict[str, Any]:
    """One test dialogue: for each user turn the agent sees the human history so far and answers once."""
    dialogue = Dialogue(id=f"eval-{test.id}-{run_id}")
    records, active = [], []
    for turn in test.turns:
        if isinstance(agent.backend, GoldBackend):
            agent.backend.prepare(turn.states[labels], dialogue.belief, turn.system_delex, agent.format.name)
        started = time.perf_counter()
        for _event in agent.run_turn(dialogue, turn.user):
            pass
        latency_ms = (time.perf_counter() - started) * 1000
        done = dialogue.turns[-1]
        calls = done.calls
        active = active_domains(calls, done.changed, active)
        values = api_values([c for t in dialogue.turns for c in t.calls])
        # the oracle replies with the human's delexicalised text: delexicalising again would mark names the
        # annotators left unmarked, and the oracle would no longer reproduce the human reference
        response = done.response if isinstance(agent.backend, GoldBackend) else delexicalise(done.response, values)
        records.append({
            "response": response, "raw_response": done.response,
            "belief": dict(dialogue.belief), "active": active, "status": done.status, "error": done.error,
            "calls": [c.model_dump(include={"name", "arguments", "ok", "error", "elapsed_ms"}) for c in calls],
            "latency_ms": round(latency_ms, 2),
        })
        done.response, done.status, done.error = turn.system, "done", None  # the next turn sees the human reply
    return {"id": test.id, "turns": records}


def run_all(tests: list[TestDialogue], make_agent: AgentFactory, labels: LabelVersion, results: Path,
            workers: int = 1, progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None) -> None:
    """Append each finished dialogue to `results` (JSON lines); dialogues already there are skipped (resume)."""
    kept = read_results(results)
    results.write_text("".join(json.dumps(record) + "\n" for record in kept))  # drops a line cut by a crash
    done = {record["id"] for record in kept}
    todo = [t for t in tests if t.id not in done]
    run_id, lock = uuid.uuid4().hex[:8], threading.Lock()
    with ThreadPoolExecutor(max_workers=workers) as pool, results.open("a") as out:
        futures = [pool.submit(run_dialogue, test, make_agent(), labels, run_id) for test in todo]
        finished = as_completed(futures)
        for future in (progress(finished, len(futures)) if progress else finished):
            record = future.result()
            with lock:
                out.write(json.dumps(record) + "\n")
                out.flush()


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
