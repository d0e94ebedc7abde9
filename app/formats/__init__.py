"""Prompt formats: `coalm` (CoALM's ReAct text) and `tools` (native JSON tool calling)."""

from __future__ import annotations

from app.formats.base import PromptFormat
from app.formats.coalm import CoalmFormat
from app.formats.tools import ToolsFormat
from app.tools import Tool

FORMATS = {"coalm": CoalmFormat, "tools": ToolsFormat}


def make_format(name: str, tools: dict[str, Tool]) -> PromptFormat:
    if name not in FORMATS:
        raise ValueError(f"unknown prompt format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name](tools)
