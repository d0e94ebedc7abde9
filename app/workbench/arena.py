"""The arena: each user message goes to two systems at once, shown as A and B in a random order per match.

Each side has its own transcript (its own dialogue id, so its own bookings: the tools isolate dialogues), and
is saved like any dialogue, so arena sides can also be reviewed in the queue. Which system sits on which side
is stored with the match and never shown until the results tab.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from app.assembly import SystemUnderTest, assemble, same_model
from app.backends.base import Backend
from app.dialogue.session import OneMessage, Yielded, run_dialogue
from app.dialogue.transcript import Transcript, new_id
from app.settings import Settings
from app.tools.toolbox import Toolbox
from app.workbench.arena_store import ArenaStore
from app.workbench.tables import system_meta, system_of

SIDES = ("A", "B")
SIDE_WIND_DOWN_S = 10.0  # how long a stopped match waits for its sides to record the stop and save


def arena_systems(settings: Settings, toolbox: Toolbox, shared: Backend | None) -> list[SystemUnderTest]:
    """The two configured systems, named as results show them (backend, model, format). A side that runs the
    page's own model shares its backend `shared`, so a local model is loaded once; the format (and so the
    prompt) is each side's own."""
    systems: list[SystemUnderTest] = []
    for side in settings.arena_sides():
        backend = shared if shared is not None and same_model(side, settings) else None
        meta = system_meta(side)
        name = system_of(meta) or side.backend
        name = name if not systems or systems[0].name != name else f"{name} #2"
        systems.append(replace(assemble(side, toolbox, backend=backend, name=name), meta=meta))
    return systems


@dataclass
class Match:
    """One side-by-side dialogue as the browser session holds it (deep-copyable: no agents inside)."""

    id: str
    systems: tuple[str, str]  # the hidden names of A and B
    sides: tuple[Transcript, Transcript]
    recorded: bool = False
    voted_turns: set[int] = field(default_factory=set)

    @property
    def turns(self) -> int:
        """How many turns the match has had."""
        return self.sides[0].next_turn()


class Arena:
    """Side-by-side dialogues between two systems, shown as A and B in a random order; votes and transcripts
    are saved."""

    def __init__(self, systems: Sequence[SystemUnderTest], store: ArenaStore, save: Callable[[Transcript], None],
                 rng: random.Random | None = None) -> None:
        if len(systems) != 2:
            raise ValueError("the arena compares exactly two systems")
        self.systems = {s.name: s for s in systems}
        self.order = [s.name for s in systems]
        self.store = store
        self.save = save
        self.rng = rng or random.Random()  # noqa: S311 - a side assignment, not a secret

    def new_match(self) -> Match:
        """A new match: the two systems dealt to A and B at random, each with an empty transcript."""
        match_id = f"arena-{new_id()}"
        names = self.order[:]
        self.rng.shuffle(names)
        sides = tuple(Transcript(id=f"{match_id}-{side.lower()}",
                                 meta={**self.systems[name].meta, "source": "arena", "arena_side": side})
                      for side, name in zip(SIDES, names, strict=True))
        return Match(match_id, (names[0], names[1]), (sides[0], sides[1]))

    def send(self, match: Match, text: str) -> Iterator[tuple[int, Yielded]]:
        """Run the message on sides A and B at once (a local model batches the two turns), yielding (side index,
        event) as they come. A side that crashes does not stop the other; its error is raised once both ended.
        Closing this generator (a new match) stops both turns, recorded as stopped; each side is saved either way."""
        if not match.recorded:
            a, b = match.sides
            self.store.record_match(match.id, match.systems[0], match.systems[1], a.id, b.id)
            match.recorded = True
        events: queue.Queue[tuple[int, Yielded | BaseException | None]] = queue.Queue()
        stop = threading.Event()

        def run_side(index: int, name: str, transcript: Transcript) -> None:
            try:
                agent = self.systems[name].agent(transcript)
                for event in run_dialogue(agent, OneMessage(text), transcript, stop=stop):
                    events.put((index, event))
            except BaseException as error:  # handed to the consuming thread
                events.put((index, error))
            finally:  # a stop or a failure keeps what the side did so far
                self.save(transcript)
                events.put((index, None))

        sides = [threading.Thread(target=run_side, args=(index, name, transcript), name=f"arena-{SIDES[index]}",
                                  daemon=True)
                 for index, (name, transcript) in enumerate(zip(match.systems, match.sides, strict=True))]
        for side in sides:
            side.start()
        failure: BaseException | None = None
        try:
            running = len(sides)
            while running:
                index, item = events.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    failure = failure or item
                else:
                    yield index, item
        finally:
            stop.set()
            for side in sides:
                side.join(timeout=SIDE_WIND_DOWN_S)
        if failure is not None:
            raise failure

    def vote(self, match: Match, winner: str, voter: str, turn: int | None = None) -> bool:
        """The voter's vote on one turn (its number) or, with turn None, on the whole dialogue; it replaces their
        earlier vote there (True when it did): one vote per voter and turn."""
        if not match.recorded or match.turns == 0:
            raise ValueError("Send a message first: there is nothing to compare yet.")
        if turn is not None and not 0 <= turn < match.turns:
            raise ValueError(f"there is no turn {turn + 1}")
        replaced = self.store.vote(match.id, winner, voter, turn)
        if turn is not None:
            match.voted_turns.add(turn)
        return replaced
