"""Goal-driven dialogues with a simulated user, checked on the database:
`python -m app.simulate --backend oracle --user agenda --goals 1000 --runs 3 --out runs/sim-oracle`.

Outputs in --out: transcripts.jsonl (one dialogue a line with its verdict; resumable), verdicts.csv (with each
dialogue's tokens and times), turn_costs.csv, metrics.json (Inform / Success / Book / Complete with 95% bootstrap
intervals, pass^k, the smallest real difference between two runs, the run's costs and its provenance), rates.png,
and with --compare flips.csv (the goals that passed in one run and failed in the other)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from app.agent.agent import Agent
from app.assembly import (
    CommandParser,
    SystemUnderTest,
    add_model_flags,
    assemble,
    check_choices,
    positive_int,
    settings_from,
)
from app.backends import BackendError, make_backend
from app.backends.base import Backend
from app.dialogue.goals import Goal, load_goals
from app.dialogue.session import UserSide, run_dialogue
from app.dialogue.transcript import Transcript, new_id
from app.evaluation import data
from app.evaluation.cli import dialogue_ids
from app.evaluation.provenance import provenance
from app.evaluation.run_folder import (
    RunFolder,
    RunRefused,
    Stopped,
    StopSignals,
    describe,
    progress_bar,
    run_jobs,
    run_setup,
)
from app.evaluation.runner import read_results
from app.settings import BadSetting, Settings
from app.simulation.checker import GoalChecker
from app.simulation.fork import ForkRefused, ForkSpec, catch_up, fork_dialogue, parent_of
from app.simulation.oracle import GoalOracle, Mistake
from app.simulation.recheck import NotTranscripts, run_check
from app.simulation.report import compare, flip_lines, report, summary_lines, write_flips, write_outputs
from app.simulation.rules.understanding import Ontology
from app.simulation.systems import ORACLE_STEPS, RULES, rules_system
from app.simulation.users.agenda import AgendaUser
from app.simulation.users.alignment import alignment
from app.tools.toolbox import Toolbox
from db.importer import DataUnavailable

ORACLES: dict[str, Mistake | None] = {"oracle": None, "oracle-wrong-venue": "venue", "oracle-wrong-day": "day"}
TRANSCRIPTS = "transcripts.jsonl"
AgentFor = Callable[[Transcript], Agent]
UserFor = Callable[[Goal, int], UserSide]  # the user side of one goal's run


def simulate_one(goal: Goal, run: int, agent_for: AgentFor, user_for: UserFor, checker: GoalChecker,
                 toolbox: Toolbox, max_turns: int, meta: dict[str, Any],
                 stop: threading.Event | None = None) -> dict[str, Any] | Stopped:
    """One dialogue: the user pursues `goal` against the agent; the checker gives the verdict. Once `stop` is set
    the running turn ends and the dialogue is Stopped (no verdict)."""
    transcript = Transcript(id=f"sim-{goal.id}-{run}-{new_id()[:6]}", meta={**meta, "run": run},
                            goal=goal)
    for _event in run_dialogue(agent_for(transcript), user_for(goal, run), transcript, max_turns=max_turns, stop=stop):
        pass
    if stop is not None and stop.is_set():
        return Stopped(transcript)
    verdict = checker.check(goal, transcript, toolbox.bookings(transcript.id))
    return {"goal": goal.id, "run": run, "turns": len(transcript.turns()), "corpus_turns": goal.corpus_turns,
            "verdict": verdict.summary(),
            "alignment": round(alignment(goal, transcript), 4), "transcript": transcript.to_data()}


def run_all(goals: list[Goal], runs: int, one: Callable[[Goal, int, threading.Event], dict[str, Any] | Stopped],
            folder: RunFolder, stop: threading.Event, workers: int) -> int:
    """Append each finished dialogue to the folder's transcripts.jsonl; (goal, run) pairs already there are skipped.
    Returns how many finished now."""
    out = folder.path / TRANSCRIPTS
    kept = read_results(out)
    out.write_text("".join(json.dumps(record) + "\n" for record in kept))  # drops a line cut by a crash
    done = {(record["goal"], record["run"]) for record in kept}
    todo = [(goal, run) for run in range(runs) for goal in goals if (goal.id, run) not in done]
    with out.open("a") as sink, progress_bar(len(todo), "simulating") as advance:

        def keep(record: dict[str, Any]) -> None:
            sink.write(json.dumps(record) + "\n")
            sink.flush()

        return run_jobs([partial(one, goal, run) for goal, run in todo], keep, folder, stop, workers, advance)


def main(argv: list[str] | None = None) -> int:
    """Simulate the chosen goals with the chosen system and user, check them, and write the reports; the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    oracle = args.backend in ORACLES or args.backend == RULES
    flags = argparse.Namespace(**{**vars(args), "backend": "scripted" if oracle else args.backend})
    try:
        settings = settings_from(flags, db_url=f"sqlite:///{args.out / 'sim.sqlite3'}", max_steps=args.max_steps)
        user_for = _users(args, settings)  # flags first: a wrong command line should not wait for a download
        if args.fork:
            return _fork(args, settings, user_for)
        folder = data.locate(args.test_dir or settings.test_dir, settings.home / "multiwoz-test",
                             settings.download_timeout_s, names=[data.GOALS_FILE])
    except (data.TestDataUnavailable, ValueError) as error:  # a BadSetting is a ValueError
        print(error, file=sys.stderr)
        return 2
    if args.check:
        return _check(args, settings, folder)
    try:
        goals = _select(load_goals(folder), args)  # arguments first: a wrong one leaves no folder behind
        compared = _compared_run(args.compare, args.out, goals)
        with RunFolder(args.out) as run_folder:
            return _simulate(args, settings, user_for, goals, compared, run_folder)
    except (BackendError, BadSetting, DataUnavailable, RunRefused) as error:
        print(error, file=sys.stderr)
        return 2


