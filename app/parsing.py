"""Read model output into calls, a thought and a reply. Never raises: what cannot be read becomes a problem."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

# CoALM's line markers; Response/Assistant are read as System because models sometimes drift.
MARKER = re.compile(r"(?:^|(?<=\s))(User|Thought|Action|Observation|System|Response|Assistant)\s*:", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```[\w-]*\s*$", re.MULTILINE)
CALL_START = re.compile(r"[A-Za-z_][\w.]*\s*\(")
_REPLY_MARKERS = {"system", "response", "assistant"}
_JSON_START = re.compile(r"^(\{|\[\s*\{)")
MAX_SHOWN = 120
# What ast.parse raises on hostile text: bad syntax, null bytes, nesting too deep, huge literals.
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)


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


def call_text(name: str, arguments: dict[str, Any]) -> str:
    """A call written the way the parser reads it back: `FindHotel(area='north', stars=4)`."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


def parse_coalm(text: str) -> Parsed:
    """Thought / Action / System lines in CoALM's ReAct format, tolerant of the ways models get it wrong."""
    text = _FENCE.sub("", text or "")
    segments = _segments(text)
    if not segments:
        calls, problems = parse_calls(text) if _looks_like_call(text) else ([], [])
        return Parsed(calls=calls, problems=problems, reply=None if calls or problems else text.strip() or None)
    thoughts, calls, problems, replies = [], [], [], []
    for marker, content in segments:
        if marker == "observation":
            break  # whatever follows an invented observation is invented too
        if marker == "user":
            break  # the model started writing the user's next line
        if marker == "thought":
            thoughts.append(content)
        elif marker == "action":
            found, trouble = parse_calls(content)
            calls += found
            problems += trouble
        elif marker in _REPLY_MARKERS:
            replies.append(content)
    thought = "\n".join(t for t in thoughts if t) or None
    reply = replies[0] if replies and replies[0] else None
    return Parsed(thought, calls, reply, problems)


def parse_json_calls(text: str) -> Parsed:
    """Native tool calls written as JSON text ({"name": ..., "parameters": {...}}), as Llama 3.1 does."""
    cleaned = _FENCE.sub("", (text or "").replace("<|python_tag|>", "")).strip()
    if _looks_like_call(cleaned):
        calls, problems = parse_calls(cleaned)
        return Parsed(calls=calls, problems=problems)
    if not _JSON_START.match(cleaned):  # "[name] is near the centre" is a reply, not a list of calls
        return Parsed(reply=cleaned or None)
    calls, problems, decoder, position = [], [], json.JSONDecoder(), 0
    while (start := cleaned.find("{", position)) != -1:
        try:
            value, position = decoder.raw_decode(cleaned, start)
        except json.JSONDecodeError:
            problems.append(f"could not read the tool call {_shown(cleaned[start:])}: not valid JSON")
            break
        arguments = value.get("arguments", value.get("parameters", {})) if isinstance(value, dict) else None
        arguments = _json_object(arguments) if isinstance(arguments, str) else arguments
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            problems.append(f"{_shown(json.dumps(value))} is not a tool call (it needs a name)")
        elif not isinstance(arguments, dict):
            problems.append(f"{value['name']}: arguments must be a JSON object")
        else:
            calls.append(Call(value["name"], arguments))
    return Parsed(calls=calls, problems=problems)


def parse_calls(source: str) -> tuple[list[Call], list[str]]:
    """Python-call syntax: `FindHotel(area='north')`, several separated by commas or lines, in lists, fenced."""
    source = source.strip().rstrip(".;")
    try:
        tree = ast.parse(source, mode="eval").body
    except _UNPARSABLE:
        return _scan_calls(source)
    nodes = tree.elts if isinstance(tree, ast.Tuple | ast.List) else [tree]
    if not all(isinstance(node, ast.Call) for node in nodes):
        return _scan_calls(source)
    return _collect(nodes)


def _scan_calls(source: str) -> tuple[list[Call], list[str]]:
    """Find each `Name(...)` in surrounding prose and parse it on its own."""
    calls, problems, position = [], [], 0
    while match := CALL_START.search(source, position):
        end = _closing_paren(source, match.end() - 1)
        if end is None:
            problems.append(f"could not read the action {_shown(source[match.start():])}: unbalanced parentheses")
            break
        try:
            node = ast.parse(source[match.start():end + 1], mode="eval").body
        except _UNPARSABLE as error:
            reason = (getattr(error, "msg", None) or str(error) or type(error).__name__)[:MAX_SHOWN]
            problems.append(f"could not read the action {_shown(source[match.start():end + 1])}: {reason}")
        else:
            found, trouble = _collect([node])
            calls += found
            problems += trouble
        position = end + 1
    if not calls and not problems:
        problems.append(f"could not read the action {_shown(source)}: write it as ToolName(argument='value')")
    return calls, problems


def _collect(nodes: list[ast.expr]) -> tuple[list[Call], list[str]]:
    calls, problems = [], []
    for node in nodes:
        if not isinstance(node, ast.Call):
            problems.append(f"{_shown(ast.unparse(node))} is not a tool call")
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name is None:
            problems.append(f"{_shown(ast.unparse(node))} does not name a tool")
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
            except (*_UNPARSABLE, TypeError):
                problems.append(f"{name}: the value of {keyword.arg} must be a plain value, not an expression")
    return arguments, problems


def _segments(text: str) -> list[tuple[str, str]]:
    matches = list(MARKER.finditer(text))
    return [
        (m[1].lower(), text[m.end(): matches[i + 1].start() if i + 1 < len(matches) else len(text)].strip())
        for i, m in enumerate(matches)
    ]


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


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "...")
