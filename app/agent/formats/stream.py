"""Pass on the reply part of a step's output while it streams in, exactly as the parser will record it.

The streamer may only show text that is sure to begin the parsed reply whatever follows, so it holds back
what could still grow into a marker ("Obs") and trailing whitespace (the reply is recorded stripped); the agent
shows the rest once the parse is known (`rest`). Each piece is examined a bounded number of times, so a long
reply arriving in tiny pieces costs linear time.
"""

from __future__ import annotations

from app.agent.markers import OPENING_SPAN, REPLY_MARKERS, MarkerScanner, opens_as_reply
from app.agent.parsing import MAX_PARSED_CHARS

TRIM_EVERY = 4096  # drop the text already dealt with once this much has piled up (a copy, so not every time)


class ReplyStream:
    """Common part: the text so far (from `offset`), where the reply begins and what was shown of it."""

    def __init__(self) -> None:
        self.window, self.offset, self.seen = "", 0, 0
        self.first: int | None = None  # the first character that is not whitespace
        self.open, self.closed = False, False  # the reply has begun / nothing more will be shown
        self.emit_pos = self.blank_until = 0  # shown up to emit_pos; [emit_pos, blank_until) is whitespace
        self.shown: list[str] = []

    def feed(self, text: str) -> str:
        """Take the next piece of output; return the reply text that is safe to show now (often empty)."""
        if self.closed:
            return ""
        taken = text[:MAX_PARSED_CHARS - self.seen]  # the parser reads no further either
        if self.first is None and (stripped := taken.lstrip()):
            self.first = self.seen + len(taken) - len(stripped)
        window, self.window = self.window, ""
        window += taken  # the sole reference: CPython grows the string in place
        self.window, self.seen = window, self.seen + len(taken)
        piece = self._advance()
        self._trim()
        return piece

    def rest(self, reply: str) -> str:
        """What is still to be shown of the final reply, given what was streamed."""
        shown = "".join(self.shown)
        return reply[len(shown):] if reply.startswith(shown) else ""

    def _advance(self) -> str:
        raise NotImplementedError

    def _begin(self, at: int) -> None:
        self.open, self.emit_pos, self.blank_until = True, at, at

    def _show_until(self, end: int) -> str:
        """Show the reply up to its last non-blank character before `end`."""
        start = max(self.emit_pos, self.blank_until)
        region = self.window[start - self.offset:end - self.offset]
        body = region.rstrip()
        self.blank_until = max(self.blank_until, end)
        if not body:
            return ""
        begin = self.emit_pos if self.shown else start + len(region) - len(region.lstrip())
        piece = self.window[begin - self.offset:start + len(body) - self.offset]
        self.emit_pos = start + len(body)
        self.shown.append(piece)
        return piece

    def _needed(self) -> int:
        """The first character still to be looked at."""
        return self.emit_pos if self.open else (self.first if self.first is not None else self.seen)

    def _trim(self) -> None:
        keep = max(self.offset, self._needed() - 1)  # one character before, for the marker's look-behind
        if keep - self.offset > TRIM_EVERY:
            self.window, self.offset = self.window[keep - self.offset:], keep


class CoalmReplyStream(ReplyStream):
    """Streams only a reply step that opens with its markers: Thought lines, then System, up to the next marker
    (the rule of `parse_coalm`). Output that opens with prose, or with an Action, shows nothing until parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.scanner = MarkerScanner()
        self.markers = 0

    def _advance(self) -> str:
        while not self.closed:
            match = self.scanner.next(self.window, self.offset, self.seen)
            if self.open:
                end = self.offset + match.start() if match else self.scanner.position
                piece = self._show_until(end)
                self.closed = match is not None
                return piece
            if match is None:  # the output must open with a marker to be streamed
                opened_otherwise = not self.markers and self.first is not None and self.scanner.position > self.first
                self.closed = opened_otherwise
                return ""
            self.markers += 1
            kind = match[1].lower()
            prose_first = self.markers == 1 and self.offset + match.start() != self.first
            if prose_first or kind not in {"thought", *REPLY_MARKERS}:
                self.closed = True  # prose, an Action, an Observation or a User line: not a reply step
            elif kind in REPLY_MARKERS:
                self._begin(self.offset + match.end())
        return ""

    def _needed(self) -> int:
        if self.open:
            return min(self.emit_pos, self.scanner.position)
        if self.markers:
            return self.scanner.position
        return min(self.scanner.position, self.first if self.first is not None else self.seen)


class ToolsReplyStream(ReplyStream):
    """Streams output that opens like prose (`opens_as_reply`), whole; a call written as text shows nothing."""

    def _advance(self) -> str:
        if not self.open and self.first is not None:
            start = self.first - self.offset
            opens = opens_as_reply(self.window[start:start + OPENING_SPAN], final=False)
            if opens is None:
                return ""
            if not opens:
                self.closed = True
                return ""
            self._begin(self.first)
        return self._show_until(self.seen) if self.open else ""
