"""The one assembler of a system under test (backend + prompt format + agent + toolbox), for every surface that
runs one: the page, the arena's two sides, `app.evaluate`, `app.simulate` and `app.chat`; and the command-line
flags they share.

Settings only hold names; this is where a backend or format name is checked against its registry, so that
building `Settings()` needs neither the model code nor the database layer.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from app.agent.agent import Agent, Limits
from app.agent.formats import FORMATS, make_format
from app.backends import BACKENDS, make_backend
from app.backends.base import Backend
from app.dialogue.transcript import Transcript
from app.settings import BadSetting, Settings, load_settings
from app.tools.toolbox import Toolbox

MODEL_KEYS = ("backend", "model", "base_url", "api_key", "script")  # what makes two settings one model


@dataclass(frozen=True)
class SystemUnderTest:
    """One system that answers dialogues, as every surface runs it.

    `name` is how reports and results name it, `meta` how it was configured (backend, format, model: recorded in
    each transcript), `backend` the model its dialogues share (a local model is loaded once; None when each
    dialogue brings its own backend, as an oracle reading that dialogue's goal does), and `agent(transcript)` the
    agent for one dialogue."""

    name: str
    meta: Mapping[str, str]
    toolbox: Toolbox
    backend: Backend | None
    agent: Callable[[Transcript], Agent] = field(repr=False)


def check_choices(settings: Settings) -> None:
    """BadSetting naming the choices when the backend or the prompt format is not a registered one."""
    for value, registry, what in ((settings.backend, BACKENDS, "backend"), (settings.format, FORMATS, "prompt format")):
        if value not in registry:
            raise BadSetting(f"unknown {what} {value!r}; choose one of: {', '.join(registry)}")


def check_page_choices(settings: Settings) -> None:
    """`check_choices` for the page's system and for each arena side (BadSetting naming the side), so that a
    wrong name stops the page at start-up rather than failing every chat or arena action."""
    check_choices(settings)
    for number, side in enumerate(settings.arena_sides(), 1):
        try:
            check_choices(side)
        except BadSetting as error:
            raise BadSetting(f"WOZ_ARENA side {number}: {error}") from None


def assemble(settings: Settings, toolbox: Toolbox, *, backend: Backend | None = None,
             backend_for: Callable[[Transcript], Backend] | None = None, name: str | None = None,
             max_steps: int | None = None) -> SystemUnderTest:
    """The system the settings describe, over `toolbox`.

    The model is `backend` when given (an arena side that runs the page's own model shares it), else a backend
    built from the settings (nothing loads yet); `backend_for` instead gives each dialogue a backend of its own
    (the oracles: `name` then says what they are). `max_steps` overrides the settings' bound on model calls."""
    check_choices(settings)
    limits = Limits.of(settings)
    if max_steps is not None:
        limits = replace(limits, max_steps=max_steps)
    prompt_format = make_format(settings.format, toolbox.tools)
    meta = {"backend": settings.backend, "format": settings.format, "model": settings.model}
    if backend_for is not None:
        per_dialogue = backend_for
        return SystemUnderTest(name or settings.backend, {**meta, "backend": name or settings.backend}, toolbox, None,
                               lambda transcript: Agent(per_dialogue(transcript), prompt_format, toolbox, limits))
    if backend is None:
        backend = make_backend(settings)
    shared = backend
    return SystemUnderTest(name or shared.label, meta, toolbox, shared,
                           lambda _transcript: Agent(shared, prompt_format, toolbox, limits))


def same_model(one: Settings, other: Settings) -> bool:
    """Whether two settings name the same model (so one loaded backend can serve both)."""
    return all(getattr(one, key) == getattr(other, key) for key in MODEL_KEYS)


class CommandParser(argparse.ArgumentParser):
    """The commands' argument parser: a wrong argument ends the command with status 2 and one line saying what to
    fix (argparse's own error prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        """Exit with status 2 after one line: the problem, and where to see the options."""
        self.exit(2, f"{self.prog}: {message} (--help lists the options)\n")


def positive_int(text: str) -> int:
    """A count given on the command line (goals, runs, workers, ...): a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_model_flags(parser: argparse.ArgumentParser, extra_backends: tuple[str, ...] = ()) -> None:
    """--backend, --format, --model, --base-url, --script; each falls back to its WOZ_ variable."""
    parser.add_argument("--backend", choices=[*BACKENDS, *extra_backends], help="(WOZ_BACKEND)")
    parser.add_argument("--format", choices=list(FORMATS), help="prompt format (WOZ_FORMAT)")
    parser.add_argument("--model", help="hub id, local folder, or served model name (WOZ_MODEL)")
    parser.add_argument("--base-url", help="OpenAI-compatible server URL (WOZ_BASE_URL)")
    parser.add_argument("--script", help="JSON list of outputs for the scripted backend (WOZ_SCRIPT)")


def settings_from(args: argparse.Namespace, **more: Any) -> Settings:
    """Settings from the environment, with the flags that were given taking precedence; a value that cannot be
    used is a BadSetting (a ValueError) whose message names it in one line."""
    given = {k: v for k in ("backend", "format", "model", "base_url", "script") if (v := getattr(args, k, None))}
    return load_settings({**given, **more})


def build_agent(settings: Settings, toolbox: Toolbox | None = None) -> Agent:
    """The agent of one dialogue with the configured model (the terminal chat's one dialogue)."""
    toolbox = toolbox or Toolbox.open(settings)
    return assemble(settings, toolbox).agent(Transcript())
