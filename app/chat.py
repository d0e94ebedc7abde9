"""Terminal chat: `python -m app.chat [--backend ...] [--save dialogue.json]`, one user message per line."""

from __future__ import annotations

import io
import logging
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from app.agent.agent import Agent
from app.agent.parsing import call_text
from app.assembly import CommandParser, add_model_flags, build_agent, settings_from
from app.backends import BackendError
from app.dialogue.session import Yielded, run_dialogue, user_text_problem
from app.dialogue.transcript import (
    ActionRejected,
    BeliefChanged,
    ReplyChunk,
    Thought,
    ToolAnswered,
    ToolCalled,
    Transcript,
    TurnFailed,
    UserSaid,
    valid_text,
)
from app.settings import BadSetting
from db.importer import DataUnavailable

DEFAULT_MAX_CHARS = 2000


class TerminalUser:
    """The person at the terminal: one message per line; blank lines are skipped, over-long ones refused."""

    def __init__(self, lines: Iterable[str], out: TextIO, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.lines, self.out, self.max_chars = iter(lines), out, max_chars

    def next(self, transcript: Transcript) -> UserSaid | None:
        """The next line that makes a valid message (problems are shown and the line skipped), or None at the end."""
        for line in self.lines:
            text = valid_text(line).strip()
            if not text:
                continue
            if problem := user_text_problem(text, self.max_chars):
                self.out.write(f"  ! {problem}\n")
                continue
            return transcript.user_said(text)
        return None


def render(event: Yielded, out: TextIO, replying: bool) -> bool:
    """Print one event; returns whether a reply line is open (chunks are printed as they stream)."""
    if isinstance(event, ReplyChunk):
        out.write(event.text if replying else f"System: {event.text}")
        out.flush()
        return True
    if replying:
        out.write("\n")
    if isinstance(event, Thought):
        out.write(f"  thought: {event.text}\n")
    elif isinstance(event, ToolCalled):
        out.write(f"  -> {call_text(event.name, event.arguments)}\n")
    elif isinstance(event, ToolAnswered):
        out.write(f"  <- {event.result.summary()} ({event.elapsed_ms:.1f} ms)\n")
    elif isinstance(event, BeliefChanged):
        out.write("  belief: " + ", ".join(f"{k}={v}" for k, v in event.changes.items()) + "\n")
    elif isinstance(event, ActionRejected | TurnFailed):
        out.write(f"  ! {event.message}\n")
    out.flush()
    return False


def chat(agent: Agent, lines: Iterable[str], out: TextIO, transcript: Transcript,
         max_chars: int = DEFAULT_MAX_CHARS) -> None:
    """Run a dialogue on the lines given, writing the agent's thoughts, calls, answers and reply to `out`."""
    replying = False
    for event in run_dialogue(agent, TerminalUser(lines, out, max_chars), transcript):
        replying = render(event, out, replying)
    if replying:
        out.write("\n")


def save(transcript: Transcript, path: Path, out: TextIO) -> Path:
    """Write the dialogue to `path` (a folder: into it, named by the dialogue's id) and say where; when that fails
    (the disk, the folder gone) it goes to a fresh file in the temporary folder instead, so it is never lost."""
    target = path / f"{transcript.id}.json" if path.is_dir() else path
    text = transcript.to_json(indent=2)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as error:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix="dialogue-", suffix=".json",
                                         delete=False) as fallback:
            fallback.write(text)
        out.write(f"cannot write {target} ({error.strerror or error}); the dialogue is saved to {fallback.name}\n")
        return Path(fallback.name)
    out.write(f"dialogue saved to {target}\n")
    return target


def main(argv: list[str] | None = None) -> int:
    """The terminal chat: build the agent from flags and settings, talk over stdin/stdout; the exit status."""
    parser = CommandParser(prog="python -m app.chat", description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--save", type=Path, metavar="FILE_OR_FOLDER",
                        help="write the dialogue as JSON here when the input ends (into a folder: named by its id)")
    args = parser.parse_args(argv)
    if args.save and not args.save.is_dir() and not args.save.parent.is_dir():
        parser.error(f"--save {args.save}: the folder {args.save.parent} does not exist")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        settings = settings_from(args)
        agent = build_agent(settings)
    except (BackendError, BadSetting, DataUnavailable, SQLAlchemyError) as error:
        print(f"cannot start: {str(error).splitlines()[0]}", file=sys.stderr)  # a driver's error has more lines
        return 2
    transcript = Transcript(meta={"backend": settings.backend, "format": settings.format, "model": settings.model})
    print(f"Chatting with {agent.backend.label} ({settings.format} format). Type a message; Ctrl-D ends.",
          file=sys.stderr)
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # bytes that are not UTF-8 become U+FFFD, not a crash
    try:
        chat(agent, sys.stdin, sys.stdout, transcript, settings.max_user_chars)
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        if args.save:
            save(transcript, args.save, sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
