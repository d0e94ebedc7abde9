"""Helpers for driving the run commands (`app.evaluate`, `app.simulate`) as a user does: processes, signals."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from app.settings import REPO_ROOT

TEST_DIR = REPO_ROOT.parent / "shared" / "multiwoz"
needs_test_files = pytest.mark.skipif(not (TEST_DIR / "test_mwz21" / "test.json").is_file(),
                                      reason="the MultiWOZ test files are not beside the repository")


def in_process(main: Callable[[Sequence[str]], int], home: Path, raw_db_dir: Path, monkeypatch: pytest.MonkeyPatch,
               capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """A command's `main(argv)` run in this process with its own WOZ_HOME: `run(*argv)` -> (exit status, stderr)."""
    monkeypatch.setenv("WOZ_HOME", str(home))
    monkeypatch.setenv("WOZ_DATA_DIR", str(raw_db_dir))

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse's door
            status = int(exit_.code or 0)
        return status, capsys.readouterr().err

    return run


def command_env(home: Path, raw_db_dir: Path, **more: str) -> dict[str, str]:
    """A clean environment for a command: its own WOZ_HOME, the MultiWOZ files given, nothing else of ours."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WOZ_HOME": str(home), "WOZ_DATA_DIR": str(raw_db_dir),
            **more}


def start(module: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m module args...` in the repository, its output captured."""
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def lines_in(path: Path) -> list[str]:
    """The whole lines of a JSON-lines file (none when it does not exist)."""
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def wait_for_lines(path: Path, count: int, process: subprocess.Popen[str], timeout_s: float = 120) -> int:
    """Wait until `path` holds at least `count` lines (the run is well under way); how many it holds then."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(found := lines_in(path)) >= count:
            return len(found)
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {count} lines")


def one_line(text: str) -> str:
    """The single line a refused command prints (progress bars aside); fails when there are more."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def rules_run(out: Path, raw_db_dir: Path, home: Path, goals: int = 3) -> Path:
    """A quick simulation run (`app.simulate --backend rules --goals N`) written to `out`; returns `out`."""
    process = start("app.simulate", "--backend", "rules", "--goals", str(goals), "--out", str(out), "--test-dir",
                    str(TEST_DIR), env=command_env(home, raw_db_dir))
    _stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return out
