"""Krippendorff's alpha on a small rated set built here, through the real store and agreement code.

    python -m benchmarks.agreement_small_set [--dialogues 12] [--seed 7]

The set: recorded dialogues of two scripted systems (one finds and books the hotel, one does neither), run
through the real agent loop and tools, queued for review, rated by three simulated raters. They are
simulated, not people: ann and bob judge by the outcome (bob a notch milder), cy judges like bob but picks a
neighbouring answer a quarter of the time (seeded). So the alpha printed measures how much that
disagreement costs, and shows the pipeline end to end; it says nothing about human raters.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from app.dialogue.transcript import Transcript
from app.settings import Settings
from app.tools.toolbox import Toolbox
from app.workbench.agreement import agreement_table, most_disputed
from app.workbench.questions import question
from app.workbench.review_store import ReviewStore
from db.engine import make_engine
from db.importer import default_sources, ensure_imported
from tests.workbench_seed import recorded_dialogue, replies

VERDICTS = {"ann": {True: ("yes", "5", "like"), False: ("no", "1", "dislike")},
            "bob": {True: ("yes", "4", "like"), False: ("partly", "2", "dislike")}}


def neighbour(name: str, value: str, rng: random.Random) -> str:
    options = question(name).options
    at = options.index(value) + rng.choice((-1, 1))
    return options[min(max(at, 0), len(options) - 1)]


def answers(rater: str, good: bool, reply_ids: list[str], rng: random.Random) -> dict[tuple[str, str], str]:
    completed, natural, reply = VERDICTS.get(rater, VERDICTS["bob"])[good]
    given = {("task_completed", ""): completed, ("naturalness", ""): natural,
             **{("reply", r): reply for r in reply_ids}}
    if rater == "cy":
        given = {key: neighbour(key[0], value, rng) if rng.random() < 0.25 else value for key, value in given.items()}
    return given


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(home=Path(folder))
        engine = make_engine(settings.database_url)
        ensure_imported(engine, default_sources(settings.data_dir, settings.download_dir, settings.download_timeout_s))
        toolbox, store = Toolbox(engine), ReviewStore(engine, raters_per_item=3)
        for number in range(args.dialogues):
            good = number % 2 == 0
            transcript = recorded_dialogue(toolbox, "good" if good else "weak", number)
            store.enqueue(transcript.id, transcript.to_data(), dict(transcript.meta), "benchmark")
        for rater in ("ann", "bob", "cy"):
            while (item := store.next_item(rater)) is not None:
                transcript = Transcript.from_data({**item.transcript, "meta": {}})
                store.answer(item.id, rater, answers(rater, "good" in item.id, replies(transcript), rng))
        rows = store.answers()
        print(f"{args.dialogues} dialogues x 3 raters, {len(rows)} answers")
        print(agreement_table(rows).to_string(index=False))
        print("most disputed:", [(u.item_id, u.question, round(score, 2)) for u, score, _ in most_disputed(rows, 3)])
        engine.dispose()


if __name__ == "__main__":
    main()
