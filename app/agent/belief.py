"""The belief state: what the agent has understood, derived from the arguments of its API calls."""

from __future__ import annotations

from typing import Any

from app.tools.toolbox import Tool


def slot_updates(tool: Tool, arguments: dict[str, Any]) -> dict[str, str]:
    """Belief-state entries implied by a validated call: `hotel-area`, `hotel-bookday`, ... (MultiWOZ 2.2 names)."""
    book_slots = {slot.name for slot in tool.domain.book_slots}
    updates = {}
    for slot, _required in tool.params:
        value = arguments.get(slot.name)
        if value is None or not slot.belief:
            continue
        prefix = "book" if tool.kind == "book" and slot.name in book_slots else ""
        updates[f"{tool.domain.name}-{prefix}{slot.name}"] = str(value)
    return updates


def apply(belief: dict[str, str], updates: dict[str, str]) -> list[str]:
    """Update `belief` in place; return the slots whose value changed."""
    changed = [slot for slot, value in updates.items() if belief.get(slot) != value]
    belief.update(updates)
    return changed


def by_domain(belief: dict[str, str]) -> dict[str, dict[str, str]]:
    """The belief state grouped by domain: domain -> slot -> value, in slot order."""
    grouped: dict[str, dict[str, str]] = {}
    for key, value in sorted(belief.items()):
        domain_name, slot = key.split("-", 1)
        grouped.setdefault(domain_name, {})[slot] = value
    return grouped