def _simulate(args: argparse.Namespace, settings: Settings, user_for: UserFor, goals: list[Goal],
              compared: list[dict[str, Any]] | None, run_folder: RunFolder) -> int:
    """Run (or resume) the dialogues in the folder, then report; a signal stops the run, keeping what finished."""
    backend = None
    if args.backend not in ORACLES and args.backend != RULES:
        check_choices(settings)
        backend = make_backend(settings)  # nothing loads yet; its label names the system
    label = args.backend if backend is None else backend.label
    meta = {"system": label, "user": args.user, "format": settings.format, "seed": args.seed}
    if args.backend in ORACLES:
        meta["plumbing_check"] = "it reads the goal's hidden values: proof that the harness works, not a ceiling"
    run_folder.resume({"command": "simulate", **meta}, lambda out: _earlier_setup(out, meta))
    toolbox = Toolbox.open(settings)  # after the check: a refused run leaves no database in another run's folder
    system = _system(args.backend, settings, toolbox, backend)
    checker = GoalChecker(toolbox)
    with StopSignals() as signals:
        finished = run_all(goals, args.runs, lambda goal, run, stop: simulate_one(
            goal, run, system.agent, user_for, checker, toolbox, args.max_turns, meta, stop),
            run_folder, signals.stop, args.workers)
    if signals.signal_name:
        print(f"Stopped by {signals.signal_name}: {finished} more dialogue(s) finished and are kept in "
              f"{args.out / TRANSCRIPTS}; the same command resumes the run", file=sys.stderr)
        return signals.exit_status
    wanted = {g.id for g in goals}
    records = [r for r in read_results(args.out / TRANSCRIPTS) if r["goal"] in wanted and r["run"] < args.runs]
    metrics = report(records, args.runs, meta)
    metrics["provenance"] = _provenance(args, settings, toolbox)
    if compared is not None:
        metrics["compared_with"] = {"run": str(args.compare), **compare(records, compared)}
    write_outputs(records, metrics, args.out)
    if compared_with := metrics.get("compared_with"):
        write_flips(compared_with["flipped"], args.out)
    rates = metrics["rates"]
    print(f"{metrics['dialogues']} dialogues ({len(wanted)} goals x {args.runs} runs), {label} with the {args.user} "
          f"user: Inform {rates['inform']['value']}, Success {rates['success']['value']}, Book "
          f"{rates['book']['value']}, Complete {rates['complete']['value']} (95% CI {rates['complete']['low']}-"
          f"{rates['complete']['high']}); a real difference needs {metrics['smallest_real_difference']} points. "
          f"Written to {args.out}")
    if compared_with := metrics.get("compared_with"):
        difference = compared_with["complete_difference"]
        print(f"Against {args.compare} ({compared_with['goals']} goals in both): Complete {difference['value']:+} "
              f"points (95% CI {difference['low']:+} to {difference['high']:+}): "
              f"{'a real difference' if compared_with['real'] else 'not distinguishable from noise'}")
        print(flip_lines(compared_with["flipped"]))
    print(summary_lines(metrics))
    return 0


