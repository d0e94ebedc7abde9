"""Reading dialogues saved in the first format (`Dialogue`: turns of steps, with event dicts per turn).

The annotation store holds such records; they are converted to transcripts when read. Old records carry no
times, so their events are dated at the epoch; event ids are `v1-<turn>-<n>`, so the same record always
converts to the same transcript (and old ratings, which name a turn, find that turn's reply).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.dialogue.events import (
    ActionRejected,
    AgentSaid,
    AnyEvent,
    BeliefChanged,
    Booked,
    Found,
    Refused,
    Thought,
    ToolAnswer,
    ToolAnswered,
    ToolCalled,
    ToolError,
    TurnFailed,
    UserSaid,
)

UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def is_v1(data: dict[str, Any]) -> bool:
    """Whether `data` is a dialogue saved in the first format (turns, no events)."""
    return "turns" in data and "events" not in data


def from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """The transcript's fields (id, meta, events) for a dialogue saved in the first format."""
    events: list[AnyEvent] = []
    belief: dict[str, str] = {}  # the whole state, as the old events carried it
    for number, turn in enumerate(data.get("turns", [])):
        events += _turn_events(number, turn, belief)
    return {"id": data.get("id") or "dlg-v1", "meta": {**data.get("meta", {}), "converted_from": 1},
            "events": events}


def _v1_answer(ok: bool, result: dict[str, Any] | None, error: str | None) -> ToolAnswer:
    """The typed answer of a tool result saved in the first format, whose kind only its keys tell (the one
    place that reads a result by its keys: these records were written before answers were typed)."""
    if not ok or result is None:
        return ToolError(message=error or "the call failed")
    domain = str(result.get("domain", ""))
    if "count" in result:
        return Found(domain=domain, count=result["count"], rows=result.get("results", []))
    if result.get("status") == "booked":
        details = {k: v for k, v in result.items() if k not in ("domain", "status", "reference")}
        return Booked(domain=domain, reference=result["reference"], details=details)
    return Refused(domain=domain, reason=str(result.get("reason", "")), hint=str(result.get("hint", "")))


def _turn_events(number: int, turn: dict[str, Any], belief: dict[str, str]) -> list[AnyEvent]:
    counter = iter(range(10**6))

    def stamp() -> dict[str, Any]:
        return {"id": f"v1-{number}-{next(counter)}", "turn": number, "at": UNKNOWN_TIME}

    events: list[AnyEvent] = [UserSaid(**stamp(), text=turn.get("user", ""))]
    stopped = False
    for event in turn.get("events", []):
        kind = event.get("type")
        if kind == "Thought":
            events.append(Thought(**stamp(), text=event["text"]))
        elif kind == "ToolCallStarted":
            events.append(ToolCalled(**stamp(), call_id=event["call_id"], name=event["name"],
                                     arguments=event["arguments"]))
        elif kind == "ToolCallFinished":
            events.append(ToolAnswered(**stamp(), call_id=event["call_id"], elapsed_ms=event.get("elapsed_ms", 0.0),
                                       result=_v1_answer(event["ok"], event.get("result"), event.get("error"))))
        elif kind == "BeliefUpdated":
            changes = {k: v for k, v in event["belief"].items() if belief.get(k) != v}
            belief.clear()
            belief.update(event["belief"])
            if changes:
                events.append(BeliefChanged(**stamp(), changes=changes))
        elif kind == "ErrorEvent" and event.get("recoverable", True):
            events.append(ActionRejected(**stamp(), message=event["message"]))
        elif kind == "ErrorEvent":
            stopped = True
            events.append(TurnFailed(**stamp(), message=event["message"]))
    if turn.get("status") in ("done", "fallback"):
        events.append(AgentSaid(**stamp(), text=turn.get("response", ""), fallback=turn["status"] == "fallback"))
    elif not stopped:
        events.append(TurnFailed(**stamp(), message=turn.get("error") or "the turn did not finish"))
    return events
