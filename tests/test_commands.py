"""Every command a person runs, given a setting it cannot use: exit status 2 and one line naming the setting, never
a traceback (a malformed WOZ_ARENA or an empty WOZ_RATERS_PER_ITEM crashed every command with pydantic's)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.settings import REPO_ROOT
from tests.run_helpers import command_env, one_line

COMMANDS = {
    "app.py": ["app.py"],
    "app.chat": ["-m", "app.chat", "--backend", "scripted"],
    "app.evaluate": ["-m", "app.evaluate", "--backend", "gold", "--dialogues", "SNG0073"],
    "app.simulate": ["-m", "app.simulate", "--backend", "oracle", "--goals", "1"],
    "app.review": ["-m", "app.review", "status"],
    "app.tools": ["-m", "app.tools"],
}
BAD_SETTINGS = {  # variable, value, what the line must say
    "arena not JSON": ("WOZ_ARENA", '[{"backend": "openai"', "WOZ_ARENA is not valid JSON"),
    "arena of one side": ("WOZ_ARENA", '[{"format": "tools"}]', "the arena compares exactly two systems, not 1"),
    "arena side with a typo": ("WOZ_ARENA", '[{"backnd": "openai"}, {}]', "WOZ_ARENA[0][backnd]: Extra inputs"),
    "raters per item empty": ("WOZ_RATERS_PER_ITEM", "", "WOZ_RATERS_PER_ITEM: Input should be a valid integer"),
    "database URL unreachable": ("WOZ_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/woz", "connection failed"),
}
# The two reported for every command; the other malformed arenas go through the same loading, tried once each.
CASES = [(command, bad) for command in COMMANDS for bad in ("arena not JSON", "raters per item empty")] + [
    ("app.tools", "arena of one side"), ("app.review", "arena side with a typo"),
    ("app.tools", "database URL unreachable"), ("app.chat", "database URL unreachable")]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, raw_db_dir: Path) -> dict[tuple[str, str], tuple[int, str]]:
    """Every command under every bad setting, four at a time: (exit status, stderr)."""
    folder = tmp_path_factory.mktemp("commands")

    def run(case: tuple[str, str]) -> tuple[int, str]:
        command, bad = case
        variable, value, _says = BAD_SETTINGS[bad]
        out = folder / f"{command}-{bad}".replace(" ", "-")
        argv = COMMANDS[command] + (["--out", str(out)] if command in ("app.evaluate", "app.simulate") else [])
        done = subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL, env=command_env(out / "home", raw_db_dir, **{variable: value}))
        return done.returncode, done.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


@pytest.mark.parametrize(("command", "bad"), CASES)
def test_a_setting_that_cannot_be_used_stops_every_command_in_one_line(outcomes, command, bad):
    status, err = outcomes[(command, bad)]
    assert status == 2 and BAD_SETTINGS[bad][2] in one_line(err), err


@pytest.mark.parametrize(("arena", "says"), [
    ('[{"backend": "nope"}, {}]', "WOZ_ARENA side 1: unknown backend 'nope'; choose one of: transformers, openai"),
    ('[{}, {"format": "xml"}]', "WOZ_ARENA side 2: unknown prompt format 'xml'; choose one of: coalm, tools"),
])
def test_the_page_refuses_an_arena_side_it_could_not_run_at_start_up(tmp_path, raw_db_dir, arena, says):
    """Before: the page started, and every arena action then failed."""
    done = subprocess.run([sys.executable, "app.py", "--backend", "scripted"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env=command_env(tmp_path, raw_db_dir, WOZ_ARENA=arena))
    assert done.returncode == 2 and one_line(done.stderr).startswith(says)
