"""Run an agent over test dialogues (gold history, one agent turn per user turn) and score the results."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sacrebleu

from app.agent import Agent
from app.evaluation.data import LabelVersion, TestDialogue
from app.evaluation.delex import active_domains, api_values, delexicalise
from app.evaluation.labels import canonical_state, mwzeval_state
from app.evaluation.metrics import GoalSpec, StateScores, inform_success
from app.evaluation.replay import CorpusReplay
from app.session import run_dialogue
from app.tools import Toolbox
from app.transcript import Call, ToolError, Transcript
from domains import domain as find_domain
from domains.values import is_dontcare

# Builds the agent for one test dialogue and its transcript (the oracle reads both; a model needs neither).
TRANSCRIPTS = "transcripts.jsonl"
AgentFactory = Callable[[TestDialogue, Transcript], Agent]


def evaluate_dialogue(test: TestDialogue, make_agent: AgentFactory, run_id: str) -> tuple[dict[str, Any], Transcript]:
    """One test dialogue: for each user turn the agent sees the human history so far and answers once."""
    transcript = Transcript(id=f"eval-{test.id}-{run_id}", meta={"test_dialogue": test.id}, goal=test.goal)
    agent = make_agent(test, transcript)
    for _event in run_dialogue(agent, CorpusReplay(test), transcript):
        pass
    return {"id": test.id, "turns": turn_records(transcript)}, transcript


def turn_records(transcript: Transcript) -> list[dict[str, Any]]:
    """Per turn what the evaluator scores: the delexicalised reply, the belief state, the active domains."""
    records: list[dict[str, Any]] = []
    active: list[str] = []
    seen: list[Call] = []
    for turn in transcript.turns():
        calls = [call for call in turn.calls() if call.answer]
        seen += calls
        active = active_domains(calls, turn.changed, active)
        reply = turn.reply.text if turn.reply else ""
        failure = turn.failure
        records.append({
            "response": delexicalise(reply, api_values(seen)), "raw_response": reply,
            "belief": transcript.belief(at=turn.events[-1].id), "active": active,
            "status": "error" if turn.reply is None else turn.status, "error": failure.message if failure else None,
            "calls": [_call_record(call) for call in calls],
            "latency_ms": round((turn.events[-1].at - turn.events[0].at).total_seconds() * 1000, 2),
        })
    return records


def _call_record(call: Call) -> dict[str, Any]:
    result = call.result
    error = result.message if isinstance(result, ToolError) else None
    return {"name": call.called.name, "arguments": call.called.arguments, "ok": error is None, "error": error,
            "elapsed_ms": call.answer.elapsed_ms if call.answer else 0.0}


def run_all(tests: list[TestDialogue], make_agent: AgentFactory, results: Path, workers: int = 1,
            progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None) -> None:
    """Append each finished dialogue to `results` (JSON lines), and its transcript to `transcripts.jsonl` beside
    it; dialogues already in `results` are skipped (resume)."""
    kept = read_results(results)
    results.write_text("".join(json.dumps(record) + "\n" for record in kept))  # drops a line cut by a crash
    done = {record["id"] for record in kept}
    todo = [t for t in tests if t.id not in done]
    run_id, lock = uuid.uuid4().hex[:8], threading.Lock()
    with ThreadPoolExecutor(max_workers=workers) as pool, results.open("a") as out, \
            (results.parent / TRANSCRIPTS).open("a", encoding="utf-8") as transcripts:
        futures = [pool.submit(evaluate_dialogue, test, make_agent, run_id) for test in todo]
        finished = as_completed(futures)
        for future in (progress(finished, len(futures)) if progress else finished):
            record, transcript = future.result()
            with lock:
                transcripts.write(transcript.to_json() + "\n")
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


@dataclass
class VenueLookup:
    """Database matches for a domain's constraints, with the evaluator's semantics (via the Find query)."""

    toolbox: Toolbox

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}

    def __call__(self, domain_name: str, constraints: dict[str, Any]) -> list[str]:
        key = (domain_name, tuple(sorted((k, str(v)) for k, v in constraints.items())))
        if key not in self._cache:
            self._cache[key] = self._find(domain_name, constraints)
        return self._cache[key]

    def _find(self, domain_name: str, constraints: dict[str, Any]) -> list[str]:
        declared = find_domain(domain_name)
        searchable = {s.name: s for s in declared.searchable}
        given = {}
        for slot, value in constraints.items():
            if slot not in searchable or is_dontcare(value) or str(value).strip() in ("", "not mentioned"):
                continue
            try:
                given[slot] = searchable[slot].normalise(value)
            except ValueError:
                return []  # a value no row can have
        return [row["key"] for row in self.toolbox.catalogue.find(declared, given, None).rows]


def score(tests: dict[str, TestDialogue], records: list[dict[str, Any]], labels: LabelVersion,
          venues: VenueLookup) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics over all recorded dialogues, and one summary row per dialogue."""
    states = StateScores()
    informs: list[bool] = []
    successes: list[bool] = []
    domain_inform: dict[str, list[bool]] = {}
    domain_success: dict[str, list[bool]] = {}
    hypotheses, references, rows = [], [], []
    for record in records:
        test = tests[record["id"]]
        turns = []
        for gold, turn in zip(test.turns, record["turns"], strict=True):
            if labels in test.labelled:
                predicted = canonical_state(turn["belief"], keys_are_app_names=True)
                states.add(predicted, canonical_state(gold.states[labels]))
            turns.append({"response": turn["response"], "state": mwzeval_state(turn["belief"]),
                          "active": turn["active"], "booked": gold.booked})
            hypotheses.append(turn["response"])
            references.append(gold.system_delex)
        inform, success = inform_success(GoalSpec.from_goal(test.goal), turns, venues)
        informs.append(all(inform.values()))
        successes.append(all(success.values()))
        for name in inform:
            domain_inform.setdefault(name, []).append(inform[name])
            domain_success.setdefault(name, []).append(success[name])
        calls = [c for t in record["turns"] for c in t["calls"]]
        rows.append({"id": record["id"], "turns": len(record["turns"]), "inform": informs[-1],
                     "success": successes[-1], "api_calls": len(calls),
                     "api_errors": sum(not c["ok"] for c in calls),
                     "turn_errors": sum(t["status"] == "error" for t in record["turns"]),
                     "mean_turn_ms": round(sum(t["latency_ms"] for t in record["turns"]) / len(record["turns"]), 2),
                     "goal_domains": " ".join(sorted(inform))})
    metrics = {
        "labels": labels, "dialogues": len(records),
        "inform": _pct(informs), "success": _pct(successes),
        # force: MultiWOZ text is tokenised ("hotel ."), references and hypotheses alike, as in mwzeval.
        "bleu": round(sacrebleu.corpus_bleu(hypotheses, [references], force=True).score, 2) if hypotheses else 0.0,
        "state": states.summary(),
        "per_domain": {d: {"inform": _pct(domain_inform[d]), "success": _pct(domain_success[d]),
                           "dialogues": len(domain_inform[d]), **_state_of(states, d)} for d in sorted(domain_inform)},
    }
    return metrics, rows


def _state_of(states: StateScores, domain: str) -> dict[str, Any]:
    per = states.summary()["per_domain"].get(domain, {})
    return {"jga": per.get("jga", 0.0), "slot_f1": per.get("slot_f1", 0.0)}


def _pct(flags: list[bool]) -> float:
    return round(100 * sum(flags) / len(flags), 2) if flags else 0.0


def predictions(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The standard evaluator's input format (Tomiinek/MultiWOZ_Evaluation)."""
    return {r["id"]: [{"response": t["response"], "state": mwzeval_state(t["belief"]), "active_domains": t["active"]}
                      for t in r["turns"]] for r in records}
