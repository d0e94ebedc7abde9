"""Races between processes: how many start on an empty database, how many rounds of bookings overbook.

    python -m benchmarks.races --db sqlite:///tmp/race.sqlite3 [--starts 5] [--rounds 50]
    python -m benchmarks.races --db postgresql+psycopg://user@127.0.0.1:5432/db   (a database of its own:
                                                                               its tables are dropped first)

Start-up: STARTERS processes open the toolbox at once on an empty database (as two Space replicas or a CLI
beside the app do); prints how many of them failed. Bookings: CALLERS processes each book one room of a hotel
night with five rooms free, at once, in one dialogue; prints the rounds that booked more than five.
"""

from __future__ import annotations

import argparse
import multiprocessing
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from app.dialogue.events import Booked
from app.settings import SIBLING_MULTIWOZ_DB
from app.tools.toolbox import Toolbox
from db.engine import make_engine
from db.importer import LocalFolder, ensure_imported
from db.schema import Base
from domains import domain
from domains.values import WEEKDAYS

STARTERS = 4
CALLERS = 8


def _start(url: str, data_dir: str, gate: multiprocessing.Barrier, failures: multiprocessing.Queue) -> None:
    engine = make_engine(url)
    gate.wait()
    try:
        ensure_imported(engine, [LocalFolder(Path(data_dir))])
    except Exception as error:  # what a replica that fails to start would show
        failures.put(f"{type(error).__name__}: {str(error).splitlines()[0][:120]}")


def _book(url: str, request: dict, dialogue: str, gate: multiprocessing.Barrier, booked: multiprocessing.Queue) -> None:
    toolbox = Toolbox(make_engine(url))
    gate.wait()
    booked.put(isinstance(toolbox.call("BookHotel", request, dialogue), Booked))


def _run_all(target: Callable[..., None], args: tuple, count: int) -> None:
    processes = [multiprocessing.Process(target=target, args=args) for _ in range(count)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()


def empty(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = Path(make_url(url).database)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        return
    Base.metadata.drop_all(engine)
    engine.dispose()


def startup_race(url: str, starts: int, data_dir: Path) -> None:
    failed_runs = 0
    for _ in range(starts):
        empty(url)
        gate, failures = multiprocessing.Barrier(STARTERS), multiprocessing.Queue()
        _run_all(_start, (url, str(data_dir), gate, failures), STARTERS)
        errors = [failures.get() for _ in range(failures.qsize())]
        failed_runs += bool(errors)
        print(f"start-up: {STARTERS - len(errors)}/{STARTERS} processes started", *errors[:2], sep="  ")
    print(f"start-up: {failed_runs}/{starts} runs had a process fail")


def booking_race(url: str, rounds: int) -> None:
    toolbox = Toolbox(make_engine(url))
    rule = domain("hotel").booking
    hotel, day = next((h, d) for h in toolbox.catalogue.vocabulary(domain("hotel"), domain("hotel").slot("name"))
                      for d in WEEKDAYS if rule.free(h, d, []) == 5)
    request = {"name": hotel, "day": day, "people": 2, "stay": 1}
    overbooked = 0
    for _ in range(rounds):
        dialogue, gate, booked = f"race-{uuid.uuid4().hex}", multiprocessing.Barrier(CALLERS), multiprocessing.Queue()
        _run_all(_book, (url, request, dialogue, gate, booked), CALLERS)
        overbooked += sum(booked.get() for _ in range(CALLERS)) > 5
    print(f"bookings: {overbooked}/{rounds} rounds booked more than the 5 free rooms ({CALLERS} processes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of a database this may empty")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=SIBLING_MULTIWOZ_DB)
    args = parser.parse_args()
    startup_race(args.db, args.starts, args.data_dir)
    booking_race(args.db, args.rounds)


if __name__ == "__main__":
    main()
