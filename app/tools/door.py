"""The JSON-lines door to the toolbox: `python -m app.tools` reads {"name", "arguments", "dialogue_id"} lines on
stdin (the id is a required string) and writes one JSON line per line read, {"ok": true, "result": {...}} or
{"ok": false, "error": "..."}; a bad line gets an error and the next line is answered as usual.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Annotated, Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.dialogue.events import Booked, Found, Refused, ToolAnswer, ToolError
from app.settings import BadSetting, load_settings
from app.tools.toolbox import Toolbox
from db.importer import DataUnavailable

log = logging.getLogger(__name__)


# Ids come from other programs: strings only (5 and "5" must not share bookings), short, plain characters.
DialogueId = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$", max_length=200)]


class CallLine(BaseModel):
    """One line on the JSON-lines door."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    arguments: dict[str, Any] = Field(default_factory=dict)
    dialogue_id: DialogueId = Field(description="Which dialogue the call belongs to; bookings are per dialogue.")


def answer_line(toolbox: Toolbox, number: int, line: str) -> ToolAnswer:
    """The answer to line `number`; a line that is not a valid call gets an error naming what was wrong."""
    try:
        request = CallLine.model_validate_json(line)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in error.errors())
        return ToolError(message=f"line {number}: not a valid call ({problems[:300]})")
    try:
        return toolbox.call(request.name, request.arguments, request.dialogue_id)
    except Exception:  # the door's last line of defence: one bad call must not end the service for later lines
        log.exception("line %d: unexpected failure", number)
        return ToolError(message=f"line {number}: {request.name} failed unexpectedly; the failure was logged")


def wire(answer: ToolAnswer) -> dict[str, Any]:
    """A typed answer as the door writes it: {"ok": true, "result": {...}} or {"ok": false, "error": "..."}; a
    result says its domain, then rows found ("count", "results") or a booking's "status" with its details."""
    if isinstance(answer, ToolError):
        return {"ok": False, "error": answer.message}
    result: dict[str, Any]
    if isinstance(answer, Found):
        result = {"count": answer.count, "results": answer.rows}
    elif isinstance(answer, Booked):
        result = {"status": "booked", "reference": answer.reference, **answer.details}
    elif isinstance(answer, Refused):
        result = {"status": "refused", "reason": answer.reason, "hint": answer.hint}
    return {"ok": True, "result": {"domain": answer.domain, **result}}


def serve_lines(toolbox: Toolbox, lines: Iterable[str], out: TextIO) -> None:
    """Answer each non-blank line of `lines` with one JSON line on `out`, flushed at once."""
    for number, line in enumerate(lines, 1):
        if line.strip():
            out.write(json.dumps(wire(answer_line(toolbox, number, line)), ensure_ascii=False) + "\n")
            out.flush()


def main() -> int:
    """Serve standard input to standard output against the configured database; the exit status (2, after one
    line on stderr, when a setting cannot be used)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        toolbox = Toolbox.open(load_settings())
    except BadSetting as error:
        print(error, file=sys.stderr)
        return 2
    except (DataUnavailable, SQLAlchemyError, ImportError) as error:  # ImportError: no driver for WOZ_DB_URL
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"cannot open the database (WOZ_DB_URL, WOZ_DATA_DIR): {first}", file=sys.stderr)
        return 2
    serve_lines(toolbox, sys.stdin, sys.stdout)
    return 0

