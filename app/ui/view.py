"""What the page shows, as pure functions of the dialogue state: the UI renders, it does not decide."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from app.belief import by_domain
from app.dialogue import Dialogue, Turn
from app.events import ToolCallFinished
from app.parsing import call_text
from domains import all_domains, domain

CALL_COLUMNS = ["turn", "call", "outcome", "ms"]
BOOKING_COLUMNS = ["reference", "domain", "booked", "details", "status"]
FLAGS = ("Wrong API call", "Made up information", "Ignored the user")
FEEDBACK_OPTIONS = ("Like", "Dislike", *FLAGS)


def chat_messages(dialogue: Dialogue, partial: str | None = None, running: bool = False
                  ) -> tuple[list[dict[str, Any]], list[int]]:
    """Chat messages, and for each the number of the turn it belongs to (what a rating of it refers to)."""
    messages: list[dict[str, Any]] = []
    for number, turn in enumerate(dialogue.turns):
        live = running and number == len(dialogue.turns) - 1
        turn_messages = [{"role": "user", "content": turn.user}, *_step_messages(turn)]
        if turn.status in ("done", "fallback"):
            turn_messages.append({"role": "assistant", "content": turn.response})
        elif live and partial:
            turn_messages.append({"role": "assistant", "content": partial})
        elif not live:
            turn_messages.append({"role": "assistant", "content": f"⚠️ {turn.error} — the dialogue so far is kept; "
                                                                   "press **Retry** to run this turn again."})
        messages += [{**m, "turn": number} for m in turn_messages]
    return [{k: v for k, v in m.items() if k != "turn"} for m in messages], [m["turn"] for m in messages]


def _step_messages(turn: Turn) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    position: dict[str, int] = {}
    for event in turn.events:
        kind = event["type"]
        if kind == "Thought":
            steps.append(_step("💭 Thought", event["text"], "done"))
        elif kind == "ToolCallStarted":
            position[event["call_id"]] = len(steps)
            steps.append(_step(f"🔧 {call_text(event['name'], event['arguments'])}", "running…", "pending"))
        elif kind == "ToolCallFinished":
            finished = _step(f"🔧 {call_text(event['name'], event['arguments'])}", _outcome(event), "done",
                             duration=round(event["elapsed_ms"] / 1000, 4))
            steps[position.get(event["call_id"], len(steps) - 1)] = finished
        elif kind == "ErrorEvent" and event["recoverable"]:
            steps.append(_step("⚠️ The model's action could not be used", event["message"], "done"))
    return steps


def _step(title: str, content: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "metadata": {"title": title, "status": status, **extra}}


def _outcome(event: dict[str, Any]) -> str:
    result, error = event.get("result"), event.get("error")
    if not event["ok"] or result is None:
        return f"Error: {error}"
    if "count" in result:
        shown = ", ".join(r["key"] for r in result["results"])
        return f"{result['count']} found" + (f": {shown}" if shown else "")
    if result.get("status") == "booked":
        return f"Booked, reference **{result['reference']}**"
    return f"Refused: {result.get('reason')}. {str(result.get('hint', '')).capitalize()}"


def _one_line(event: dict[str, Any]) -> str:
    return ToolCallFinished(**{k: v for k, v in event.items() if k != "type"}).outcome()


def finished_calls(dialogue: Dialogue) -> list[tuple[int, dict[str, Any]]]:
    return [(number, event) for number, turn in enumerate(dialogue.turns) for event in turn.events
            if event["type"] == "ToolCallFinished"]


def api_calls(dialogue: Dialogue) -> pd.DataFrame:
    rows = [[number + 1, call_text(e["name"], e["arguments"]), _one_line(e), round(e["elapsed_ms"], 1)]
            for number, e in finished_calls(dialogue)]
    return pd.DataFrame(rows, columns=CALL_COLUMNS)


def database_rows(dialogue: Dialogue) -> pd.DataFrame:
    """The rows of the latest successful Find, with the fields worth showing."""
    finds = [e for _, e in finished_calls(dialogue) if e["ok"] and "results" in (e["result"] or {})]
    if not finds:
        return pd.DataFrame(columns=["no search yet"])
    result = finds[-1]["result"]
    hidden = set(domain(result["domain"]).hidden_fields) | {"key", "takesbookings"}
    rows = [{k: _cell(v) for k, v in row.items() if k not in hidden} for row in result["results"]]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=[f"no {result['domain']} matches"])


def bookings(dialogue: Dialogue) -> pd.DataFrame:
    rows = []
    for _, event in finished_calls(dialogue):
        result = event["result"] or {}
        if not event["ok"] or result.get("status") not in ("booked", "refused"):
            continue
        arguments = event["arguments"]
        what = result.get("name") or result.get("trainid") or arguments.get("name") or arguments.get("trainid") \
            or f"{arguments.get('departure')} → {arguments.get('destination')}"
        skip = {"domain", "status", "reference", "name", "trainid", "reason", "hint"}
        details = ", ".join(f"{k} {v}" for k, v in result.items() if k not in skip)
        status = "booked" if result["status"] == "booked" else f"refused: {result['reason']}"
        rows.append([result.get("reference", "—"), result["domain"], what, details, status])
    return pd.DataFrame(rows, columns=BOOKING_COLUMNS)


def belief_html(dialogue: Dialogue) -> str:
    """The belief state per domain; slots changed in the latest turn are highlighted."""
    if not dialogue.belief:
        return "<p class='belief-empty'>Nothing understood yet.</p>"
    changed = set(dialogue.turns[-1].changed) if dialogue.turns else set()
    order = [d.name for d in all_domains()]
    parts = []
    for name, slots in sorted(by_domain(dialogue.belief).items(), key=lambda item: order.index(item[0])):
        rows = "".join(
            f"<tr class='{'changed' if f'{name}-{slot}' in changed else ''}'><td>{html.escape(slot)}</td>"
            f"<td>{html.escape(value)}</td></tr>" for slot, value in slots.items())
        parts.append(f"<div class='belief-domain'><b>{name}</b><table>{rows}</table></div>")
    return "<div id='belief-state'>" + "".join(parts) + "</div>"


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return value
