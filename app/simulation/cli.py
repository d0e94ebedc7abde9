"""Goal-driven dialogues with a simulated user, checked on the database:
`python -m app.simulate --backend oracle --user agenda --goals 1000 --runs 3 --out runs/sim-oracle`.

Outputs in --out: transcripts.jsonl (one dialogue a line with its verdict; resumable), verdicts.csv,
metrics.json (Inform / Success / Book / Complete with 95% bootstrap intervals, pass^k, the smallest real
difference between two runs) and rates.png."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from app.agent.agent import Agent
from app.assembly import SystemUnderTest, add_model_flags, assemble, settings_from
from app.backends.base import Backend
from app.dialogue.goals import Goal, load_goals
from app.dialogue.session import UserSide, run_dialogue
from app.dialogue.transcript import Transcript, new_id
from app.evaluation import data
from app.evaluation.cli import DEFAULT_TEST_DIR
from app.evaluation.runner import read_results
from app.settings import Settings
from app.simulation.checker import GoalChecker
from app.simulation.oracle import GoalOracle, Mistake
from app.simulation.report import compare, report, write_outputs
from app.simulation.users.agenda import AgendaUser
from app.simulation.users.alignment import alignment
from app.tools.toolbox import Toolbox

ORACLES: dict[str, Mistake | None] = {"oracle": None, "oracle-wrong-venue": "venue", "oracle-wrong-day": "day"}
ORACLE_STEPS = 10  # Find, first booking, fallback, other venues, reply: more steps than a model needs
AgentFor = Callable[[Transcript], Agent]
UserFor = Callable[[Goal], UserSide]


def simulate_one(goal: Goal, run: int, agent_for: AgentFor, user_for: UserFor, checker: GoalChecker,
                 toolbox: Toolbox, max_turns: int, meta: dict[str, Any]) -> dict[str, Any]:
    """One dialogue: the user pursues `goal` against the agent; the checker gives the verdict."""
    transcript = Transcript(id=f"sim-{goal.id}-{run}-{new_id()[:6]}", meta={**meta, "run": run},
                            goal=goal)
    for _event in run_dialogue(agent_for(transcript), user_for(goal), transcript, max_turns=max_turns):
        pass
    verdict = checker.check(goal, transcript, toolbox.bookings(transcript.id))
    return {"goal": goal.id, "run": run, "turns": len(transcript.turns()), "verdict": verdict.summary(),
            "alignment": round(alignment(goal, transcript), 4), "transcript": transcript.to_data()}


def run_all(goals: list[Goal], runs: int, one: Callable[[Goal, int], dict[str, Any]], out: Path, workers: int,
            progress: Callable[[Any, int], Any] | None = None) -> None:
    """Append each finished dialogue to `out` (JSON lines); (goal, run) pairs already there are skipped."""
    kept = read_results(out)
    out.write_text("".join(json.dumps(record) + "\n" for record in kept))  # drops a line cut by a crash
    done = {(record["goal"], record["run"]) for record in kept}
    todo = [(goal, run) for run in range(runs) for goal in goals if (goal.id, run) not in done]
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=workers) as pool, out.open("a") as sink:
        futures = [pool.submit(one, goal, run) for goal, run in todo]
        finished = as_completed(futures)
        for future in progress(finished, len(futures)) if progress else finished:
            record = future.result()
            with lock:
                sink.write(json.dumps(record) + "\n")
                sink.flush()


def main(argv: list[str] | None = None) -> int:
    """Simulate the chosen goals with the chosen system and user, check them, and write the reports; the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    oracle = args.backend in ORACLES
    settings = settings_from(argparse.Namespace(**{**vars(args), "backend": "scripted" if oracle else args.backend}),
                             db_url=f"sqlite:///{args.out / 'sim.sqlite3'}", max_steps=args.max_steps)
    try:
        user_for = _users(args, settings)  # flags first: a wrong command line should not wait for a download
        folder = data.locate(args.test_dir, settings.home / "multiwoz-test")
    except (data.TestDataUnavailable, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    goals = _select(load_goals(folder), args)
    toolbox = Toolbox.open(settings)
    system = _system(args.backend, settings, toolbox)
    agent_for, label = system.agent, system.name
    checker = GoalChecker(toolbox)
    meta = {"system": label, "user": args.user, "format": settings.format}
    if made_by := _other_setup(args.out / "transcripts.jsonl", meta):
        print(f"{args.out} holds dialogues of {made_by}, not of this run's; a rerun there resumes them, so give "
              "the same flags or another --out", file=sys.stderr)
        return 2
    from tqdm import tqdm

    run_all(goals, args.runs, lambda goal, run: simulate_one(goal, run, agent_for, user_for, checker, toolbox,
                                                              args.max_turns, meta),
            args.out / "transcripts.jsonl", args.workers,
            progress=lambda items, total: tqdm(items, total=total, unit="dialogue", desc="simulating"))
    wanted = {g.id for g in goals}
    records = [r for r in read_results(args.out / "transcripts.jsonl") if r["goal"] in wanted and r["run"] < args.runs]
    metrics = report(records, args.runs, meta)
    if args.compare:
        metrics["compared_with"] = {"run": str(args.compare),
                                    **compare(records, read_results(args.compare / "transcripts.jsonl"))}
    write_outputs(records, metrics, args.out)
    rates = metrics["rates"]
    print(f"{metrics['dialogues']} dialogues ({len(wanted)} goals x {args.runs} runs), {label} with the {args.user} "
          f"user: Inform {rates['inform']['value']}, Success {rates['success']['value']}, Book "
          f"{rates['book']['value']}, Complete {rates['complete']['value']} (95% CI {rates['complete']['low']}-"
          f"{rates['complete']['high']}); a real difference needs {metrics['smallest_real_difference']} points. "
          f"Written to {args.out}")
    if compared := metrics.get("compared_with"):
        difference = compared["complete_difference"]
        print(f"Against {args.compare} ({compared['goals']} goals in both): Complete {difference['value']:+} points "
              f"(95% CI {difference['low']:+} to {difference['high']:+}): "
              f"{'a real difference' if compared['real'] else 'not distinguishable from noise'}")
    return 0


def _other_setup(path: Path, meta: dict[str, Any]) -> str | None:
    """What made the dialogues already in `path`, when it is not this run's system, user and format: a resume
    skips the (goal, run) pairs there, so another system's dialogues would be reported as this one's."""
    for record in read_results(path):
        made = {key: record.get("transcript", {}).get("meta", {}).get(key) for key in meta}
        if made != meta:
            return ", ".join(f"{key} {value}" for key, value in made.items())
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(parser, extra_backends=tuple(ORACLES))
    parser.add_argument("--user", choices=["agenda", "llm", "autotod"], default="agenda",
                        help="agenda: rule-based, no model; autotod: LLM with AutoTOD's prompt and the corpus' first "
                             "turn; llm: LLM that reveals details only when asked")
    parser.add_argument("--user-backend", choices=["openai", "transformers"], default="openai")
    parser.add_argument("--user-model", help="the simulator's model (served name or hub id / folder)")
    parser.add_argument("--user-base-url", help="the simulator's OpenAI-compatible server")
    parser.add_argument("--goals", type=int, help="only the first N test goals")
    parser.add_argument("--dialogues", nargs="+", help="only these dialogue ids (e.g. SNG0073 PMUL4648)")
    parser.add_argument("--runs", type=int, default=1, help="runs per goal (pass^k needs k <= runs)")
    parser.add_argument("--workers", type=int, default=1, help="dialogues at once (a server or a local model's batch)")
    parser.add_argument("--max-turns", type=int, default=20, help="user turns before a dialogue is cut off")
    parser.add_argument("--max-steps", type=int, default=4, help="model calls per agent turn")
    parser.add_argument("--test-dir", type=Path, default=DEFAULT_TEST_DIR, help="folder with test_mwz21/test.json")
    parser.add_argument("--out", type=Path, default=Path("runs/sim"))
    parser.add_argument("--compare", type=Path, help="another run's --out: is the difference in Complete real?")
    return parser


def _select(goals: list[Goal], args: argparse.Namespace) -> list[Goal]:
    if args.dialogues:
        wanted = {d.lower().removesuffix(".json") for d in args.dialogues}
        goals = [g for g in goals if g.id in wanted]
    return goals[:args.goals] if args.goals else goals


def _system(backend: str, settings: Settings, toolbox: Toolbox) -> SystemUnderTest:
    """The system under test: a model loaded once and shared by every dialogue, or an oracle reading each
    dialogue's goal."""
    if backend in ORACLES:
        mistake = ORACLES[backend]
        return assemble(settings, toolbox, name=backend, max_steps=ORACLE_STEPS,
                        backend_for=lambda transcript: GoalOracle(transcript, mistake))
    return assemble(settings, toolbox)


def _users(args: argparse.Namespace, settings: Settings) -> UserFor:
    if args.user == "agenda":
        return AgendaUser
    if not args.user_model:
        raise ValueError(f"--user {args.user} needs --user-model (and --user-base-url for a server)")
    from app.simulation.users.llm import LLMUser

    backend: Backend
    if args.user_backend == "transformers":
        from app.backends.transformers_backend import TransformersBackend

        backend = TransformersBackend(args.user_model)
    else:
        from app.backends.openai_backend import OpenAIBackend

        # The simulator's server may be another than the agent's (GPT-4o as the user, as in AutoTOD).
        key = os.environ.get("WOZ_USER_API_KEY") or os.environ.get("OPENAI_API_KEY") or settings.api_key
        backend = OpenAIBackend(args.user_base_url, args.user_model, key, settings.timeout_s)
    return lambda goal: LLMUser(goal, backend, "autotod" if args.user == "autotod" else "llm")


if __name__ == "__main__":
    sys.exit(main())
