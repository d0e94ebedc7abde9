"""The numbers of a simulated run: rates with intervals, pass^k, per-domain rates, and the files they go in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from app.simulation.stats import bootstrap_ci, paired_difference, pass_hat_k, smallest_real_difference

RATES = ("inform", "success", "book", "complete")


def report(records: list[dict[str, Any]], runs: int, meta: dict[str, Any]) -> dict[str, Any]:
    """Rates are averaged over a goal's runs first, so intervals resample goals (the unit that varies)."""
    by_goal: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_goal.setdefault(record["goal"], []).append(record["verdict"])
    rates = {}
    for rate in RATES:
        per_goal = [_mean([v[rate] for v in verdicts if v[rate] is not None]) for verdicts in by_goal.values()
                    if any(v[rate] is not None for v in verdicts)]
        rates[rate] = bootstrap_ci(per_goal).as_dict() | {"goals": len(per_goal)}
    complete = [_mean([v["complete"] for v in verdicts]) for verdicts in by_goal.values()]
    full = [sum(v["complete"] for v in verdicts) for verdicts in by_goal.values() if len(verdicts) == runs]
    return {
        **meta, "dialogues": len(records), "goals": len(by_goal), "runs": runs, "rates": rates,
        "pass_hat_k": {str(k): pass_hat_k(full, runs, k) for k in range(1, runs + 1)},
        "smallest_real_difference": smallest_real_difference(complete),
        "mean_turns": round(_mean([r["turns"] for r in records]), 2),
        "user_alignment": round(100 * _mean([r["alignment"] for r in records]), 2),
        "user_failures": sum("user_failure" in r["transcript"]["meta"] for r in records),  # simulator model errors
        "per_domain": _per_domain(records),
        "failures": _failures(records),
    }


def compare(records: list[dict[str, Any]], other: list[dict[str, Any]]) -> dict[str, Any]:
    """This run against another over the goals both ran (paired by goal): is the difference in Complete real?"""
    mine, theirs = _complete_by_goal(records), _complete_by_goal(other)
    shared = sorted(set(mine) & set(theirs))
    interval, real = paired_difference([mine[g] for g in shared], [theirs[g] for g in shared])
    return {"goals": len(shared), "complete_difference": interval.as_dict(), "real": real}


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
    """Write metrics.json, verdicts.csv (a dialogue a row) and the rates chart into `out`."""
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    rows = [{"goal": r["goal"], "run": r["run"], "turns": r["turns"], "alignment": r["alignment"],
             **{rate: r["verdict"][rate] for rate in RATES},
             "problems": "; ".join(f"{d['domain']}: {p}" for d in r["verdict"]["domains"] for p in d["problems"])}
            for r in records]
    pd.DataFrame(rows).to_csv(out / "verdicts.csv", index=False)
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
