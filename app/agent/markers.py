"""Where a reply starts and ends in model output: one grammar shared by the parser and the reply streamer.

Both must agree exactly (what the user sees streamed is what is recorded), so every rule here looks at a
bounded window: a marker is at most MARKER_SPAN characters, the tools format decides from OPENING_SPAN.
"""

from __future__ import annotations

import re

MARKER_WORDS = ("User", "Thought", "Action", "Observation", "System", "Response", "Assistant")
# Response/Assistant are read as System because models sometimes drift.
REPLY_MARKERS = frozenset({"system", "response", "assistant"})
_WORDS = "|".join(MARKER_WORDS)
# ASCII only: with Unicode case folding "ſystem:" would be a marker too, and the streamer could not tell early.
# At most two spaces before the colon, so that a marker is never longer than MARKER_SPAN characters.
MARKER = re.compile(rf"(?:^|(?<=\s))({_WORDS})[ \t]{{0,2}}:", re.IGNORECASE | re.ASCII)
_PREFIXES = "|".join(sorted({word[:n] for word in MARKER_WORDS for n in range(1, len(word) + 1)}, key=len,
                            reverse=True))
# The end of a text that may still grow into a marker: "Obs", "User ", ...
PARTIAL_MARKER = re.compile(rf"(?:^|(?<=\s))(?:(?:{_WORDS})[ \t]{{0,2}}|{_PREFIXES})\Z", re.IGNORECASE | re.ASCII)
MARKER_SPAN = max(map(len, MARKER_WORDS)) + 3

# Tools format: text that opens with a name and "(", or with { [ < `, is a call written as text, not a reply.
OPENING_SPAN = 80  # no tool name is longer: prose is told from a call within this many characters
_NAME = re.compile(r"[A-Za-z_][\w.]*\s*")


def opens_as_reply(text: str, final: bool) -> bool | None:
    """Whether tools-format output is prose (the reply) rather than a call; None: cannot tell yet."""
    head = text.lstrip()[:OPENING_SPAN]
    if not head:
        return False if final else None
    if head[0] in "{[<`":
        return False
    name = _NAME.match(head)
    if name is None:
        return True
    if name.end() < len(head):
        return head[name.end()] != "("
    return True if final or len(head) == OPENING_SPAN else None


class MarkerScanner:
    """Finds the markers of a growing text in order, looking at each character a bounded number of times."""

    def __init__(self) -> None:
        self.position = 0  # no marker starts before this (absolute index in the whole text)

    def next(self, window: str, offset: int, limit: int) -> re.Match[str] | None:
        """The next complete marker in text[:limit] (`window` holds the text from `offset`), else None."""
        match = MARKER.search(window, self.position - offset, limit - offset)
        if match:
            self.position = offset + match.end()
            return match
        tail = max(self.position, limit - MARKER_SPAN) - offset
        partial = PARTIAL_MARKER.search(window, tail, limit - offset)
        self.position = offset + partial.start() if partial else limit
        return None
