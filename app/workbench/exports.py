"""Files that leave the store: CSV that a spreadsheet opens without running anything, JSON lines any parser reads.

A cell that starts with = + - @ (or a tab or carriage return) is a formula to Excel, LibreOffice and Google
Sheets: a comment `=HYPERLINK("http://evil", "click")` or a rater named `=2+3` would run when a lead opens the
export. OWASP's advice ("CSV Injection") is to prefix such text cells with a single quote, which spreadsheets
show as text; numbers stay numbers. No maintained library does this for pandas, and it is one rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from app.dialogue.costs import dialogue_costs
from app.dialogue.transcript import ModelCalled, Transcript

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """A text cell a spreadsheet would read as a formula, prefixed with a single quote; anything else as it is."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The table as CSV, every text cell neutralised (column names too)."""
    safe = frame.map(neutralised)
    safe.columns = [neutralised(str(c)) for c in safe.columns]
    safe.to_csv(path, index=False)
    return path


def json_ready(value: Any) -> Any:
    """`value` as strict JSON holds it: missing numbers (NaN, pandas' NA) as null, numpy numbers as Python's,
    times as ISO text."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_jsonl(records: Iterable[Mapping[str, Any]], path: Path) -> Path:
    """One strict JSON object a line (json.dumps with allow_nan=False: a NaN cannot slip through)."""
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(json_ready(record), allow_nan=False, ensure_ascii=False) + "\n")
    return path


def cost_columns(transcript: Transcript) -> dict[str, Any]:
    """A dialogue's costs as a CSV row's columns: tokens (reported ones only; empty where none were), model calls,
    model time per side, tool time, wall time (see `app.dialogue.costs`)."""
    return dialogue_costs(transcript).columns()


def whole_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Token counts as whole numbers with blanks where none were reported (pandas would write 12.0 beside NaN)."""
    counts = [c for c in frame.columns if str(c).endswith("_tokens")]
    return frame.astype(dict.fromkeys(counts, "Int64")) if counts else frame


MODEL_CALL_COLUMNS = ["dialogue", "turn", "step", "event", "at", "side", "backend", "model", "counted_by",
                      "prompt_tokens", "generated_tokens", "first_token_s", "total_s", "ok"]


def model_call_rows(transcripts: Iterable[Transcript]) -> list[dict[str, Any]]:
    """One row per model call of these dialogues, as recorded: who called (agent or user simulator), the backend
    and model, the tokens ("not reported" calls have empty counts), time to first token and total time."""
    return [{"dialogue": t.id, "turn": e.turn, "step": e.step, "event": e.id, "at": e.at, "side": e.side,
             "backend": e.backend, "model": e.model, "counted_by": e.counted_by, "prompt_tokens": e.prompt_tokens,
             "generated_tokens": e.generated_tokens, "first_token_s": e.first_token_s, "total_s": e.total_s,
             "ok": e.ok}
            for t in transcripts for e in t.events if isinstance(e, ModelCalled)]

