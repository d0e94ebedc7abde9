"""Races: processes starting at once on an empty database, and simultaneous bookings in one dialogue."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from app.dialogue.events import Booked, Refused
from app.settings import REPO_ROOT
from app.tools.toolbox import Toolbox
from db.engine import make_engine
from domains import domain
from domains.values import WEEKDAYS
from tests.db.test_importer import EXPECTED_ROWS, row_counts

STARTERS = 4
# Starts the app's toolbox as the app does (Toolbox.open), once every process is ready.
START = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from app.settings import Settings
from app.tools.toolbox import Toolbox
print("ready", flush=True)
sys.stdin.readline()
toolbox = Toolbox.open(Settings())
print(toolbox.call("FindHotel", {}, "start").count)
"""


def test_processes_starting_at_once_on_an_empty_database_all_start(empty_db_url, raw_db_dir, tmp_path):
    env = {**os.environ, "WOZ_DB_URL": empty_db_url, "WOZ_DATA_DIR": str(raw_db_dir), "WOZ_HOME": str(tmp_path)}
    starters = [subprocess.Popen([sys.executable, "-c", START], cwd=REPO_ROOT, env=env, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(STARTERS)]
    for process in starters:  # every interpreter is up before any of them touches the database
        assert process.stdout.readline() == "ready\n"
    for process in starters:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [process.communicate(timeout=120) for process in starters]
    assert [p.returncode for p in starters] == [0] * STARTERS, [err[-600:] for _out, err in results]
    assert [out.strip() for out, _err in results] == ["33"] * STARTERS
    assert sum("Imported MultiWOZ data" in err for _out, err in results) == 1  # one imports, the others find it
    assert row_counts(make_engine(empty_db_url)) == EXPECTED_ROWS


def five_free_rooms(toolbox: Toolbox) -> tuple[str, str]:
    """A hotel night with exactly five rooms free at the start of every dialogue."""
    rule = domain("hotel").booking
    return next((hotel, day) for hotel in toolbox.catalogue.vocabulary(domain("hotel"), domain("hotel").slot("name"))
                for day in WEEKDAYS if rule.free(hotel, day, []) == 5)


ROUNDS = 15
CALLERS = 8


def test_simultaneous_bookings_in_one_dialogue_never_overbook(db_url, db_toolbox):
    """Eight callers, each with its own engine (as separate processes have), book one room at once, many times."""
    hotel, day = five_free_rooms(db_toolbox)
    request = {"name": hotel, "day": day, "people": 2, "stay": 1}
    toolboxes = [Toolbox(make_engine(db_url)) for _ in range(CALLERS)]
    booked_per_round = []
    with ThreadPoolExecutor(CALLERS) as pool:
        for _round in range(ROUNDS):
            dialogue, start = f"race-{uuid.uuid4().hex}", threading.Barrier(CALLERS)

            def call(toolbox: Toolbox, dialogue: str = dialogue, start: threading.Barrier = start) -> str:
                start.wait()
                answer = toolbox.call("BookHotel", request, dialogue)
                assert isinstance(answer, Booked | Refused), answer
                return answer.kind

            statuses = list(pool.map(call, toolboxes))
            assert len(db_toolbox.bookings(dialogue)) == statuses.count("booked")
            booked_per_round.append(statuses.count("booked"))
    for toolbox in toolboxes:
        toolbox.catalogue.engine.dispose()
    assert booked_per_round == [5] * ROUNDS


def test_threads_sharing_one_toolbox_never_overbook(db_toolbox):
    """The app's own case: Gradio worker threads calling one Toolbox."""
    hotel, day = five_free_rooms(db_toolbox)
    request = {"name": hotel, "day": day, "people": 2, "stay": 1}
    with ThreadPoolExecutor(CALLERS) as pool:
        for _round in range(ROUNDS):
            dialogue, start = f"race-{uuid.uuid4().hex}", threading.Barrier(CALLERS)

            def call(_index: int, dialogue: str = dialogue, start: threading.Barrier = start) -> str:
                start.wait()
                answer = db_toolbox.call("BookHotel", request, dialogue)
                assert isinstance(answer, Booked | Refused), answer
                return answer.kind

            assert sorted(pool.map(call, range(CALLERS))) == ["booked"] * 5 + ["refused"] * 3
            assert len(db_toolbox.bookings(dialogue)) == 5
