"""Prompt formats, the one registry of them: `coalm` (CoALM's ReAct text) and `tools` (native JSON tool calling)."""

from __future__ import annotations

from collections.abc import Callable

from app.agent.formats.base import PromptFormat
from app.agent.formats.coalm import CoalmFormat
from app.agent.formats.native import NativeToolsFormat
from app.tools.toolbox import Tool

FORMATS: dict[str, Callable[[dict[str, Tool]], PromptFormat]] = {"coalm": CoalmFormat, "tools": NativeToolsFormat}


def make_format(name: str, tools: dict[str, Tool]) -> PromptFormat:
    """The prompt format of that name for these tools; an unknown name is a ValueError listing the choices."""
    if name not in FORMATS:
        raise ValueError(f"unknown prompt format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name](tools)
