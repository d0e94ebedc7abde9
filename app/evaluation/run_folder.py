"""The `--out` folder of a run (`app.evaluate`, `app.simulate`), and running its dialogues so that they hold.

- One run at a time: `run.lock` is held while a run writes there (an OS lock, released when the process ends,
  even by kill -9); a second run into the same folder is refused at once.
- Resumed only by the same setup: `run.json` records what made the folder's dialogues (the command, the system,
  its format, and whatever else changes them: the simulated user, the label version). A rerun with the same setup
  skips the finished dialogues; any other is refused, since its numbers would mix two systems under one name.
- Stopped by a signal without losing a finished dialogue: SIGINT or SIGTERM sets a stop flag that the running
  dialogues see at their next step, and no queued dialogue starts; a dialogue cut short is kept in `stopped.jsonl`
  (so every booking it made has its transcript) and runs again on resume. A second signal ends the process at once.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from app.dialogue.transcript import Transcript

SETUP_FILE = "run.json"
LOCK_FILE = "run.lock"
STOPPED_FILE = "stopped.jsonl"
# Files a run leaves behind: a folder holding one of them but no run.json was made before runs recorded their setup.
OUTPUT_FILES = ("results.jsonl", "transcripts.jsonl", "predictions.json", "metrics.json")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Result = TypeVar("Result")
Setup = Mapping[str, Any]


class RunRefused(Exception):
    """The run cannot use this folder (or this argument); the message is one line saying what to do instead."""


@dataclass(frozen=True)
class Stopped:
    """A dialogue a stop cut short: not a result (it runs again on resume), but kept with what it did."""

    transcript: Transcript


class RunFolder:
    """A run's `--out` folder, held for the run: `with RunFolder(out) as folder: folder.resume(setup)`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: FileLock | None = None

    def __enter__(self) -> RunFolder:
        if self.path.exists() and not self.path.is_dir():
            raise RunRefused(f"--out {self.path} is a file; give a folder (it is made if missing)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunRefused(f"--out {self.path}: cannot make the folder ({error.strerror or error})") from None
        lock = FileLock(self.path / LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise RunRefused(f"another run is writing to {self.path} (it holds {LOCK_FILE}); wait for it to end, "
                             "or give another --out") from None
        self._lock = lock
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._lock is not None:
            self._lock.release()

    def recorded(self) -> dict[str, Any] | None:
        """The setup recorded in the folder, or None when it has none."""
        try:
            setup = json.loads((self.path / SETUP_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise RunRefused(f"{self.path / SETUP_FILE} cannot be read ({error}); give another --out") from None
        return setup if isinstance(setup, dict) else None

    def resume(self, setup: Setup, earlier: Callable[[Path], dict[str, Any] | None] = lambda _path: None) -> None:
        """Check that the folder's dialogues were made by `setup` (or that it has none yet), then record it.
        `earlier` reads the setup of a folder made before run.json existed from its files (None: cannot tell)."""
        wanted = dict(setup)
        found = recorded = self.recorded()
        if recorded is None and any((self.path / name).exists() for name in OUTPUT_FILES):
            found = earlier(self.path)
            if found is None:
                raise RunRefused(f"{self.path} holds results whose setup was not recorded (an older run, or another "
                                 "command's); give another --out")
        if found is not None and found != wanted:
            raise RunRefused(f"{self.path} holds {describe(found)}, not {describe(wanted)}; a run there resumes what "
                             "it holds, so give the same flags or another --out")
        if recorded is None:
            (self.path / SETUP_FILE).write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")

    def keep_stopped(self, stopped: Stopped) -> None:
        """Append a dialogue a stop cut short to stopped.jsonl (never rewritten, never counted)."""
        with (self.path / STOPPED_FILE).open("a", encoding="utf-8") as sink:
            sink.write(stopped.transcript.to_json() + "\n")


def describe(setup: Setup) -> str:
    """A setup in words: "an evaluate run of system gold, format coalm, labels 2.4"."""
    command = setup.get("command", "unknown")
    details = ", ".join(f"{key} {value}" for key, value in setup.items() if key != "command")
    return f"{'an' if str(command)[:1] in 'aeiou' else 'a'} {command} run of {details or 'unknown setup'}"


def run_setup(path: Path) -> dict[str, Any] | None:
    """The setup recorded in another run's folder (to compare with it), or None when it records none."""
    return RunFolder(path).recorded() if path.is_dir() else None


class StopSignals:
    """While active, SIGINT and SIGTERM set `stop` instead of ending the process (a second one ends it at once);
    `signal_name` says which came. Outside the main thread signals cannot be caught, and nothing is installed."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in STOP_SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + signal.Signals[self.signal_name].value if self.signal_name else 0

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if self.stop.is_set():
            print(f"\n{name} again: ending now; finished dialogues are saved", file=sys.stderr, flush=True)
            os._exit(128 + number)
        self.signal_name = name
        self.stop.set()
        print(f"\n{name}: stopping; finished dialogues are kept, the running ones end at their next step "
              "(send it again to end at once)", file=sys.stderr, flush=True)


def run_jobs(jobs: Sequence[Callable[[threading.Event], Result | Stopped]], keep: Callable[[Result], None],
             folder: RunFolder, stop: threading.Event, workers: int = 1,
             advance: Callable[[], object] | None = None) -> int:
    """Run `jobs` (each given `stop`) `workers` at a time, handing each finished result to `keep` as it comes (in
    this thread) and each Stopped one to the folder; returns how many finished. Jobs are started one at a time as
    workers free up, so once `stop` is set nothing queued starts."""
    finished = 0
    waiting = iter(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: set[Future[Result | Stopped]] = set()
        while True:
            while not stop.is_set() and len(running) < workers and (job := next(waiting, None)) is not None:
                running.add(pool.submit(job, stop))
            if not running:
                return finished
            done, not_done = wait(running, return_when=FIRST_COMPLETED)
            running = set(not_done)
            for future in done:
                result = future.result()
                if isinstance(result, Stopped):
                    folder.keep_stopped(result)
                    continue
                keep(result)
                finished += 1
                if advance:
                    advance()


@contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[], object]]:
    """A progress bar on stderr; yields the function that moves it one dialogue on."""
    from tqdm import tqdm

    with tqdm(total=total, unit="dialogue", desc=description) as bar:
        yield lambda: bar.update(1)
