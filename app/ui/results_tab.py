"""The Results tab (admin): agreement, ratings, goal verdicts and arena ranking; adjudication; exports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gradio as gr

from app.ui.admin import AdminGate
from app.workbench.agreement import most_disputed
from app.workbench.arena_store import ArenaStore
from app.workbench.questions import question
from app.workbench.results import Results, empty_note
from app.workbench.review_store import ReviewStore
from app.workbench.training_data import write_training_data

TABLES = ("agreement", "raters", "by_system", "by_rater", "ranking", "voters", "verdicts", "labels")
TITLES = {"agreement": "Agreement (Krippendorff's alpha, with the units behind it)", "raters": "Answers per rater",
          "by_system": "Ratings per system", "by_rater": "Ratings per annotator",
          "ranking": "Arena ranking (Bradley-Terry, 95% CI over resampled matches)", "voters": "Votes per voter",
          "verdicts": "Goal verdicts per system", "labels": "Final labels (lead's, else majority)"}


class ResultsTab:
    """The Results tab's handlers over the review and arena stores, behind the admin gate (the token when one is
    set; without one, only a browser on the machine itself)."""

    def __init__(self, review: ReviewStore, arena: ArenaStore, admin_token: str | None, exports: Path) -> None:
        self.review, self.arena, self.gate, self.exports = review, arena, AdminGate(admin_token), exports

    def show(self, token: str, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Status, every table, the plot and the disputed units to adjudicate."""
        if refusal := self.gate.refusal(token, request):
            return (refusal, *[gr.skip()] * (len(TABLES) + 2))
        results = Results.gather(self.review, self.arena)
        tables = [empty_note(getattr(results, name), TITLES[name].split(" (")[0].lower()) for name in TABLES]
        choices = [(f"{u.item_id} · {question(u.question).label} · {u.target or 'dialogue'} · "
                    f"{', '.join(f'{r}: {v}' for r, v in sorted(by.items()))}", f"{u.item_id}|{u.question}|{u.target}")
                   for u, _score, by in most_disputed(self.review.answers(), limit=50)]
        summary = " · ".join((counted(len(results.answers), "answer") + " on "
                              + counted(results.answers["item_id"].nunique(), "dialogue"),
                              counted(len(results.votes), "arena vote")))
        if aside := self.review.set_aside_items():
            summary += " · " + counted(len(aside), "dialogue") + " set aside (cannot be shown): " + "; ".join(
                f"{item}: {reason}" for item, reason in list(aside.items())[:5])
        return (summary, *tables, results.plot(), gr.update(choices=choices, value=None))

    def labels_for(self, unit: str | None) -> Any:
        """The final labels a disputed answer may take: its question's options."""
        if not unit:
            return gr.update(choices=[], value=None)
        return gr.update(choices=list(question(unit.split("|")[1]).options), value=None)

    def adjudicate(self, token: str, unit: str | None, label: str | None, lead: str,
                   request: gr.Request | None = None) -> tuple[Any, ...]:
        """Save the lead's final label for a disputed answer. Outputs: the message, then (only once it is saved)
        the refreshed results; a save that failed leaves everything else as it was, the chosen answer, its label
        and the dropdown's options included, so the lead can fix what was missing and save again."""
        untouched = (gr.skip(),) * (len(TABLES) + 3)
        if refusal := self.gate.refusal(token, request):
            return (refusal, *untouched)
        if not unit or not label:
            return ("Choose a disputed answer and the final label.", *untouched)
        item, name, target = unit.split("|", 2)
        try:
            self.review.adjudicate(item, name, target, label, lead)
        except ValueError as error:
            return (f"{error} Nothing was saved.", *untouched)
        return (f"✅ Final label for {item} · {question(name).label}: **{label}**", *self.show(token, request))

    def export(self, token: str, request: gr.Request | None = None) -> tuple[str, Any]:
        """Export every results table and the CoALM training data; a message and the files."""
        if refusal := self.gate.refusal(token, request):
            return refusal, None
        folder = self.exports / f"results-{int(time.time())}"
        files = Results.gather(self.review, self.arena).export(folder)
        training = write_training_data(self.review, folder / "coalm_training.jsonl")
        left_out = (f" Left out {counted(len(training.skipped), 'dialogue')} that cannot be read: "
                    + "; ".join(f"{k}: {v}" for k, v in list(training.skipped.items())[:3]) + ".") \
            if training.skipped else ""
        return (f"✅ Exported {len(files)} tables and {training.records} training records (liked replies, CoALM "
                f"format).{left_out}", [str(p) for p in [*files, folder / "coalm_training.jsonl"]])


def build_results_tab(tab: ResultsTab) -> None:
    """The Results tab's components, wired to `tab`."""
    gr.Markdown("Ratings from the review queue and the chat, arena votes and goal verdicts, per system and per "
                "annotator. Systems are named here only.", elem_classes=["tab-intro"])
    with gr.Row():
        token = gr.Textbox(label=tab.gate.label(), type="password", elem_id="results-token", scale=3)
        show = gr.Button("Show results", variant="primary", elem_id="results-show", scale=1)
    status = gr.Markdown(elem_id="results-status")
    plot = gr.Plot(elem_id="results-plot", show_label=False)
    tables = {}
    for name in TABLES:
        with gr.Accordion(TITLES[name], open=name in ("agreement", "by_system", "ranking"), elem_id=f"acc-{name}"):
            tables[name] = gr.Dataframe(elem_id=f"results-{name.replace('_', '-')}", interactive=False,
                                        wrap=True, max_height=320)
    with gr.Accordion("Adjudicate a disputed answer (lead)", open=False, elem_id="adjudicate-panel"):
        with gr.Row():
            unit = gr.Dropdown(label="Disputed answer", choices=[], elem_id="adjudicate-unit", scale=3)
            label = gr.Radio(label="Final label", choices=[], elem_id="adjudicate-label", scale=2)
            lead = gr.Textbox(label="Lead", elem_id="adjudicate-lead", scale=1)
        save = gr.Button("Save final label", elem_id="adjudicate-save", size="sm")
        adjudicated = gr.Markdown(elem_id="adjudicate-status")
    with gr.Row():
        export = gr.Button("Export CSV, JSONL and CoALM training data", elem_id="results-export", size="sm")
    export_status = gr.Markdown(elem_id="results-export-status")
    files = gr.File(file_count="multiple", label="Export", elem_id="results-files", height=120)

    show.click(tab.show, [token], [status, *tables.values(), plot, unit])
    unit.change(tab.labels_for, [unit], [label])
    save.click(tab.adjudicate, [token, unit, label, lead], [adjudicated, status, *tables.values(), plot, unit])
    export.click(tab.export, [token], [export_status, files])


def counted(number: int, noun: str) -> str:
    """"1 arena vote", "2 arena votes": a stakeholder reads the summary line."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