def _fork(args: argparse.Namespace, settings: Settings, user_for: UserFor) -> int:
    """--fork RUN_DIR:DIALOGUE_ID:EVENT_ID: copy that dialogue up to the event (its bookings made again), let the user
    go on from there against the chosen system, and check it; the line is appended to --out's transcripts.jsonl."""
    try:
        spec = ForkSpec.parse(args.fork)
        parent = parent_of(spec)
        if parent.goal is None:
            raise ForkRefused(f"--fork: dialogue {parent.id} has no goal (an evaluation's turn-level dialogue); fork "
                              "a simulation's dialogue")
        try:
            parent.event(spec.event)
        except KeyError:
            raise ForkRefused(f"--fork: dialogue {parent.id} has no event {spec.event!r}") from None
        if (setup := run_setup(args.out)) is not None and setup.get("command") != "fork":
            raise ForkRefused(f"--out {args.out} holds {describe(setup)}; give a folder for forks (a fork would "
                              "be counted among that run's dialogues)")
        args.out.mkdir(parents=True, exist_ok=True)
        backend = None
        if args.backend not in ORACLES and args.backend != RULES:
            check_choices(settings)
            backend = make_backend(settings)
        toolbox = Toolbox.open(settings)
        system = _system(args.backend, settings, toolbox, backend)
        try:
            fork = fork_dialogue(parent, spec.event, toolbox)
        except ForkRefused as error:
            raise ForkRefused(f"--fork: {error}") from None
    except (ForkRefused, BackendError, BadSetting, DataUnavailable, OSError) as error:
        print(error, file=sys.stderr)
        return 2
    goal, run = parent.goal, int(str(parent.meta.get("run") or 0))
    label = args.backend if backend is None else backend.label
    fork.meta.update({"system": label, "user": args.user, "format": settings.format})
    user: UserSide = user_for(goal, run)
    if args.user == "agenda":  # the parent's own user, brought to where the dialogue stands
        user = AgendaUser(goal, seed=int(str(parent.meta.get("seed") or 0)) + run)
        catch_up(user, fork)
    copied, restored = len(fork.events), len(fork.bookings())
    for _event in run_dialogue(system.agent(fork), user, fork, resume=True, max_turns=args.max_turns):
        pass
    verdict = GoalChecker(toolbox).check(goal, fork, toolbox.bookings(fork.id))
    record = {"goal": goal.id, "run": run, "turns": len(fork.turns()), "corpus_turns": goal.corpus_turns,
              "verdict": verdict.summary(), "alignment": round(alignment(goal, fork), 4), "transcript": fork.to_data()}
    if not (args.out / "run.json").exists():
        (args.out / "run.json").write_text(json.dumps({"command": "fork", "system": label, "user": args.user}))
    with (args.out / TRANSCRIPTS).open("a", encoding="utf-8") as sink:
        sink.write(json.dumps(record) + "\n")
    print(f"Forked {parent.id} at event {spec.event} into {fork.id}: {copied} events copied, {restored} booking(s) "
          f"restored; {len(fork.events) - copied} events since, complete: {verdict.complete}. Written to "
          f"{args.out / TRANSCRIPTS}")
    return 0


def _provenance(args: argparse.Namespace, settings: Settings, toolbox: Toolbox) -> dict[str, Any]:
    """What made this run (commit, prompts, settings, model, data, seed): see app.evaluation.provenance."""
    from app.simulation.users.llm import prompt_texts

    model = settings.model if args.backend not in ORACLES and args.backend != RULES else args.backend
    prompts = prompt_texts(args.user) if args.user != "agenda" else {}
    return provenance(settings, toolbox.catalogue.engine, model=model, seed=args.seed, flags=vars(args),
                      prompts=prompts, test_files=(data.GOALS_FILE,))


def _check(args: argparse.Namespace, settings: Settings, folder: Path) -> int:
    """--check FILE: the checker over transcripts made anywhere (or the corpus), reported as a run is."""
    from tqdm import tqdm

    try:
        only = {d.lower().removesuffix(".json") for d in args.dialogues} if args.dialogues else None
        metrics = run_check(args.check, args.out, folder, settings, args.workers, only=only,
                            progress=lambda items, total: tqdm(items, total=total, unit="dialogue", desc="replaying"))
    except NotTranscripts as error:
        print(error, file=sys.stderr)
        return 2
    rates = metrics["rates"]
    print(f"{metrics['dialogues']} dialogues from {args.check} checked: Inform {rates['inform']['value']}, Success "
          f"{rates['success']['value']}, Book {rates['book']['value']}, Complete {rates['complete']['value']}. "
          f"Written to {args.out}")
    print(summary_lines(metrics))
    if table := metrics.get("crosscheck"):
        print(f"Against mwzeval's Success on the same dialogues: {table['agreement']}% agree (checker "
              f"{table['checker_success']}, mwzeval {table['mwzeval_success']}); by category:")
        print("\n".join(f"  {count:>4}  {category}" + (f" ({', '.join(f'{d} {n}' for d, n in domains.items())})"
                                                         if (domains := table["domains"].get(category)) else "")
                        for category, count in table["categories"].items()))
    return 0


