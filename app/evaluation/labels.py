"""One comparable form for belief states: the label files' slot names and canonical values."""

from __future__ import annotations

from functools import cache
from typing import Any

from domains import all_domains
from domains.values import clock, is_dontcare

_EMPTY = {"", "none", "not mentioned"}
_WORDS = {"guest house": "guesthouse", "center": "centre", "concert hall": "concerthall",
          "swimming pool": "swimmingpool", "nightclubs": "nightclub"}


@cache
def book_names() -> dict[str, str]:
    """The app's booking slot names -> the label files' ("bookday" -> "book day"), from the declarations."""
    return {f"book{s.name}": f"book {s.name}" for d in all_domains() for s in d.book_slots}


@cache
def domain_names() -> frozenset[str]:
    """The names of every declared domain."""
    return frozenset(d.name for d in all_domains())


def label_key(belief_key: str) -> str:
    """`hotel-bookday` (the app's names) -> `hotel-book day` (the label files' names)."""
    domain, slot = belief_key.split("-", 1)
    return f"{domain}-{book_names().get(slot, slot)}"


def app_key(label: str) -> str:
    """`hotel-book day` (the label files' names) -> `hotel-bookday` (the app's names); `label_key` reversed."""
    domain, slot = label.split("-", 1)
    reverse = {v: k for k, v in book_names().items()}
    return f"{domain}-{reverse.get(slot, slot.replace(' ', ''))}"


def canonical(slot: str, value: Any) -> str | None:
    """The form compared for JGA: lowercase, no apostrophes, one spelling per word, zero-padded times.
    None for empty values."""
    text = " ".join(str(value).lower().replace("'", "").split())
    if text in _EMPTY:
        return None
    if is_dontcare(text):
        return "dontcare"
    if slot.endswith(("leaveat", "arriveby", "book time")):
        try:
            return clock(text)
        except ValueError:
            return text
    text = _WORDS.get(text, text)
    return text.removeprefix("the ")


def canonical_state(state: dict[str, Any], keys_are_app_names: bool = False) -> dict[str, str]:
    """A belief state in comparable form: label-style keys, canonical values; other domains and empty
    values dropped. `keys_are_app_names` when the keys are the app's (`hotel-bookday`)."""
    out = {}
    for key, value in state.items():
        key = label_key(key) if keys_are_app_names else key
        if key.split("-", 1)[0] not in domain_names():
            continue
        if (text := canonical(key, value)) is not None:
            out[key] = text
    return out


def metadata_state(metadata: dict[str, Any]) -> dict[str, str]:
    """A MultiWOZ 2.1 `metadata` block as a label-style state."""
    state = {}
    for domain, parts in metadata.items():
        for slot, value in parts.get("semi", {}).items():
            state[f"{domain}-{slot.lower()}"] = value
        for slot, value in parts.get("book", {}).items():
            if slot != "booked":
                state[f"{domain}-book {slot}"] = value
    return {k: v for k, v in state.items() if str(v).lower() not in _EMPTY}


def domain_of(key: str) -> str:
    """The domain part of a `domain-slot` key."""
    return key.split("-", 1)[0]


def mwzeval_state(belief: dict[str, str]) -> dict[str, dict[str, str]]:
    """The app's belief state in the standard evaluator's input format: {"hotel": {"bookday": "friday"}}."""
    state: dict[str, dict[str, str]] = {}
    for key, value in belief.items():
        domain, slot = key.split("-", 1)
        state.setdefault(domain, {})[slot] = value
    return state

