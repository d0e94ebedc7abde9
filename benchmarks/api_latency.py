"""Median and p99 latency of each API over mixed calls on SQLite (target: p99 under 2 ms for every API).

    python -m benchmarks.api_latency [--calls 12000] [--db sqlite:///path]  (default: a temporary SQLite file)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from app.settings import Settings
from app.tools.toolbox import Toolbox
from domains.values import WEEKDAYS

AREAS = ["centre", "north", "south", "east", "west", "dontcare"]


def call_mix(toolbox: Toolbox, rng: random.Random, count: int) -> list[tuple[str, dict]]:
    """Calls as dialogues make them, ten per dialogue: constraints drawn from the data, some refused, some bad."""
    hotels = toolbox.catalogue.vocabulary(*_slot("hotel", "name"))
    restaurants = toolbox.catalogue.vocabulary(*_slot("restaurant", "name"))
    foods = toolbox.catalogue.vocabulary(*_slot("restaurant", "food"))
    stations = toolbox.catalogue.vocabulary(*_slot("train", "departure"))
    trains = toolbox.catalogue.find(_slot("train", "trainid")[0], {}, None).rows
    time = lambda: f"{rng.randint(5, 23):02d}:{rng.choice(['00', '15', '30', '45'])}"  # noqa: E731
    makers = {
        "FindHotel": lambda: {"area": rng.choice(AREAS), "pricerange": rng.choice(["cheap", "moderate", "expensive"]),
                              "stars": rng.choice(["3", "4", "dontcare"]), "parking": "yes"},
        "FindRestaurant": lambda: {"food": rng.choice(foods), "area": rng.choice(AREAS)},
        "FindAttraction": lambda: {"area": rng.choice(AREAS), "type": rng.choice(["museum", "college", "park"])},
        "FindTrain": lambda: {"departure": rng.choice(stations), "destination": rng.choice(stations),
                              "day": rng.choice(WEEKDAYS), "leaveat": time()},
        "BookHotel": lambda: {"name": rng.choice(hotels), "day": rng.choice(WEEKDAYS), "people": rng.randint(1, 6),
                              "stay": rng.randint(1, 5)},
        "BookRestaurant": lambda: {"name": rng.choice(restaurants), "day": rng.choice(WEEKDAYS),
                                   "people": rng.randint(1, 8), "time": time()},
        "BookTrain": lambda: (lambda t: {"trainid": t["trainid"], "day": t["day"], "leaveat": t["leaveat"],
                                         "people": rng.randint(1, 4)})(rng.choice(trains)),
        "BookTaxi": lambda: {"departure": rng.choice(hotels), "destination": rng.choice(restaurants),
                             "leaveat": time()},
    }
    return [(name, makers[name]()) for name in rng.choices(list(makers), k=count)]


def _slot(domain_name: str, slot_name: str):
    from domains import domain

    d = domain(domain_name)
    return d, d.slot(slot_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=12_000)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a new temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        toolbox = Toolbox.open(Settings(home=Path(tmp), db_url=args.db))
        rng = random.Random(7)
        calls = call_mix(toolbox, rng, args.calls)
        for name, arguments in calls[:200]:  # warm caches (compiled SQL, fuzzy vocabularies)
            toolbox.call(name, arguments, "warmup")
        timings: dict[str, list[float]] = defaultdict(list)
        outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for i, (name, arguments) in enumerate(calls):
            start = time.perf_counter()
            answer = toolbox.call(name, arguments, f"bench-{i // 10}")
            timings[name].append((time.perf_counter() - start) * 1000)
            outcomes[name][answer.kind] += 1  # found, booked, refused or error
    print(f"{'API':<16}{'calls':>7}{'median ms':>11}{'p99 ms':>9}  outcomes")
    worst = 0.0
    for name in sorted(timings):
        values = sorted(timings[name])
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        worst = max(worst, p99)
        print(f"{name:<16}{len(values):>7}{statistics.median(values):>11.3f}{p99:>9.3f}  {dict(outcomes[name])}")
    print(f"worst p99: {worst:.3f} ms (target < 2 ms): {'PASS' if worst < 2 else 'FAIL'}")


if __name__ == "__main__":
    main()
