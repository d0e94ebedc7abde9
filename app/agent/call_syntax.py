"""Python call syntax as CoALM writes it: `FindHotel(area='north')`, read with `ast` (never `eval`)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any, cast

# Calls run from one output; more are refused (300 BookTaxi calls in one output must not make 300 bookings).
MAX_CALLS_PER_STEP = 8
FENCE = re.compile(r"^[ \t]*```[\w-]*[ \t]*$", re.MULTILINE)  # not \s: it would rescan every blank line
# A name must not start inside a longer word: "aaaa...a(" is tried once, not from every letter (linear).
CALL_START = re.compile(r"(?<![\w.])[A-Za-z_][\w.]*\s*\(")
MAX_SHOWN = 120


@dataclass(frozen=True)
class Call:
    """One tool call as read from model output: the tool's name and its arguments."""

    name: str
    arguments: dict[str, Any]


def call_text(name: str, arguments: dict[str, Any]) -> str:
    """A call written the way the parser reads it back: `FindHotel(area='north', stars=4)`."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"


def python_calls(source: str) -> tuple[list[Call], list[str]]:
    """Calls separated by commas or lines, in lists, fenced, or amid prose; what cannot be read is a problem.
    Only SyntaxError is handled here: deeper trouble (recursion, digit limits) is the parsing wrapper's."""
    source = FENCE.sub("", source).strip().rstrip(".;")
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
    calls: list[Call] = []
    problems: list[str] = []
    position = 0
    while len(calls) + len(problems) <= MAX_CALLS_PER_STEP and (match := CALL_START.search(source, position)):
        end = _closing_paren(source, match.end() - 1)
        if end is None:
            problems.append(f"could not read the action {shown(source[match.start():])}: unbalanced parentheses")
            break
        try:
            node = ast.parse(source[match.start():end + 1], mode="eval").body
        except SyntaxError as error:
            problems.append(f"could not read the action {shown(source[match.start():end + 1])}: {error.msg}")
        else:
            found, trouble = _collect([node])
            calls, problems = calls + found, problems + trouble
        position = end + 1
    if not calls and not problems:
        problems.append(f"could not read the action {shown(source)}: write it as ToolName(argument='value')")
    return calls, problems


def _as_call(node: ast.expr) -> ast.Call:
    """The callers pass calls only (they checked); typed as such here."""
    return cast(ast.Call, node)


def _collect(nodes: list[ast.expr]) -> tuple[list[Call], list[str]]:
    calls: list[Call] = []
    problems: list[str] = []
    for node in map(_as_call, nodes):
        name = _tool_name(node.func)
        if name is None:
            problems.append(f"{shown(ast.unparse(node.func))}(...) does not name a tool")
            continue
        arguments, trouble = _arguments(name, node)
        problems += trouble
        if not trouble:
            calls.append(Call(name, arguments))
    return calls, problems


def _tool_name(func: ast.expr) -> str | None:
    """A bare name, or `functions.Name` (how OpenAI-style prompts namespace tools); any other dotted name
    (`os.path.FindHotel`) is not a tool, so it must not run one."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "functions":
        return func.attr
    return None


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


def looks_like_call(text: str) -> bool:
    """Whether the whole text is one call, `Name(...)`, perhaps in brackets or ending in a full stop."""
    stripped = text.strip().lstrip("[")
    return bool(CALL_START.match(stripped)) and stripped.rstrip(".;]").endswith(")")


def short(text: str) -> str:
    """The text cut to MAX_SHOWN characters, ending in "..." where it was cut."""
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def shown(text: str) -> str:
    """The text on one line, cut short and quoted: how a problem message shows the output it could not use."""
    return repr(short(" ".join(text.split())))
