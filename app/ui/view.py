"""What the page shows, as pure functions of the transcript: the UI renders, it does not decide."""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

from app.agent.agent import STOPPED
from app.agent.belief import by_domain
from app.agent.parsing import call_text
from app.dialogue.transcript import (
    ActionRejected,
    Booked,
    CallWithAnswer,
    Found,
    InterimReply,
    ModelCalled,
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

# Tables lead with what a row is (the call, what was booked), and numbers come last (the page right-aligns them).
CALL_COLUMNS = ["call", "outcome", "turn", "ms"]
BOOKING_COLUMNS = ["booked", "reference", "domain", "details", "status"]
FEEDBACK_OPTIONS = ("Like", "Dislike", *FLAGS)
STOPPED_MARK = "⏹ *You stopped this reply here.*"
# Every ASCII punctuation character may be backslash-escaped in CommonMark (spec 2.4), and escaped it is plain text.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)


def as_text(text: str) -> str:
    """Markdown that shows `text` exactly as written: what people type, tools answer and files hold is text,
    never markup (`<img onerror=...>`, `**`, `![](http://tracker)`). Every punctuation mark is escaped; leading
    spaces become no-break spaces, so an indented line does not turn into a code block."""
    escaped = _PUNCTUATION.sub(r"\\\1", text)
    return _INDENT.sub(lambda indent: "\u00a0" * len(indent[0].expandtabs(4)), escaped)


def as_reply(text: str) -> str:
    """A model's reply as Markdown that keeps its emphasis, lists and links but can hold no HTML and load no
    image: `&` and `<` become entities (so no tag or entity survives), and `![` is escaped (so no image)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("![", "!\\[")


def chat_messages(transcript: Transcript, partial: str | None = None, running: bool = False
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """Chat messages, and for each the id of the event it shows (what a rating of it refers to). Text from
    people, tools and files shows as text (`as_text`); the model's replies keep their Markdown (`as_reply`)."""
    messages: list[tuple[dict[str, Any], str]] = []
    turns = transcript.turns()
    for position, turn in enumerate(turns):
        live = running and position == len(turns) - 1
        user = turn.events[0]
        messages.append(({"role": "user", "content": as_text(turn.user)}, user.id))
        messages += _step_messages(turn)
        reply, failure = turn.reply, turn.failure
        if reply is not None:
            marked = f"{as_reply(reply.text)}\n\n{STOPPED_MARK}" if reply.stopped else as_reply(reply.text)
            messages.append(({"role": "assistant", "content": marked}, reply.id))
        elif live:
            if partial:
                messages.append(({"role": "assistant", "content": as_reply(partial)}, turn.events[-1].id))
        elif failure is not None and failure.message == STOPPED:  # the person's own Stop is no failure
            messages.append(({"role": "assistant", "content": "⏹ Stopped before a reply. **Retry** runs this turn "
                                                              "again, or send another message."}, failure.id))
        else:
            reason = as_text(failure.message if failure else "The turn did not finish.")
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
            steps.append((_step("💭 Thought", as_text(event.text), "done"), event.id))
        elif isinstance(event, InterimReply):
            steps.append(({"role": "assistant", "content": as_reply(event.text)}, event.id))
        elif isinstance(event, ToolCalled):
            position[event.call_id] = len(steps)
            steps.append((_step(f"🔧 {as_text(call_text(event.name, event.arguments))}", "running…", "pending"),
                          event.id))
        elif isinstance(event, ToolAnswered) and event.call_id in position:
            call = calls[event.call_id]
            steps[position[event.call_id]] = (_step(
                f"🔧 {as_text(call_text(call.called.name, call.called.arguments))}", _outcome(event.result), "done",
                duration=round(event.elapsed_ms / 1000, 4)), call.called.id)
        elif isinstance(event, ActionRejected):
            steps.append((_step("⚠️ The model's action could not be used", as_text(event.message), "done"), event.id))
        elif isinstance(event, TurnFailed) and event is not last:  # a retry went on after it
            steps.append((_step("⚠️ Interrupted", as_text(event.message), "done"), event.id))
    calls_made = [e for e in turn.events if isinstance(e, ModelCalled) and e.side == "agent"]
    if calls_made:  # what the reply cost, folded; no model name (the review queue hides which system answered)
        steps.append((_cost_step(calls_made), calls_made[-1].id))
    return steps


def _cost_step(calls: list[ModelCalled]) -> dict[str, Any]:
    """One folded step: the turn's model calls, their tokens (as counted, or "not reported") and seconds."""
    seconds = sum(call.total_s for call in calls)
    counted = [call for call in calls if call.counted_by != "not reported"]
    tokens = (f" · {sum(c.prompt_tokens or 0 for c in counted):,} prompt + "
              f"{sum(c.generated_tokens or 0 for c in counted):,} generated tokens" if counted else
              " · tokens not reported")
    lines = []
    for number, call in enumerate(calls, start=1):
        counts = (f"{call.prompt_tokens or 0:,} prompt + {call.generated_tokens or 0:,} generated tokens "
                  f"({call.counted_by})" if call.counted_by != "not reported" else "tokens not reported")
        first = f", first token after {call.first_token_s:.2f} s" if call.first_token_s is not None else ""
        lines.append(f"- call {number}: {counts}{first}, {call.total_s:.2f} s{'' if call.ok else ', did not finish'}")
    title = f"🧮 {len(calls)} model call{'s' if len(calls) != 1 else ''}{tokens}"
    return _step(title, "\n".join(lines), "done", duration=round(seconds, 4))


def _step(title: str, content: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "metadata": {"title": title, "status": status, **extra}}


def _outcome(result: Found | Booked | Refused | ToolError) -> str:
    if isinstance(result, Found):
        shown = ", ".join(str(row.get("key")) for row in result.rows)
        return f"{result.count} found" + (f": {as_text(shown)}" if shown else "")
    if isinstance(result, Booked):
        return f"Booked, reference **{as_text(result.reference)}**"
    if isinstance(result, Refused):
        return as_text(f"Refused: {result.reason}. {result.hint.capitalize()}")
    return as_text(f"Error: {result.message}")


def _answered(transcript: Transcript) -> list[tuple[int, CallWithAnswer, ToolAnswered]]:
    return [(call.called.turn, call, call.answer) for call in transcript.calls() if call.answer]


def api_calls(transcript: Transcript) -> pd.DataFrame:
    """The answered tool calls as a table, newest first (the table scrolls, and the latest call is what a person
    looks for): call, outcome, turn and time taken."""
    rows = [[call_text(call.called.name, call.called.arguments), answer.result.summary(), turn + 1,
             round(answer.elapsed_ms, 1)] for turn, call, answer in reversed(_answered(transcript))]
    return pd.DataFrame(rows, columns=CALL_COLUMNS)


def database_rows(transcript: Transcript) -> pd.DataFrame:
    """The rows of the latest successful Find, with the fields worth showing: the name (or train id) first, then
    the searchable slots, then the rest (address, phone, ...)."""
    finds = [answer.result for _, _, answer in _answered(transcript) if isinstance(answer.result, Found)]
    if not finds:
        return pd.DataFrame(columns=["no search yet"])
    found = finds[-1]
    declared = domain(found.domain)
    hidden = set(declared.hidden_fields) | {"key", "takesbookings"}
    rows = [{k: _cell(v) for k, v in row.items() if k not in hidden} for row in found.rows]
    if not rows:
        return pd.DataFrame(columns=[f"no {found.domain} matches"])
    lead = [*declared.book_required[:1], "name", *(slot.name for slot in declared.slots)]
    order = list(dict.fromkeys([c for c in lead if c in rows[0]] + list(rows[0])))
    return pd.DataFrame(rows)[order]


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
        rows.append([what, getattr(result, "reference", "—"), result.domain, shown, status])
    return pd.DataFrame(rows, columns=BOOKING_COLUMNS)


def table_html(frame: pd.DataFrame, table_id: str) -> str:
    """A read-only table as HTML (pandas writes it, escaping every cell): columns as wide as their longest word,
    no word broken inside, the table scrolling sideways where the screen is narrower (the page's CSS)."""
    table = frame.to_html(index=False, escape=True, border=0, justify="left", na_rep="", table_id=table_id,
                          classes="woz-table", float_format=lambda number: f"{number:g}")
    return f"<div class='table-wrap'>{table}</div>"


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
