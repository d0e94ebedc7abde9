"""Read model output into calls, a thought and a reply. Never raises: what cannot be read becomes a problem.

Every public parser goes through `_never_raises`, the one place where hostile output (nesting too deep for
Python's recursion limit, numbers past the int/str digit limit, ...) turns into a problem for the model, where
the text read is capped at MAX_PARSED_CHARS and the calls run per output at MAX_CALLS_PER_STEP.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from app.agent.call_syntax import (
    FENCE,
    MAX_CALLS_PER_STEP,
    Call,
    call_text,
    looks_like_call,
    python_calls,
    short,
    shown,
)
from app.agent.markers import MARKER, REPLY_MARKERS, opens_as_reply
from app.backends.base import ToolCallDelta

__all__ = ["MAX_CALLS_PER_STEP", "MAX_PARSED_CHARS", "Call", "Parsed", "call_text", "parse_calls", "parse_coalm",
           "parse_json_calls", "parse_native_calls"]

# A step's output longer than this is cut: max_new_tokens is at most 4096 tokens, rarely over 16 characters each.
MAX_PARSED_CHARS = 65_536
MAX_DIGITS = 30  # no tool takes a longer number; longer ones are refused before any int/str conversion
MAX_DEPTH = 8  # lists and objects nested deeper than this are not a tool argument
_JSON_START = re.compile(r"^(\{|\[\s*\{)")


@dataclass(frozen=True)
class Parsed:
    """One step's output as read: a thought, the calls to run, the reply, and the problems found in reading it."""

    thought: str | None = None
    calls: list[Call] = field(default_factory=list)
    reply: str | None = None
    problems: list[str] = field(default_factory=list)
    discarded: str = ""  # text after the end of the step (an invented observation, a second turn): not used


def _never_raises(parse: Callable[..., Parsed]) -> Callable[..., Parsed]:
    @functools.wraps(parse)
    def safe(text: str | None, *more: Any) -> Parsed:
        text = text if isinstance(text, str) else ""
        kept, cut = text[:MAX_PARSED_CHARS], text[MAX_PARSED_CHARS:]
        try:
            parsed = parse(kept, *more)
        except Exception as error:  # the one place hostile output of any shape becomes a problem
            return Parsed(problems=[f"could not read the output: {_reason(error)}"])
        calls, problems = _checked(parsed.calls)
        if len(calls) > MAX_CALLS_PER_STEP:
            problems.append(f"only the first {MAX_CALLS_PER_STEP} calls were run; make the others after seeing "
                            "their results")
            calls = calls[:MAX_CALLS_PER_STEP]
        if cut and parsed.reply is None:
            problems.append(f"the output was longer than {MAX_PARSED_CHARS:,} characters; only the start was read")
        problems = parsed.problems + problems
        if len(problems) > MAX_CALLS_PER_STEP:  # the model is told a few, not thousands
            problems = [*problems[:MAX_CALLS_PER_STEP], f"... and {len(problems) - MAX_CALLS_PER_STEP} more problems"]
        return replace(parsed, calls=calls, problems=problems, discarded=parsed.discarded + cut)
    return safe


@_never_raises
def parse_coalm(text: str) -> Parsed:
    """Thought / Action / System lines in CoALM's ReAct format, tolerant of the ways models get it wrong.

    Where a step ends (the rule the reply streamer follows too, so that what is shown is what is recorded):
    a step is either an action step (Thought and Action lines) or a reply step (Thought lines, then one
    System line). The reply ends at the next line marker of any kind; an action step ends at the first line
    that is neither Thought nor Action. What follows the end (an invented Observation and the "System:
    Booked!" written after it, a reply written after an Action, the user's next line) is discarded: the
    model wrote past its turn, and nothing of it may reach the user or the tools.
    """
    markers = list(MARKER.finditer(text))
    if not markers:
        stripped = FENCE.sub("", text)
        if looks_like_call(stripped):
            calls, problems = python_calls(stripped)
            return Parsed(calls=calls, problems=problems)
        return Parsed(reply=text.strip() or None)
    lead = FENCE.sub("", text[:markers[0].start()]).strip()
    thoughts, calls, problems, reply, end = [lead] if lead else [], [], [], None, len(text)
    for number, marker in enumerate(markers):
        kind = marker[1].lower()
        until = markers[number + 1].start() if number + 1 < len(markers) else len(text)
        content = text[marker.end():until].strip()
        if kind == "thought":
            thoughts.append(content)
        elif kind == "action":
            found, trouble = python_calls(content)
            calls, problems = calls + found, problems + trouble
        elif kind in REPLY_MARKERS and not calls and not problems and number == len(thoughts) - bool(lead):
            reply, end = content or None, until
            break
        else:
            end = marker.start()
            break
    thought = "\n".join(t for t in thoughts if t) or None
    return Parsed(thought, calls, reply, problems, discarded=text[end:].strip())