def _earlier_setup(out: Path, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The setup of a run made before run.json existed, from the meta of its first dialogue (None: not a
    simulation's transcripts)."""
    for record in read_results(out / TRANSCRIPTS):
        made = record.get("transcript", {}).get("meta", {}) if isinstance(record, dict) and "goal" in record else None
        return {"command": "simulate", **{key: made.get(key) for key in meta}} if isinstance(made, dict) else None
    return None


def _compared_run(path: Path | None, out: Path, goals: list[Goal]) -> list[dict[str, Any]] | None:
    """The dialogues of the --compare run, checked before this run starts: RunRefused unless it is another
    simulation sharing goals with this one."""
    if path is None:
        return None
    if path.resolve() == out.resolve():
        raise RunRefused(f"--compare {path} is this run's own --out; give another run's")
    if not path.is_dir():
        raise RunRefused(f"--compare {path}: no such folder; give another run's --out")
    setup = run_setup(path)
    if setup is not None and setup.get("command") != "simulate":
        raise RunRefused(f"--compare {path} holds {describe(setup)}, not a simulation; give an app.simulate --out")
    records = [r for r in read_results(path / TRANSCRIPTS) if isinstance(r, dict) and {"goal", "verdict"} <= set(r)]
    if not records:
        raise RunRefused(f"--compare {path} holds no simulated dialogues; give an app.simulate --out")
    if not {r["goal"] for r in records} & {goal.id for goal in goals}:
        raise RunRefused(f"--compare {path} shares no goals with this run; nothing to compare")
    return records


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="python -m app.simulate", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_flags(parser, extra_backends=(RULES, *ORACLES))
    parser.add_argument("--user", choices=["agenda", "llm", "autotod"], default="agenda",
                        help="agenda: rule-based, no model; autotod: LLM with AutoTOD's prompt and the corpus' first "
                             "turn; llm: LLM that reveals details only when asked")
    parser.add_argument("--user-backend", choices=["openai", "transformers"], default="openai")
    parser.add_argument("--user-model", help="the simulator's model (served name or hub id / folder)")
    parser.add_argument("--user-base-url", help="the simulator's OpenAI-compatible server")
    parser.add_argument("--goals", type=positive_int, help="only the first N test goals")
    parser.add_argument("--dialogues", nargs="+", help="only these dialogue ids (e.g. SNG0073 PMUL4648)")
    parser.add_argument("--runs", type=positive_int, default=1, help="runs per goal (pass^k needs k <= runs)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the agenda user's seed: run r of a goal uses seed + r, so runs differ in wording")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="dialogues at once (a server or a local model's batch)")
    parser.add_argument("--max-turns", type=positive_int, default=20, help="user turns before a dialogue is cut off")
    parser.add_argument("--max-steps", type=int, default=4, help="model calls per agent turn")
    parser.add_argument("--test-dir", type=Path,
                        help="folder with test_mwz21/test.json (WOZ_TEST_DIR; without one it is downloaded)")
    parser.add_argument("--out", type=Path, default=Path("runs/sim"))
    parser.add_argument("--compare", type=Path, help="another run's --out: is the difference in Complete real, and "
                                                     "which goals flipped (passed in one, failed in the other; "
                                                     "written to flips.csv)?")
    parser.add_argument("--fork", metavar="RUN_DIR:DIALOGUE_ID:EVENT_ID",
                        help="no run: copy that dialogue up to that event (its bookings restored), and let the user go "
                             "on from there against --backend; appended to --out's transcripts.jsonl")
    parser.add_argument("--check", type=Path, metavar="FILE",
                        help="no simulation: check the dialogues in FILE (a simulation's or an evaluation's "
                             "transcripts.jsonl, a saved dialogue, or the corpus' test.json, replayed with the human "
                             "replies and cross-checked with mwzeval)")
    return parser


def _select(goals: list[Goal], args: argparse.Namespace) -> list[Goal]:
    if args.dialogues:
        wanted = dialogue_ids(args.dialogues, {goal.id for goal in goals})
        goals = [g for g in goals if g.id in wanted]
    return goals[:args.goals] if args.goals else goals


def _system(name: str, settings: Settings, toolbox: Toolbox, backend: Backend | None = None) -> SystemUnderTest:
    """The system under test: the model `backend` (loaded once and shared by every dialogue), or without one the
    rule-based system or the oracle `name` (each dialogue its own backend; an oracle reads the dialogue's goal)."""
    if name == RULES:
        return rules_system(settings, toolbox)
    if backend is None:
        mistake, ontology = ORACLES[name], Ontology.of(toolbox)
        return assemble(settings, toolbox, name=name, max_steps=ORACLE_STEPS,
                        backend_for=lambda transcript: GoalOracle(transcript, mistake, ontology))
    return assemble(settings, toolbox, backend=backend)


def _users(args: argparse.Namespace, settings: Settings) -> UserFor:
    if args.user == "agenda":
        return lambda goal, run: AgendaUser(goal, seed=args.seed + run)
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
    return lambda goal, _run: LLMUser(goal, backend, "autotod" if args.user == "autotod" else "llm")


if __name__ == "__main__":
    sys.exit(main())
