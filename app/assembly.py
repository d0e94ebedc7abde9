"""Assemble the agent from settings, and the command-line flags shared by `app.chat`, `app.py` and evaluation."""

from __future__ import annotations

import argparse
from typing import Any

from app.agent.agent import Agent, Limits
from app.agent.formats import FORMATS, make_format
from app.backends import BACKENDS, make_backend
from app.settings import Settings
from app.tools.toolbox import Toolbox


def add_model_flags(parser: argparse.ArgumentParser, extra_backends: tuple[str, ...] = ()) -> None:
    """--backend, --format, --model, --base-url, --script; each falls back to its WOZ_ variable."""
    parser.add_argument("--backend", choices=[*BACKENDS, *extra_backends], help="(WOZ_BACKEND)")
    parser.add_argument("--format", choices=list(FORMATS), help="prompt format (WOZ_FORMAT)")
    parser.add_argument("--model", help="hub id, local folder, or served model name (WOZ_MODEL)")
    parser.add_argument("--base-url", help="OpenAI-compatible server URL (WOZ_BASE_URL)")
    parser.add_argument("--script", help="JSON list of outputs for the scripted backend (WOZ_SCRIPT)")


def settings_from(args: argparse.Namespace, **more: Any) -> Settings:
    """Settings from the environment, with the flags that were given taking precedence."""
    given = {k: v for k in ("backend", "format", "model", "base_url", "script") if (v := getattr(args, k, None))}
    return Settings(**given, **more)


def build_agent(settings: Settings, toolbox: Toolbox | None = None) -> Agent:
    toolbox = toolbox or Toolbox.open(settings)
    return Agent(make_backend(settings), make_format(settings.format, toolbox.tools), toolbox, Limits.of(settings))
