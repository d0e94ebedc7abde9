"""What the results tab shows and exports: ratings, goal verdicts and votes per system and per annotator.

Built from the stored rows only, each table sorted, so the page shows the same numbers on every reload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.dialogue.transcript import VERDICT_KEY
from app.workbench.agreement import Answer, agreement_table, final_label, rater_counts, units
from app.workbench.arena_store import ArenaStore, Vote
from app.workbench.exports import write_csv, write_jsonl
from app.workbench.questions import of_scope
from app.workbench.ranking import ranking
from app.workbench.review_store import ReviewStore
from app.workbench.tables import system_of
from db.schema import DialogueRating, DialogueRecord, MessageRating

ANONYMOUS = "(no name)"  # ratings saved before a name was required
UNKNOWN = "unknown"  # dialogues saved before their system was required
FLAG_QUESTIONS = [q.name for q in of_scope("reply") if q.name.startswith("flag_")]


def chat_answers(engine: Engine) -> list[Answer]:
    """The chat tab's own ratings (a person rating the dialogue they had) in the review queue's terms, so that
    results and agreement cover both."""
    flags = {q.label.lower(): q.name for q in of_scope("reply") if q.name.startswith("flag_")}
    answers = []
    with Session(engine) as session:
        for m in session.scalars(select(MessageRating).order_by(MessageRating.id)):
            name = "reply" if m.feedback in ("like", "dislike") else flags.get(m.feedback)
            if name and m.event_id:
                answers.append(Answer(m.dialogue_id, m.annotator or ANONYMOUS, name, m.event_id,
                                      m.feedback if name == "reply" else "yes"))
        for d in session.scalars(select(DialogueRating).order_by(DialogueRating.id)):
            answers += [Answer(d.dialogue_id, d.annotator or ANONYMOUS, "task_completed", "", d.task_completed),
                        Answer(d.dialogue_id, d.annotator or ANONYMOUS, "naturalness", "", str(d.naturalness))]
    return answers


def dialogue_systems(engine: Engine) -> dict[str, str]:
    """Each saved dialogue's system name (from its meta), by dialogue id."""
    with Session(engine) as session:
        return {r.id: system_of(r.meta or {}) or UNKNOWN for r in session.scalars(select(DialogueRecord))}


def answer_frame(answers: Sequence[Answer], systems: dict[str, str]) -> pd.DataFrame:
    """The answers as a table, each with the system of its dialogue ("unknown" when none is known)."""
    frame = pd.DataFrame([asdict(a) for a in answers], columns=["item_id", "rater", "question", "target", "value"])
    return frame.assign(system=frame["item_id"].map(systems).fillna(UNKNOWN))


