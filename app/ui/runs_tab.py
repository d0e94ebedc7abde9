"""The Runs tab: the evaluation and simulation runs below the runs folder, a run's dialogues filtered by verdict,
blame, domain and cost, and one dialogue shown with the chat's panels as it stood at any event (the slider).
Reading the folders is `app.workbench.runs`; this module only renders."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from app.dialogue.transcript import Transcript
from app.simulation.fork import event_number
from app.ui import view
from app.ui.fork_panel import ANSWERS, MODEL
from app.workbench.runs import (
    VERDICTS,
    DialogueFilter,
    NotARun,
    RunsFolder,
    as_it_was,
    by_goal,
    event_label,
    first_difference,
)

BLAMES = ("", "agent", "user", "infrastructure")
RUN_COLUMNS = ["run", "command", "system", "user", "date", "dialogues", "inform", "success", "book", "complete", "jga"]


class RunsPicks(NamedTuple):
    """What the page needs of the Runs tab to fork into the Chat tab: the picked run, dialogue and event, the
    button and the line that says how it went."""

    run: gr.Dropdown
    dialogue: gr.Dropdown
    event: gr.Slider
    fork: gr.Button
    status: gr.Markdown
    answers: gr.Radio  # who goes on in the fork: the page's model or the rule-based system


class RunsTab:
    """The Runs tab's handlers over the runs below one folder."""

    def __init__(self, folder: RunsFolder) -> None:
        self.folder = folder

    def list_runs(self, under: str) -> tuple[Any, ...]:
        """The runs below the chosen folder (relative to the runs folder): status, table, the run chooser."""
        try:
            runs = self.folder.runs(under)
        except NotARun as error:
            return f"⚠️ {error}", gr.skip(), gr.skip()
        frame = pd.DataFrame([run.row() for run in runs], columns=RUN_COLUMNS).dropna(axis=1, how="all")
        names = [run.name for run in runs]
        return (f"{len(runs)} run{'' if len(runs) == 1 else 's'} found." if runs else "No runs found in that folder.",
                frame, gr.update(choices=names, value=names[0] if names else None))

    def dialogues(self, run: str | None, verdict: str, blame: str, domain: str, min_calls: float | None
                  ) -> tuple[Any, ...]:
        """The run's dialogues that pass the filters: status, table, the dialogue chooser, the domain choices."""
        if not run:
            return "Choose a run.", None, gr.update(choices=[], value=None), gr.skip()
        try:
            rows = self.folder.dialogues(run)
        except NotARun as error:
            return f"⚠️ {error}", None, gr.update(choices=[], value=None), gr.skip()
        keep = DialogueFilter(verdict or "any", blame or "", domain or "", int(min_calls or 0))
        kept = [row for row in rows if keep.keeps(row)]
        domains = sorted({d for row in rows for d in row.domains})
        ids = [row.id for row in kept]
        frame = pd.DataFrame([row.row() for row in kept]) if kept else pd.DataFrame(columns=["dialogue"])
        return (f"{len(kept)} of {len(rows)} dialogues of {run} shown.", frame,
                gr.update(choices=ids, value=ids[0] if ids else None),
                gr.update(choices=["", *domains], value=domain if domain in domains else ""))

    def open_dialogue(self, run: str | None, dialogue_id: str | None) -> tuple[Any, ...]:
        """A dialogue at its last event: the slider (set to its events), then the panels."""
        transcript = self.transcript(run, dialogue_id)
        if transcript is None or not transcript.events:
            return (gr.update(minimum=1, maximum=2, value=1), *self._panels(Transcript(), ""))
        last = len(transcript.events)  # a slider needs two ends: a one-event dialogue's second end shows the same
        return (gr.update(minimum=1, maximum=max(last, 2), value=last, step=1),
                *self._panels(transcript, event_label(transcript, last - 1)))

    def at_event(self, run: str | None, dialogue_id: str | None, number: float | None) -> tuple[Any, ...]:
        """The panels as they stood after event `number` (1-based) of the dialogue."""
        transcript = self.transcript(run, dialogue_id)
        if transcript is None or not transcript.events:
            return self._panels(Transcript(), "")
        index = event_number(number, len(transcript.events)) - 1
        return self._panels(as_it_was(transcript, index), event_label(transcript, index))

    def run_names(self, under: str) -> Any:
        """The runs below the chosen folder: the side-by-side's second-run chooser (the second one when there is)."""
        try:
            names = [run.name for run in self.folder.runs(under)]
        except NotARun:
            names = []
        return gr.update(choices=names, value=names[1] if len(names) > 1 else None)

    def goals_in_both(self, run: str | None, other: str | None) -> Any:
        """The goals both runs ran: the side-by-side's goal chooser."""
        try:
            shared = sorted(set(by_goal(self.folder.dialogues(run))) & set(by_goal(self.folder.dialogues(other)))) \
                if run and other else []
        except NotARun:
            shared = []
        return gr.update(choices=shared, value=shared[0] if shared else None)

    def side_by_side(self, run: str | None, other: str | None, goal: str | None) -> tuple[Any, ...]:
        """The two runs' dialogues of `goal`, the first event where they differ marked in each: a line, two chats."""
        if not run or not other or not goal:
            return "Choose a second run and a goal both ran.", [], []
        try:
            one = self.folder.transcript(run, by_goal(self.folder.dialogues(run))[goal])
            two = self.folder.transcript(other, by_goal(self.folder.dialogues(other))[goal])
        except (NotARun, KeyError):
            return f"Both runs must have run {goal}.", [], []
        parted = first_difference(one, two)
        if parted is None:
            return f"{goal}: the two dialogues say the same, event for event.", _chat(one), _chat(two)
        here, there = parted
        where = [f"{name}: event {i + 1} ({t.events[i].kind}, turn {t.events[i].turn + 1})" if i is not None
                 else f"{name}: ended before it" for name, i, t in (("left", here, one), ("right", there, two))]
        return (f"{goal}: the dialogues part at the first event marked ⚑ ({'; '.join(where)}).",
                _chat(one, here), _chat(two, there))

    def transcript(self, run: str | None, dialogue_id: str | None) -> Transcript | None:
        """The run's dialogue, or None when none is picked or it is not there."""
        if not run or not dialogue_id:
            return None
        try:
            return self.folder.transcript(run, dialogue_id)
        except NotARun:
            return None

    @staticmethod
    def _panels(transcript: Transcript, label: str) -> tuple[Any, ...]:
        messages, _ids = view.chat_messages(transcript)
        return (label, messages, view.belief_html(transcript),
                view.table_html(view.api_calls(transcript), "runs-api-calls-table"),
                view.table_html(view.database_rows(transcript), "runs-db-results-table"),
                view.table_html(view.bookings(transcript), "runs-bookings-table"))


