"""Read model output into calls, a thought and a reply. Never raises: what cannot be read becomes a problem.

Every public parser goes through `_never_raises`, the one place where hostile output (nesting too deep for
Python's recursion limit, numbers past the int/str digit limit, ...) turns into a problem for the model, where
the text read is capped at MAX_PARSED_CHARS and the calls run per output at MAX_CALLS_PER_STEP.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from app.backends.base import ToolCallDelta
from app.markers import MARKER, REPLY_MARKERS, opens_as_reply

# A step's output longer than this is cut: max_new_tokens is at most 4096 tokens, rarely over 16 characters each.
MAX_PARSED_CHARS = 65_536
# Calls run from one output; more are refused (300 BookTaxi calls in one output must not make 300 bookings).
MAX_CALLS_PER_STEP = 8
MAX_DIGITS = 30  # no tool takes a longer number; longer ones are refused before any int/str conversion
MAX_DEPTH = 8  # lists and objects nested deeper than this are not a tool argument
_FENCE = re.compile(r"^[ \t]*```[\w-]*[ \t]*$", re.MULTILINE)  # not \s: it would rescan every blank line
# A name must not start inside a longer word: "aaaa...a(" is tried once, not from every letter (linear).
CALL_START = re.compile(r"(?<![\w.])[A-Za-z_][\w.]*\s*\(")
_JSON_START = re.compile(r"^(\{|\[\s*\{)")
MAX_SHOWN = 120


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Parsed:
    thought: str | None = None
    calls: list[Call] = field(default_factory=list)
    reply: str | None = None
    problems: list[str] = field(default_factory=list)
    discarded: str = ""  # text after the end of the step (an invented observation, a second turn): not used


def call_text(name: str, arguments: dict[str, Any]) -> str:
    """A call written the way the parser reads it back: `FindHotel(area='north', stars=4)`."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


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
        stripped = _FENCE.sub("", text)
        if _looks_like_call(stripped):
            calls, problems = _calls(stripped)
            return Parsed(calls=calls, problems=problems)
        return Parsed(reply=text.strip() or None)
    lead = _FENCE.sub("", text[:markers[0].start()]).strip()
    thoughts, calls, problems, reply, end = [lead] if lead else [], [], [], None, len(text)
    for number, marker in enumerate(markers):
        kind = marker[1].lower()
        until = markers[number + 1].start() if number + 1 < len(markers) else len(text)
        content = text[marker.end():until].strip()
        if kind == "thought":
            thoughts.append(content)
        elif kind == "action":
            found, trouble = _calls(content)
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
    cleaned = _FENCE.sub("", text.replace("<|python_tag|>", "")).strip()
    if _looks_like_call(cleaned):
        calls, problems = _calls(cleaned)
        return Parsed(calls=calls, problems=problems)
    if not _JSON_START.match(cleaned):  # "[name] is near the centre" is a reply, not a list of calls
        return Parsed(reply=text.strip() or None)
    calls, problems, decoder, position = [], [], json.JSONDecoder(), 0
    while len(calls) + len(problems) <= MAX_CALLS_PER_STEP and (start := cleaned.find("{", position)) != -1:
        try:
            value, position = decoder.raw_decode(cleaned, start)
        except json.JSONDecodeError:
            problems.append(f"could not read the tool call {_shown(cleaned[start:])}: not valid JSON")
            break
        if not isinstance(value, dict):
            problems.append(f"{_shown(json.dumps(value))} is not a tool call (it needs a name)")
            continue
        arguments = value.get("arguments", value.get("parameters", {}))
        found, trouble = _native(ToolCallDelta(value.get("name"), arguments))
        calls, problems = calls + found, problems + trouble
    return Parsed(calls=calls, problems=problems)


@_never_raises
def parse_native_calls(text: str, natives: list[ToolCallDelta]) -> Parsed:
    """Tool calls a server sent as such; the text beside them is the model's thought."""
    calls, problems = [], []
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
    calls, problems = _calls(source)
    return Parsed(calls=calls, problems=problems)