def ratings_by(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per system or per rater: dialogues rated and the dialogue ratings given (a dialogue rated by two raters is
    one dialogue and two ratings), mean naturalness, task completed shares, replies liked, flags."""
    columns = [key, "dialogues", "ratings", "naturalness", "completed yes", "partly", "no", "replies liked", "flags"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for name, group in sorted(frame.groupby(key), key=lambda kv: str(kv[0])):
        value = group.groupby("question")["value"]
        task = value.get_group("task_completed") if "task_completed" in value.groups else pd.Series(dtype=str)
        rated = group.loc[group["question"] == "task_completed", "item_id"].nunique()
        natural = value.get_group("naturalness").astype(int) if "naturalness" in value.groups else pd.Series()
        reply = value.get_group("reply") if "reply" in value.groups else pd.Series(dtype=str)
        flags = group[group["question"].isin(FLAG_QUESTIONS) & (group["value"] == "yes")]
        rows.append({key: name, "dialogues": rated, "ratings": len(task),
                     "naturalness": round(float(natural.mean()), 2) if len(natural) else None,
                     **{label: _share(task, option) for label, option in
                        (("completed yes", "yes"), ("partly", "partly"), ("no", "no"))},
                     "replies liked": _share(reply, "like"), "flags": len(flags)})
    return pd.DataFrame(rows, columns=columns)


def _share(values: pd.Series, option: str) -> str:
    return f"{(values == option).mean():.0%}" if len(values) else "—"


def final_labels(answers: Sequence[Answer], adjudicated: dict[tuple[str, str, str], str]) -> pd.DataFrame:
    """Per unit: the answers, the final label (the lead's, else the majority) and who decided it."""
    rows = []
    for unit, by_rater in units(answers).items():
        lead = adjudicated.get((unit.item_id, unit.question, unit.target))
        rows.append({"item": unit.item_id, "question": unit.question, "reply": unit.target or "—",
                     "answers": ", ".join(f"{r}: {v}" for r, v in sorted(by_rater.items())),
                     "final": final_label(by_rater, lead) or "undecided", "by": "lead" if lead else "majority"})
    return pd.DataFrame(rows, columns=["item", "question", "reply", "answers", "final", "by"])


def votes_frame(votes: Sequence[Vote]) -> pd.DataFrame:
    """The votes as a table, one row a vote; `turn` stays whole numbers, empty for a whole-dialogue vote."""
    frame = pd.DataFrame([asdict(v) for v in votes],
                         columns=["match_id", "system_a", "system_b", "winner", "turn", "voter"])
    return frame.astype({"turn": "Int64"})


def votes_by_voter(votes: Sequence[Vote]) -> pd.DataFrame:
    """Per voter: how many votes, and how many of each kind (a, b, tie, both bad)."""
    frame = votes_frame(votes)
    if frame.empty:
        return pd.DataFrame(columns=["voter", "votes", "a", "b", "tie", "bothbad"])
    table = pd.crosstab(frame["voter"], frame["winner"]).reindex(columns=["a", "b", "tie", "bothbad"], fill_value=0)
    return table.assign(votes=table.sum(axis=1)).reset_index()[["voter", "votes", "a", "b", "tie", "bothbad"]]


def verdicts_by_system(engine: Engine) -> pd.DataFrame:
    """Goal verdicts (the goal checker's, kept in a dialogue's meta as `goal_verdict`: inform, success, book,
    complete) as shares per system; empty when no dialogue was judged against a goal."""
    with Session(engine) as session:
        judged = [(system_of(r.meta or {}) or UNKNOWN, r.meta[VERDICT_KEY])
                  for r in session.scalars(select(DialogueRecord)) if isinstance((r.meta or {}).get(VERDICT_KEY), dict)]
    if not judged:
        return pd.DataFrame(columns=["system", "dialogues"])
    frame = pd.DataFrame([{"system": system, **{k: float(v) for k, v in verdict.items() if isinstance(v, bool)}}
                          for system, verdict in judged])
    shares = frame.groupby("system").mean(numeric_only=True).round(3)
    return shares.assign(dialogues=frame.groupby("system").size()).reset_index()


@dataclass(frozen=True)
class Results:
    """Every table the Results tab shows and exports, built from the stored answers, ratings and votes."""

    agreement: pd.DataFrame
    raters: pd.DataFrame
    by_system: pd.DataFrame
    by_rater: pd.DataFrame
    labels: pd.DataFrame
    ranking: pd.DataFrame
    voters: pd.DataFrame
    verdicts: pd.DataFrame
    answers: pd.DataFrame
    votes: pd.DataFrame

    @classmethod
    def gather(cls, review: ReviewStore, arena: ArenaStore) -> Results:
        """Every table from the review queue's and the chat's answers and the arena's votes."""
        answers, votes = [*chat_answers(review.engine), *review.answers()], arena.votes()
        frame = answer_frame(answers, {**dialogue_systems(review.engine), **review.systems()})
        rank = ranking(votes)
        return cls(agreement_table(answers), rater_counts(answers), ratings_by(frame, "system"),
                   ratings_by(frame, "rater"), final_labels(answers, review.adjudications()), rank,
                   votes_by_voter(votes), verdicts_by_system(review.engine), frame, votes_frame(votes))

    def export(self, folder: Path) -> list[Path]:
        """Every table as CSV (text a spreadsheet would run as a formula neutralised), and the raw answers and
        votes as strict JSON lines."""
        folder.mkdir(parents=True, exist_ok=True)
        written = [write_csv(getattr(self, name), folder / f"{name}.csv")
                   for name in ("agreement", "by_system", "by_rater", "labels", "ranking", "voters", "verdicts")]
        written += [write_jsonl(getattr(self, name).to_dict("records"), folder / f"{name}.jsonl")
                    for name in ("answers", "votes")]
        return written

    def plot(self) -> Figure:
        """Bradley-Terry strengths with their intervals, and mean naturalness per system."""
        figure = Figure(figsize=(11, 2.6), layout="constrained")
        strength, natural = figure.subplots(1, 2)
        rank = self.ranking.dropna(subset=["strength"])
        if not rank.empty:
            error = [rank["strength"] - rank["ci_low"], rank["ci_high"] - rank["strength"]]
            strength.barh(rank["system"], rank["strength"], xerr=error, color="#4f6df5", capsize=4)
            strength.invert_yaxis()
        elif not self.ranking.empty:  # votes, but no system has enough for a strength
            strength.text(0.5, 0.5, "too few votes for a ranking yet", ha="center", va="center",
                          transform=strength.transAxes)
        strength.set_title("Arena: Bradley-Terry strength (95% CI)", fontsize=10)
        rated = self.by_system.dropna(subset=["naturalness"])
        if not rated.empty:
            natural.barh(rated["system"], rated["naturalness"], color="#22a06b")
            natural.set_xlim(1, 5)
        natural.set_title("Review: mean naturalness (1-5)", fontsize=10)
        for axes in (strength, natural):
            axes.tick_params(labelsize=8)
        return figure


def empty_note(frame: pd.DataFrame, what: str) -> Any:
    """The table, or a one-cell note saying there is no `what` yet."""
    return frame if not frame.empty else pd.DataFrame({"": [f"No {what} yet."]})