MARK = "⚑ **The runs part here**"


def _chat(transcript: Transcript, parted: int | None = None) -> list[dict[str, Any]]:
    """The chat's messages, the first one showing the event at `parted` or later marked."""
    messages, ids = view.chat_messages(transcript)
    if parted is None:
        return messages
    position = {event.id: i for i, event in enumerate(transcript.events)}
    marked = next((n for n, event_id in enumerate(ids) if position.get(event_id, -1) >= parted), None)
    if marked is None:
        return [*messages, {"role": "assistant", "content": f"{MARK}: nothing more was said."}]
    messages[marked] = {**messages[marked], "content": f"{MARK}\n\n{messages[marked]['content']}"}
    return messages


def build_runs_tab(tab: RunsTab) -> RunsPicks:
    """The Runs tab's components, wired to `tab`; the picks the page wires to the Chat tab."""
    gr.Markdown("Every evaluation and simulation run below the runs folder. Open a run to filter its dialogues, "
                "and a dialogue to step through its events.", elem_classes=["tab-intro"])
    with gr.Row():
        under = gr.Textbox(label="Folder (below the runs folder; empty: all of it)", elem_id="runs-folder", scale=3)
        show = gr.Button("List runs", variant="primary", elem_id="runs-list", scale=1)
    status = gr.Markdown(elem_id="runs-status")
    runs = gr.Dataframe(elem_id="runs-table", interactive=False, wrap=True, max_height=260)
    with gr.Row():
        run = gr.Dropdown(label="Run", choices=[], elem_id="runs-run", scale=2)
        verdict = gr.Radio(list(VERDICTS), value="any", label="Verdict", elem_id="runs-verdict", scale=2)
        blame = gr.Dropdown(list(BLAMES), value="", label="Blame", elem_id="runs-blame", scale=1)
        domain = gr.Dropdown([""], value="", label="Domain", elem_id="runs-domain", scale=1)
        min_calls = gr.Number(0, label="At least N model calls", elem_id="runs-min-calls", precision=0, scale=1)
    dialogues_status = gr.Markdown(elem_id="runs-dialogues-status")
    dialogues = gr.Dataframe(elem_id="runs-dialogues", interactive=False, wrap=True, max_height=260)
    dialogue = gr.Dropdown(label="Dialogue", choices=[], elem_id="runs-dialogue")
    event = gr.Slider(1, 2, value=1, step=1, label="Event", elem_id="runs-event")
    event_text = gr.Markdown(elem_id="runs-event-label")
    with gr.Row():
        answers = gr.Radio(ANSWERS, value=MODEL, label="Who answers the fork", elem_id="runs-fork-answers", scale=3)
        fork = gr.Button("Fork into the Chat tab at this event", elem_id="runs-fork", size="sm", scale=1)
    fork_status = gr.Markdown(elem_id="runs-fork-status")
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown("#### Dialogue (read-only)", elem_classes=["panel-title"])
            chat = gr.Chatbot(elem_id="runs-chat", label="Dialogue (read-only)", show_label=False, buttons=[],
                              latex_delimiters=[], allow_tags=False, sanitize_html=True)
        with gr.Column(scale=2):
            gr.Markdown("### Belief state", elem_classes=["panel-title"])
            belief = gr.HTML(elem_id="runs-belief")
            gr.Markdown("### API calls (newest first)", elem_classes=["panel-title"])
            calls = gr.HTML(elem_id="runs-api-calls")
            gr.Markdown("### Database results", elem_classes=["panel-title"])
            rows = gr.HTML(elem_id="runs-db-results")
            gr.Markdown("### Bookings", elem_classes=["panel-title"])
            booked = gr.HTML(elem_id="runs-bookings")
    with gr.Accordion("Two runs side by side on the same goal", open=False, elem_id="runs-compare-panel"):
        with gr.Row():
            other = gr.Dropdown(label="Second run", choices=[], elem_id="runs-other", scale=2)
            goal = gr.Dropdown(label="Goal both ran", choices=[], elem_id="runs-goal", scale=1)
            compare = gr.Button("Side by side", elem_id="runs-compare", size="sm", scale=0)
        compared = gr.Markdown(elem_id="runs-compare-status")
        with gr.Row():
            left = gr.Chatbot(elem_id="runs-compare-left", label="Run (above)", buttons=[], latex_delimiters=[],
                              allow_tags=False, sanitize_html=True)
            right = gr.Chatbot(elem_id="runs-compare-right", label="Second run", buttons=[], latex_delimiters=[],
                               allow_tags=False, sanitize_html=True)
    panels = [event_text, chat, belief, calls, rows, booked]
    filters = [run, verdict, blame, domain, min_calls]
    listed = [dialogues_status, dialogues, dialogue, domain]

    for trigger in (show.click, under.submit):
        trigger(tab.list_runs, [under], [status, runs, run]).then(tab.run_names, [under], other)
    for picked in (run, other):
        picked.change(tab.goals_in_both, [run, other], goal)
    compare.click(tab.side_by_side, [run, other, goal], [compared, left, right])
    run.change(tab.dialogues, filters, listed)
    for control in (verdict, blame, domain):
        control.input(tab.dialogues, filters, listed)
    min_calls.submit(tab.dialogues, filters, listed)
    dialogue.change(tab.open_dialogue, [run, dialogue], [event, *panels])
    event.release(tab.at_event, [run, dialogue, event], panels, trigger_mode="always_last")
    event.input(tab.at_event, [run, dialogue, event], panels, trigger_mode="always_last")
    return RunsPicks(run, dialogue, event, fork, fork_status, answers)