@_never_raises
def parse_json_calls(text: str) -> Parsed:
    """Native tool calls written as JSON text ({"name": ..., "parameters": {...}}), as Llama 3.1 does.

    Text that opens like prose (see `opens_as_reply`, which the reply streamer uses too) is the reply, whole.
    """
    if opens_as_reply(text, final=True):
        return Parsed(reply=text.strip() or None)
    cleaned = FENCE.sub("", text.replace("<|python_tag|>", "")).strip()
    if looks_like_call(cleaned):
        calls, problems = python_calls(cleaned)
        return Parsed(calls=calls, problems=problems)
    if not _JSON_START.match(cleaned):  # "[name] is near the centre" is a reply, not a list of calls
        return Parsed(reply=text.strip() or None)
    calls, problems, decoder, position = [], [], json.JSONDecoder(), 0
    while len(calls) + len(problems) <= MAX_CALLS_PER_STEP and (start := cleaned.find("{", position)) != -1:
        try:
            value, position = decoder.raw_decode(cleaned, start)
        except json.JSONDecodeError:
            problems.append(f"could not read the tool call {shown(cleaned[start:])}: not valid JSON")
            break
        if not isinstance(value, dict):
            problems.append(f"{shown(json.dumps(value))} is not a tool call (it needs a name)")
            continue
        arguments = value.get("arguments", value.get("parameters", {}))
        found, trouble = _native(ToolCallDelta(value.get("name"), arguments))  # type: ignore[arg-type]  # _native checks
        calls, problems = calls + found, problems + trouble
    return Parsed(calls=calls, problems=problems)


@_never_raises
def parse_native_calls(text: str, natives: list[ToolCallDelta]) -> Parsed:
    """Tool calls a server sent as such; the text beside them is the model's thought."""
    calls: list[Call] = []
    problems: list[str] = []
    for native in natives:
        found, trouble = _native(native)
        calls, problems = calls + found, problems + trouble
    return Parsed(thought=text.strip() or None, calls=calls, problems=problems)


def parse_calls(source: str) -> tuple[list[Call], list[str]]:
    """Python-call syntax: `FindHotel(area='north')`, several separated by commas or lines, in lists, fenced."""
    parsed = _parse_calls_only(source)
    return parsed.calls, parsed.problems


@_never_raises
def _parse_calls_only(source: str) -> Parsed:
    calls, problems = python_calls(source)
    return Parsed(calls=calls, problems=problems)


def _native(native: ToolCallDelta) -> tuple[list[Call], list[str]]:
    """One call as a server or JSON text gives it: arguments as a JSON string or already an object."""
    arguments = native.arguments
    if not isinstance(native.name, str) or not native.name:
        return [], [f"{shown(json.dumps(native.name, default=repr))} is not a tool call (it needs a name)"]
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            return [], [f"{native.name}: the arguments are not valid JSON: {shown(arguments)}"]
    if not isinstance(arguments, dict):
        return [], [f"{native.name}: the arguments must be a JSON object of name: value, not "
                    f"{shown(json.dumps(arguments, default=repr))}"]
    return [Call(native.name, arguments)], []


def _checked(calls: list[Call]) -> tuple[list[Call], list[str]]:
    """Calls whose arguments are plain JSON values (text, numbers, true/false, lists); the rest are problems."""
    kept, problems = [], []
    for call in calls:
        bad = [key for key, value in call.arguments.items() if not isinstance(key, str) or not _plain(value, 0)]
        if bad:
            problems.append(f"{call.name}: the value of {shown(str(bad[0]))} must be text, a number, true/false "
                            "or a list of those")
        else:
            kept.append(Call(call.name, {key: _listed(value) for key, value in call.arguments.items()}))
    return kept, problems


def _plain(value: Any, depth: int) -> bool:
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return abs(value) < 10 ** MAX_DIGITS
    if isinstance(value, float):
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if isinstance(value, list | tuple):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _listed(value: Any) -> Any:
    """Tuples as lists, so that arguments are exactly what JSON would carry."""
    if isinstance(value, list | tuple):
        return [_listed(item) for item in value]
    if isinstance(value, dict):
        return {key: _listed(item) for key, item in value.items()}
    return value


def _reason(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "it is nested too deeply"
    if isinstance(error, MemoryError):
        return "it is too large"
    return short(f"{type(error).__name__}: {error}")


