"""The annotation workbench's tabs (review queue, arena, results), assembled from the demo's database and model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr

from app.dialogue.transcript import Transcript
from app.tools.toolbox import Toolbox
from app.ui.arena_tab import ArenaTab, build_arena_tab
from app.ui.demo import DemoApp
from app.ui.results_tab import ResultsTab, build_results_tab
from app.ui.review_tab import ReviewFork, ReviewTab, build_review_tab
from app.ui.runs_tab import RunsPicks, RunsTab, build_runs_tab
from app.workbench.annotations import AnnotationStore
from app.workbench.arena import Arena, arena_systems
from app.workbench.arena_store import ArenaStore
from app.workbench.review_store import SHARED, ReviewStore
from app.workbench.runs import RunsFolder


@dataclass(frozen=True)
class Workbench:
    """The workbench tabs' handlers (review queue, arena, results, runs) over the demo's database and runs folder."""

    review: ReviewTab
    arena: ArenaTab
    results: ResultsTab
    runs: RunsTab

    @classmethod
    def of(cls, app: DemoApp) -> Workbench | None:
        """None when the demo has no database (the page says why in its header)."""
        if app.store is None:
            return None
        engine = app.store.engine
        review, votes = app.review or ReviewStore(engine, app.settings.raters_per_item), ArenaStore(engine)
        toolbox = app.system.toolbox if app.system else Toolbox(engine, app.settings.find_limit)
        saver = AnnotationStore(engine)

        def save_side(transcript: Transcript) -> None:
            """Save an arena side; a side its person shared joins the review queue (once it has an answer),
            one no longer shared leaves it."""
            saver.save_transcript(transcript)
            if transcript.meta.get(SHARED):
                review.share(transcript)
            else:
                review.withdraw(transcript.id)

        def make_arena() -> Arena:
            shared = app.system.backend if app.system else None
            return Arena(arena_systems(app.settings, toolbox, shared), votes, save_side)

        exports = app.settings.home / "exports"
        results = ResultsTab(review, votes, app.settings.admin_token, exports)
        return cls(ReviewTab(review), ArenaTab(make_arena, save_side, app.settings.share_default), results,
                   RunsTab(RunsFolder(app.settings.runs_dir)))


class ForkSources(NamedTuple):
    """What the page wires to the Chat tab's fork: the Runs tab's picks and the Review queue's fork panel (None
    without a database)."""

    runs: RunsPicks | None = None
    review: ReviewFork | None = None


def build_workbench_tabs(workbench: Workbench | None, concurrency: dict[str, Any]
                         ) -> tuple[list[gr.Textbox], ForkSources]:
    """The four tabs, to be called inside the page's gr.Tabs. Returns the boxes where a person types their name,
    and the places a dialogue can be forked from into the Chat tab."""
    names: list[gr.Textbox] = []
    forks: dict[str, Any] = {}

    def review(w: Workbench) -> gr.Textbox:
        rater, forks["review"] = build_review_tab(w.review)
        return rater

    tabs: list[tuple[str, str, Callable[[Workbench], gr.Textbox | None]]] = [
        ("Review queue", "review", review),
        ("Arena", "arena", lambda w: build_arena_tab(w.arena, concurrency)),
        ("Results", "results", lambda w: build_results_tab(w.results)),
        ("Runs", "runs", lambda w: forks.update(runs=build_runs_tab(w.runs))),
    ]
    for title, tab_id, build in tabs:
        with gr.Tab(title, id=tab_id, elem_id=f"tab-{tab_id}"):
            if workbench is None:
                gr.Markdown("The database is not available, so this tab cannot open; see the header.")
            elif (name := build(workbench)) is not None:
                names.append(name)
    return names, ForkSources(**forks)
