"""Raters clicking at once, in separate processes: how fast the stores take their clicks, and whether exactly one
current answer per rater, item and question is left.

    python -m benchmarks.rating_clicks --db sqlite:///tmp/clicks.sqlite3 [--raters 8] [--clicks 100]
    python -m benchmarks.rating_clicks --db postgresql+psycopg://user@127.0.0.1:5432/db

Each rater is a process of its own (as app replicas are) and changes their mind all the time: a seeded stream of
clicks over one dialogue's replies in the chat (like, dislike, a flag, taking it back; each click sent twice at
once, as Gradio's flag menu does), review answers on one item and arena votes on one match's turns. Prints the
clicks per second, the median and 99th-percentile click in milliseconds, and the rows left against the rows
expected (the last click of each rater on each unit).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.workbench.annotations import MESSAGE_FEEDBACK, AnnotationStore
from app.workbench.arena_store import ArenaStore
from app.workbench.review_store import ReviewStore
from app.workbench.tables import ArenaVote, ReviewAnswer
from db.engine import make_engine
from db.schema import MessageRating

REPLIES = [f"ev-{i}" for i in range(4)]


def plan(rater: int, clicks: int) -> list[tuple[str, str, str]]:
    """(door, target, value) per click, seeded by the rater."""
    rng = random.Random(rater)
    made = []
    for _ in range(clicks):
        door = rng.choice(("chat", "review", "arena"))
        if door == "chat":
            made.append((door, rng.choice(REPLIES), rng.choice([*MESSAGE_FEEDBACK, ""])))
        elif door == "review":
            made.append((door, rng.choice(REPLIES), rng.choice(("like", "dislike"))))
        else:
            made.append((door, str(rng.randrange(3)), rng.choice(("a", "b", "tie", "bothbad"))))
    return made


def rater(url: str, index: int, clicks: int, ids: tuple[str, str, str], gate: multiprocessing.Barrier,
          times: multiprocessing.Queue) -> None:
    engine = make_engine(url)
    chat, review, arena = AnnotationStore(engine), ReviewStore(engine), ArenaStore(engine)
    dialogue, item, match = ids
    name = f"rater{index}"
    spent = []
    with ThreadPoolExecutor(2) as twice:
        gate.wait()
        for door, target, value in plan(index, clicks):
            began = time.perf_counter()
            if door == "chat":  # sent twice at once, as Gradio's flag menu does
                sent = [twice.submit(chat.rate_message, dialogue, target, 0, "reply", value, name) for _ in range(2)]
                for click in sent:
                    click.result()
            elif door == "review":
                review.answer(item, name, {("reply", target): value})
            else:
                arena.vote(match, value, name, int(target))
            spent.append((time.perf_counter() - began) * 1000)
    times.put(spent)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a SQLAlchemy URL of a scratch database")
    parser.add_argument("--raters", type=int, default=8)
    parser.add_argument("--clicks", type=int, default=100)
    args = parser.parse_args()
    engine = make_engine(args.db)
    ids = (f"d-{uuid.uuid4().hex[:8]}", f"i-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}")
    ReviewStore(engine).enqueue(ids[1], {"events": []}, {"backend": "benchmark"}, "benchmark")
    ArenaStore(engine).record_match(ids[2], "coalm", "tools", f"{ids[2]}-a", f"{ids[2]}-b")
    gate, times = multiprocessing.Barrier(args.raters), multiprocessing.Queue()
    processes = [multiprocessing.Process(target=rater, args=(args.db, i, args.clicks, ids, gate, times))
                 for i in range(args.raters)]
    began = time.perf_counter()
    for process in processes:
        process.start()
    spent = [ms for _ in processes for ms in times.get()]
    for process in processes:
        process.join()
    wall = time.perf_counter() - began
    last: dict[tuple[str, int, str], str] = {}
    for index in range(args.raters):
        for door, target, value in plan(index, args.clicks):
            last[door, index, target] = value
    expected = {door: sum(1 for (d, _, _), v in last.items() if d == door and v != "") for door in ("chat", "review",
                                                                                                  "arena")}
    with Session(engine) as session:
        found = {"chat": session.scalar(select(func.count()).where(MessageRating.dialogue_id == ids[0])),
                 "review": session.scalar(select(func.count()).where(ReviewAnswer.item_id == ids[1])),
                 "arena": session.scalar(select(func.count()).where(ArenaVote.match_id == ids[2]))}
    quantiles = statistics.quantiles(spent, n=100)
    print(f"{engine.dialect.name}: {args.raters} raters x {args.clicks} clicks in {wall:.1f} s (process start "
          f"included): {len(spent) / wall:.0f} clicks/s; click median {statistics.median(spent):.1f} ms, "
          f"p99 {quantiles[98]:.1f} ms")
    for door in ("chat", "review", "arena"):
        print(f"  {door}: {found[door]} rows, {expected[door]} expected (one per rater and unit)")
    engine.dispose()


if __name__ == "__main__":
    main()
