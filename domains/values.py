"""Normalisers that turn what users and models write into MultiWOZ 2.2 values.

Each raises ValueError with a message meant for the model (and the person) to read and act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

DONTCARE = "dontcare"
_DONTCARE_WORDS = {
    "dontcare", "don't care", "dont care", "do n't care", "do not care", "any", "anything",
    "no preference", "doesn't matter", "does not matter", "either", "whatever",
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_TEXT = 100
# Letters of any script, digits, spaces and the punctuation real names use; nothing else.
_TEXT_CHARS = re.compile(r"^[\w\s'&.,:/()+-]+$")
_NUMBER_WORDS = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])}
_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")
_MILITARY = re.compile(r"^(\d{2})(\d{2})$")


def decoded(value: object) -> object:
    """Bytes (a model writing b'acorn') mean their UTF-8 text; everything else is returned as it is."""
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{_short(value)} is not text") from None
    return value


def is_missing(value: object) -> bool:
    """The one rule for every slot: None, or text that is empty once stripped, means "not given"."""
    return value is None or (isinstance(value, str) and not value.strip())


def is_dontcare(value: object) -> bool:
    """Whether the value is one of the ways of saying "any" ("dontcare", "no preference", ...)."""
    return isinstance(value, str) and " ".join(value.lower().split()) in _DONTCARE_WORDS


def clean_text(value: object) -> str:
    """Lowercase, trimmed, single-spaced text; refuses non-strings, control characters and floods."""
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__} {value!r}")
    text = " ".join(value.lower().split())
    if len(text) > MAX_TEXT:
        raise ValueError(f"is {len(text)} characters long; at most {MAX_TEXT} are allowed")
    if text and not _TEXT_CHARS.match(text):
        raise ValueError(f"{_short(value)} contains characters that no name or place has")
    return text


def category(value: object, allowed: tuple[str, ...], aliases: Mapping[str, str]) -> str:
    """The allowed value the text names (aliases resolved); a ValueError listing the choices otherwise."""
    raw = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    text = clean_text(raw)
    text = aliases.get(text, text)
    if text not in allowed:
        raise ValueError(f"{_short(value)} is not allowed; choose one of: {', '.join(allowed)}")
    return text


def weekday(value: object) -> str:
    """The weekday's name in lowercase; a ValueError otherwise."""
    text = clean_text(value)
    if text not in WEEKDAYS:
        raise ValueError(f"{_short(value)} is not a day; use a weekday name: {', '.join(WEEKDAYS)}")
    return text


def count(value: object, low: int, high: int) -> int:
    """A whole number from `low` to `high` (digits or a word up to twelve); a ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"must be a whole number from {low} to {high}, not {_short(value)}")
    if isinstance(value, str):
        text = clean_text(value)
        number = _NUMBER_WORDS.get(text, int(text) if text.isdigit() else None)
        if number is None:
            raise ValueError(f"{_short(value)} is not a whole number from {low} to {high}")
        value = number
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range; allowed: {low} to {high}")
    return value


def clock(value: object, past_midnight: bool = False) -> str:
    """Normalise a time to zero-padded 24-hour "HH:MM".

    Accepts "17:30", "7:30", "17.30", "1730", "5pm", "5:30 pm", "noon", "midnight". Only with
    `past_midnight` are hours 24-29 allowed: MultiWOZ trains arrive as late as "24:55" (the next day).
    """
    text = clean_text(value) if not isinstance(value, int) or isinstance(value, bool) else str(value)
    text = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}.get(text, text)
    hour, minute = _parse_clock(text)
    if hour is None or (hour > 23 and not past_midnight):
        raise ValueError(f"{_short(value)} is not a time; use 24-hour HH:MM such as 17:30")
    return f"{hour:02d}:{minute:02d}"


def _parse_clock(text: str) -> tuple[int | None, int]:
    if match := _MILITARY.match(text):
        hour, minute, suffix = int(match[1]), int(match[2]), None
    elif match := _CLOCK.match(text):
        hour, minute, suffix = int(match[1]), int(match[2] or 0), match[3]
        if suffix is None and match[2] is None:
            return None, 0  # a bare number ("5") is too ambiguous to guess
    else:
        return None, 0
    if suffix:
        if not 1 <= hour <= 12:
            return None, 0
        hour = hour % 12 + (12 if suffix.startswith("p") else 0)
    if hour > 29 or minute > 59:
        return None, 0
    return hour, minute


def minutes(hhmm: str) -> int:
    """Minutes since midnight of a normalised "HH:MM" (24:55 gives 1495: compare numbers, not clocks)."""
    hour, minute = hhmm.split(":")
    return int(hour) * 60 + int(minute)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
