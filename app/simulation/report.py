"""The numbers of a simulated run: rates with intervals, pass^k, per-domain rates, and the files they go in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from app.dialogue.costs import run_costs, turn_rows
from app.dialogue.transcript import Transcript
from app.simulation.stats import bootstrap_ci, paired_difference, pass_hat_k_over_goals, smallest_real_difference
from app.workbench.exports import cost_columns, whole_counts, write_csv

RATES = ("inform", "success", "book", "complete")
FLIPS_FILE = "flips.csv"


def report(records: list[dict[str, Any]], runs: int, meta: dict[str, Any]) -> dict[str, Any]:
    """Rates are averaged over a goal's runs first, so intervals resample goals (the unit that varies).

    Infrastructure failures (a backend error, a deadline, the user simulator's model failing) are kept out of the
    rates, as tau-bench does; `rates` are over the other dialogues, `rates_conveyed` over those whose user
    conveyed the goal. pass^k counts every goal: a goal with fewer than k runs that count (missing, or lost to the
    infrastructure) cannot pass k of them, and is listed in `goals_short_of_runs`."""
    scored = [r for r in records if r["verdict"].get("blame") != "infrastructure"]
    conveyed = [r for r in scored if r["verdict"].get("user_conveyed", True)]
    by_goal: dict[str, list[bool]] = {}
    for record in scored:
        by_goal.setdefault(record["goal"], []).append(record["verdict"]["complete"])
    goals = sorted({r["goal"] for r in records})
    short = {g: len(by_goal.get(g, [])) for g in goals if len(by_goal.get(g, [])) < runs}
    outcomes = [(sum(by_goal.get(g, [])), len(by_goal.get(g, []))) for g in goals]
    complete = [_mean(list(flags)) for flags in by_goal.values()]
    return {
        **meta, "dialogues": len(records), "goals": len(goals), "runs": runs,
        "rates": _rates(scored), "rates_conveyed": _rates(conveyed) | {"dialogues": len(conveyed)},
        "blame": _blame(records),
        "infrastructure_failures": len(records) - len(scored),
        "pass_hat_k": {str(k): pass_hat_k_over_goals(outcomes, k) for k in range(1, runs + 1)},
        "goals_short_of_runs": short,
        "smallest_real_difference": smallest_real_difference(complete),
        "mean_turns": round(_mean([r["turns"] for r in records]), 2),
        "corpus_turns": round(_mean([r["corpus_turns"] for r in records if r.get("corpus_turns")]), 2),
        "user_alignment": round(100 * _mean([r["alignment"] for r in records]), 2),
        "user_failures": sum("user_failure" in r["transcript"]["meta"] for r in records),  # simulator model errors
        "per_domain": _per_domain(scored),
        "failures": _failures(scored),
        "costs": run_costs(_transcripts(records)).as_dict(),  # every dialogue's: infrastructure failures cost too
    }


def _transcripts(records: list[dict[str, Any]]) -> list[Transcript]:
    return [Transcript.from_data(r["transcript"]) for r in records]


def _rates(records: list[dict[str, Any]]) -> dict[str, Any]:
    by_goal: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_goal.setdefault(record["goal"], []).append(record["verdict"])
    rates = {}
    for rate in RATES:
        per_goal = [_mean([v[rate] for v in verdicts if v[rate] is not None]) for verdicts in by_goal.values()
                    if any(v[rate] is not None for v in verdicts)]
        rates[rate] = bootstrap_ci(per_goal).as_dict() | {"goals": len(per_goal)}
    return rates


def _blame(records: list[dict[str, Any]]) -> dict[str, int]:
    """Failed dialogues by who is to blame."""
    counts = {"agent": 0, "user": 0, "infrastructure": 0}
    for record in records:
        if not record["verdict"]["complete"]:
            who = record["verdict"].get("blame") or "agent"
            counts[who] = counts.get(who, 0) + 1
    return counts


def summary_lines(metrics: dict[str, Any]) -> str:
    """What a run's metrics add to its headline: blame, the rates where the user conveyed the goal, pass^k, turns."""
    blame, conveyed = metrics["blame"], metrics["rates_conveyed"]
    passes = ", ".join(f"pass^{k} {v}" for k, v in metrics["pass_hat_k"].items())
    short = metrics["goals_short_of_runs"]
    lines = [f"Failed dialogues by blame: agent {blame['agent']}, user {blame['user']}, infrastructure "
             f"{blame['infrastructure']} (kept out of the rates). Where the user conveyed the goal "
             f"({conveyed['dialogues']} dialogues): Complete {conveyed['complete']['value']}.",
             f"{passes}" + (f" ({len(short)} goals have fewer runs than {metrics['runs']}: counted as not passing)"
                            if short else ""),
             f"User turns per dialogue {metrics['mean_turns']} (the corpus' users took {metrics['corpus_turns']} "
             f"for these goals); user alignment {metrics['user_alignment']}%."]
    if metrics.get("plumbing_check"):
        lines.append(f"{metrics['system']} is a plumbing check: {metrics['plumbing_check']}.")
    return "\n".join(lines)


def compare(records: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """This run against another over the goals both ran (paired by goal): is the difference in Complete real?"""
    mine, theirs = _complete_by_goal(records), _complete_by_goal(other)
    shared = sorted(set(mine) & set(theirs))
    interval, real = paired_difference([mine[g] for g in shared], [theirs[g] for g in shared])
    return {"goals": len(shared), "complete_difference": interval.as_dict(), "real": real,
            "flipped": flipped(records, other)}


FLIP_COLUMNS = ["goal", "this_run", "other_run", "this_dialogues", "other_dialogues", "problems"]


def flipped(records: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The goals both runs ran that passed in one and failed in the other, each with the dialogues of both sides
    (ids, space-separated when a goal ran several times) and what went wrong on the side that failed. A goal passes
    a run when every one of its dialogues there is complete."""
    mine, theirs = _by_goal(records), _by_goal(other)
    found = []
    for goal in sorted(set(mine) & set(theirs)):
        here, there = _passed(mine[goal]), _passed(theirs[goal])
        if here == there:
            continue
        failing = theirs[goal] if here else mine[goal]
        found.append({"goal": goal, "this_run": "passed" if here else "failed",
                      "other_run": "passed" if there else "failed",
                      "this_dialogues": " ".join(_dialogue_id(r) for r in mine[goal]),
                      "other_dialogues": " ".join(_dialogue_id(r) for r in theirs[goal]),
                      "problems": "; ".join(_problems(r) for r in failing if not r["verdict"]["complete"])})
    return found


def _by_goal(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_goal: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: r.get("run", 0)):
        by_goal.setdefault(record["goal"], []).append(record)
    return by_goal


def _passed(records: list[dict[str, Any]]) -> bool:
    return all(r["verdict"]["complete"] for r in records)


def _dialogue_id(record: dict[str, Any]) -> str:
    return str(record.get("transcript", {}).get("id") or f"{record['goal']}-{record.get('run', 0)}")


def _problems(record: dict[str, Any]) -> str:
    verdict = record["verdict"]
    problems = [f"{d['domain']}: {p}" for d in verdict["domains"] for p in d["problems"]]
    problems += [f"{d['domain']}: {a} not said" for d in verdict["domains"] for a, told in d["requested"].items()
                 if not told]
    return ", ".join(problems) or verdict.get("blame_reason") or "not complete"


def write_flips(found: list[dict[str, str]], out: Path) -> Path:
    """flips.csv in `out`: one flipped goal a row (a header alone when none flipped)."""
    return write_csv(pd.DataFrame(found, columns=FLIP_COLUMNS), out / FLIPS_FILE)


def flip_lines(found: list[dict[str, str]]) -> str:
    """The flipped goals for people: one line each, this run's dialogues first."""
    if not found:
        return "No goal flipped between the two runs."
    lines = [f"{len(found)} goal(s) flipped (also in {FLIPS_FILE}):"]
    lines += [f"  {f['goal']}: {f['this_run']} here ({f['this_dialogues']}), {f['other_run']} there "
              f"({f['other_dialogues']})" + (f": {f['problems']}" if f["problems"] else "") for f in found]
    return "\n".join(lines)


def _complete_by_goal(records: list[dict[str, Any]]) -> dict[str, float]:
    by_goal: dict[str, list[bool]] = {}
    for record in records:
        by_goal.setdefault(record["goal"], []).append(record["verdict"]["complete"])
    return {goal: _mean(list(flags)) for goal, flags in by_goal.items()}


def _per_domain(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    rows = [{"domain": d["domain"], "inform": d["inform"], "passed": d["passed"]}
            for r in records for d in r["verdict"]["domains"]]
    if not rows:
        return {}
    frame = pd.DataFrame(rows).groupby("domain")[["inform", "passed"]].mean().mul(100).round(2)
    return frame.to_dict(orient="index")


def _failures(records: list[dict[str, Any]]) -> dict[str, int]:
    """How often each problem came up (the numbers in a problem's text dropped, so alike ones add up)."""
    counts: dict[str, int] = {}
    for record in records:
        verdict = record["verdict"]
        problems = [f"{d['domain']}: {_shape(p)}" for d in verdict["domains"] for p in d["problems"]]
        problems += [f"{d['domain']}: {a} not said" for d in verdict["domains"]
                     for a, given in d["requested"].items() if not given]
        problems += ["extra booking"] * len(verdict["extra_bookings"])
        for problem in problems:
            counts[problem] = counts.get(problem, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _shape(problem: str) -> str:
    """A problem without its particulars: "nothing was booked (3 attempts refused)" -> "nothing was booked"."""
    if "does not satisfy" in problem:
        return "the venue breaks the constraints"
    return re.sub(r"\d+", "N", re.split(r"[{('\"]", problem)[0]).strip(" ,")


def write_outputs(records: list[dict[str, Any]], metrics: dict[str, Any], out: Path) -> None:
    """Write metrics.json, verdicts.csv (a dialogue a row, with its costs), turn_costs.csv (a turn a row) and the
    rates chart into `out`."""
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    transcripts = _transcripts(records)
    rows = [{"goal": r["goal"], "run": r["run"], "dialogue": t.id, "turns": r["turns"], "alignment": r["alignment"],
             **{rate: r["verdict"][rate] for rate in RATES},
             "blame": r["verdict"].get("blame") or "", "blame_reason": r["verdict"].get("blame_reason", ""),
             "problems": "; ".join(f"{d['domain']}: {p}" for d in r["verdict"]["domains"] for p in d["problems"]),
             **cost_columns(t)}
            for r, t in zip(records, transcripts, strict=True)]
    whole_counts(pd.DataFrame(rows)).to_csv(out / "verdicts.csv", index=False)
    write_csv(whole_counts(pd.DataFrame(turn_rows(transcripts))), out / "turn_costs.csv")
    _chart(metrics, out / "rates.png")


def _chart(metrics: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = metrics["rates"]
    values = [rates[r]["value"] for r in RATES]
    errors = [[v - rates[r]["low"] for r, v in zip(RATES, values, strict=True)],
              [rates[r]["high"] - v for r, v in zip(RATES, values, strict=True)]]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(RATES, values, yerr=errors, capsize=4, color="#4c72b0")
    left.set_ylim(0, 100)
    left.set_ylabel("% of goals (95% bootstrap CI)")
    left.set_title(f"{metrics['system']} / {metrics['user']} user, {metrics['goals']} goals")
    ks = sorted(metrics["pass_hat_k"], key=int)
    right.plot([int(k) for k in ks], [metrics["pass_hat_k"][k] for k in ks], marker="o")
    right.set_ylim(0, 100)
    right.set_xlabel("k")
    right.set_title("pass^k (complete in all of k runs)")
    plt.tight_layout()
    plt.savefig(path, dpi=110)
    plt.close(figure)


def _mean(values: list[Any]) -> float:
    return sum(float(v) for v in values) / len(values) if values else 0.0
