"""What the page shows, as pure functions of the transcript: the UI renders, it does not decide."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from app.agent.belief import by_domain
from app.agent.parsing import call_text
from app.dialogue.transcript import (
    ActionRejected,
    Booked,
    CallWithAnswer,
    Found,
    InterimReply,
    Refused,
    Thought,
    ToolAnswered,
    ToolCalled,
    ToolError,
    Transcript,
    TurnFailed,
    TurnView,
)
from app.workbench.questions import FLAGS
from domains import all_domains, domain

CALL_COLUMNS = ["turn", "call", "outcome", "ms"]
BOOKING_COLUMNS = ["reference", "domain", "booked", "details", "status"]
FEEDBACK_OPTIONS = ("Like", "Dislike", *FLAGS)


def chat_messages(transcript: Transcript, partial: str | None = None, running: bool = False
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """Chat messages, and for each the id of the event it shows (what a rating of it refers to)."""
    messages: list[tuple[dict[str, Any], str]] = []
    turns = transcript.turns()
    for position, turn in enumerate(turns):
        live = running and position == len(turns) - 1
        user = turn.events[0]
        messages.append(({"role": "user", "content": turn.user}, user.id))
        messages += _step_messages(turn)
        reply, failure = turn.reply, turn.failure
        if reply is not None:
            messages.append(({"role": "assistant", "content": reply.text}, reply.id))
        elif live:
            if partial:
                messages.append(({"role": "assistant", "content": partial}, turn.events[-1].id))
        else:
            reason = failure.message if failure else "The turn did not finish."
            messages.append(({"role": "assistant", "content": f"⚠️ {reason} — the dialogue so far is kept; "
                                                              "press **Retry** to run this turn again."},
                             (failure or turn.events[-1]).id))
    return [m for m, _ in messages], [event_id for _, event_id in messages]


def _step_messages(turn: TurnView) -> list[tuple[dict[str, Any], str]]:
    steps: list[tuple[dict[str, Any], str]] = []
    position: dict[str, int] = {}
    calls = {call.called.call_id: call for call in turn.calls()}
    last = turn.events[-1]
    for event in turn.events:
        if isinstance(event, Thought):
            steps.append((_step("💭 Thought", event.text, "done"), event.id))
        elif isinstance(event, InterimReply):
            steps.append(({"role": "assistant", "content": event.text}, event.id))
        elif isinstance(event, ToolCalled):
            position[event.call_id] = len(steps)
            steps.append((_step(f"🔧 {call_text(event.name, event.arguments)}", "running…", "pending"), event.id))
        elif isinstance(event, ToolAnswered) and event.call_id in position:
            call = calls[event.call_id]
            steps[position[event.call_id]] = (_step(
                f"🔧 {call_text(call.called.name, call.called.arguments)}", _outcome(event.result), "done",
                duration=round(event.elapsed_ms / 1000, 4)), call.called.id)
        elif isinstance(event, ActionRejected):
            steps.append((_step("⚠️ The model's action could not be used", event.message, "done"), event.id))
        elif isinstance(event, TurnFailed) and event is not last:  # a retry went on after it
            steps.append((_step("⚠️ Interrupted", event.message, "done"), event.id))
    return steps


def _step(title: str, content: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "metadata": {"title": title, "status": status, **extra}}


def _outcome(result: Found | Booked | Refused | ToolError) -> str:
    if isinstance(result, Found):
        shown = ", ".join(str(row.get("key")) for row in result.rows)
        return f"{result.count} found" + (f": {shown}" if shown else "")
    if isinstance(result, Booked):
        return f"Booked, reference **{result.reference}**"
    if isinstance(result, Refused):
        return f"Refused: {result.reason}. {result.hint.capitalize()}"
    return f"Error: {result.message}"


def _answered(transcript: Transcript) -> list[tuple[int, CallWithAnswer, ToolAnswered]]:
    return [(call.called.turn, call, call.answer) for call in transcript.calls() if call.answer]


def api_calls(transcript: Transcript) -> pd.DataFrame:
    """The answered tool calls as a table: turn, call, outcome and time taken."""
    rows = [[turn + 1, call_text(call.called.name, call.called.arguments), answer.result.summary(),
             round(answer.elapsed_ms, 1)] for turn, call, answer in _answered(transcript)]
    return pd.DataFrame(rows, columns=CALL_COLUMNS)


def database_rows(transcript: Transcript) -> pd.DataFrame:
    """The rows of the latest successful Find, with the fields worth showing."""
    finds = [answer.result for _, _, answer in _answered(transcript) if isinstance(answer.result, Found)]
    if not finds:
        return pd.DataFrame(columns=["no search yet"])
    found = finds[-1]
    hidden = set(domain(found.domain).hidden_fields) | {"key", "takesbookings"}
    rows = [{k: _cell(v) for k, v in row.items() if k not in hidden} for row in found.rows]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=[f"no {found.domain} matches"])


def bookings(transcript: Transcript) -> pd.DataFrame:
    """Every booking attempt the service answered: booked, or refused with its reason."""
    rows = []
    for _, call, answer in _answered(transcript):
        result = answer.result
        if not isinstance(result, Booked | Refused):
            continue
        # What was booked is named by the slots the domain needs to tell it apart (name, train id, route).
        named_by = domain(result.domain).book_required
        details = result.details if isinstance(result, Booked) else {}
        what = " → ".join(str(details.get(k) or call.called.arguments.get(k)) for k in named_by)
        shown = ", ".join(f"{k} {v}" for k, v in details.items() if k not in named_by)
        status = "booked" if isinstance(result, Booked) else f"refused: {result.reason}"
        rows.append([getattr(result, "reference", "—"), result.domain, what, shown, status])
    return pd.DataFrame(rows, columns=BOOKING_COLUMNS)


def belief_html(transcript: Transcript) -> str:
    """The belief state per domain; slots changed in the latest turn are highlighted."""
    belief = transcript.belief()
    if not belief:
        return "<p class='belief-empty'>Nothing understood yet.</p>"
    last = transcript.last_turn()
    changed = set(last.changed) if last else set()
    order = [d.name for d in all_domains()]
    parts = []
    for name, slots in sorted(by_domain(belief).items(), key=lambda item: order.index(item[0])):
        rows = "".join(
            f"<tr class='{'changed' if f'{name}-{slot}' in changed else ''}'><td>{html.escape(slot)}</td>"
            f"<td>{html.escape(value)}</td></tr>" for slot, value in slots.items())
        parts.append(f"<div class='belief-domain'><b>{name}</b><table>{rows}</table></div>")
    return "<div id='belief-state'>" + "".join(parts) + "</div>"


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return value