def _calls(source: str) -> tuple[list[Call], list[str]]:
    source = _FENCE.sub("", source).strip().rstrip(".;")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        return _scan_calls(source)
    nodes = tree.elts if isinstance(tree, ast.Tuple | ast.List) else [tree]
    if not all(isinstance(node, ast.Call) for node in nodes):
        return _scan_calls(source)
    return _collect(nodes)


def _scan_calls(source: str) -> tuple[list[Call], list[str]]:
    """Find each `Name(...)` in surrounding prose and parse it on its own."""
    calls, problems, position = [], [], 0
    while len(calls) + len(problems) <= MAX_CALLS_PER_STEP and (match := CALL_START.search(source, position)):
        end = _closing_paren(source, match.end() - 1)
        if end is None:
            problems.append(f"could not read the action {_shown(source[match.start():])}: unbalanced parentheses")
            break
        try:
            node = ast.parse(source[match.start():end + 1], mode="eval").body
        except SyntaxError as error:
            problems.append(f"could not read the action {_shown(source[match.start():end + 1])}: {error.msg}")
        else:
            found, trouble = _collect([node])
            calls, problems = calls + found, problems + trouble
        position = end + 1
    if not calls and not problems:
        problems.append(f"could not read the action {_shown(source)}: write it as ToolName(argument='value')")
    return calls, problems


def _collect(nodes: list[ast.expr]) -> tuple[list[Call], list[str]]:
    calls, problems = [], []
    for node in nodes:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name is None:
            problems.append(f"{_shown(ast.unparse(node.func))}(...) does not name a tool")
            continue
        arguments, trouble = _arguments(name, node)
        problems += trouble
        if not trouble:
            calls.append(Call(name, arguments))
    return calls, problems


def _arguments(name: str, node: ast.Call) -> tuple[dict[str, Any], list[str]]:
    arguments, problems = {}, []
    if node.args:
        problems.append(f"{name}: give every argument as name=value (positional arguments are not allowed)")
    for keyword in node.keywords:
        if keyword.arg is None:
            problems.append(f"{name}: **arguments are not allowed")
        elif isinstance(keyword.value, ast.Name):  # area=north: an unquoted word is meant as text
            arguments[keyword.arg] = keyword.value.id
        else:
            try:
                arguments[keyword.arg] = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError):
                problems.append(f"{name}: the value of {keyword.arg} must be a plain value, not an expression")
    return arguments, problems


def _native(native: ToolCallDelta) -> tuple[list[Call], list[str]]:
    """One call as a server or JSON text gives it: arguments as a JSON string or already an object."""
    arguments = native.arguments
    if not isinstance(native.name, str) or not native.name:
        return [], [f"{_shown(json.dumps(native.name, default=repr))} is not a tool call (it needs a name)"]
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            return [], [f"{native.name}: the arguments are not valid JSON: {_shown(arguments)}"]
    if not isinstance(arguments, dict):
        return [], [f"{native.name}: the arguments must be a JSON object of name: value, not "
                    f"{_shown(json.dumps(arguments, default=repr))}"]
    return [Call(native.name, arguments)], []


def _checked(calls: list[Call]) -> tuple[list[Call], list[str]]:
    """Calls whose arguments are plain JSON values (text, numbers, true/false, lists); the rest are problems."""
    kept, problems = [], []
    for call in calls:
        bad = [key for key, value in call.arguments.items() if not isinstance(key, str) or not _plain(value, 0)]
        if bad:
            problems.append(f"{call.name}: the value of {_shown(str(bad[0]))} must be text, a number, true/false "
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


def _closing_paren(source: str, opening: int) -> int | None:
    depth, quote = 0, None
    for index in range(opening, len(source)):
        char = source[index]
        if quote:
            if char == quote and source[index - 1] != "\\":
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def _looks_like_call(text: str) -> bool:
    stripped = text.strip().lstrip("[")
    return bool(CALL_START.match(stripped)) and stripped.rstrip(".;]").endswith(")")


def _reason(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "it is nested too deeply"
    if isinstance(error, MemoryError):
        return "it is too large"
    return _short(f"{type(error).__name__}: {error}")


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def _shown(text: str) -> str:
    return repr(_short(" ".join(text.split())))
