"""Terminal chat: `python -m app.chat [--backend ...] [--save dialogue.json]`, one user message per line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TextIO

from app.agent import Agent
from app.backends import BackendError
from app.dialogue import Dialogue
from app.events import BeliefUpdated, ErrorEvent, Event, ResponseChunk, Thought, ToolCallFinished, ToolCallStarted
from app.parsing import call_text
from app.runtime import add_model_flags, build_agent, settings_from
from db.importer import DataUnavailable


def render(event: Event, out: TextIO, replying: bool) -> bool:
    """Print one event; returns whether a reply line is open (chunks are printed as they stream)."""
    if isinstance(event, ResponseChunk):
        out.write(event.text if replying else f"System: {event.text}")
        out.flush()
        return True
    if replying:
        out.write("\n")
    if isinstance(event, Thought):
        out.write(f"  thought: {event.text}\n")
    elif isinstance(event, ToolCallStarted):
        out.write(f"  -> {call_text(event.name, event.arguments)}\n")
    elif isinstance(event, ToolCallFinished):
        out.write(f"  <- {event.outcome()} ({event.elapsed_ms:.1f} ms)\n")
    elif isinstance(event, BeliefUpdated):
        out.write("  belief: " + ", ".join(f"{k}={event.belief[k]}" for k in event.changed) + "\n")
    elif isinstance(event, ErrorEvent):
        out.write(f"  ! {event.message}\n")
    out.flush()
    return False


def chat(agent: Agent, lines: TextIO, out: TextIO, dialogue: Dialogue) -> None:
    for line in lines:
        if not line.strip():
            continue
        replying = False
        for event in agent.run_turn(dialogue, line.strip()):
            replying = render(event, out, replying)
        if replying:
            out.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--save", type=Path, help="write the dialogue as JSON here when the input ends")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = settings_from(args)
    try:
        agent = build_agent(settings)
    except (BackendError, DataUnavailable) as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    dialogue = Dialogue(meta={"backend": settings.backend, "format": settings.format, "model": settings.model})
    print(f"Chatting with {agent.backend.label} ({settings.format} format). Type a message; Ctrl-D ends.",
          file=sys.stderr)
    try:
        chat(agent, sys.stdin, sys.stdout, dialogue)
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        if args.save:
            args.save.write_text(dialogue.to_json())
            print(f"dialogue saved to {args.save}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
