"""Arena matches (the same user messages sent to two systems, shown as A and B) and the votes on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.workbench.tables import ArenaMatch, ArenaVote, create_workbench_tables, person_name, writing
from db.schema import _now

Winner = Literal["a", "b", "tie", "bothbad"]
WINNERS: tuple[str, ...] = get_args(Winner)


@dataclass(frozen=True)
class Vote:
    """One arena vote with the systems it was between: on a turn, or on the whole dialogue."""

    match_id: str
    system_a: str
    system_b: str
    winner: Winner
    turn: int | None  # None: the whole dialogue
    voter: str


class ArenaStore:
    """The arena's matches and votes in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_workbench_tables(engine)

    def record_match(self, match_id: str, system_a: str, system_b: str, dialogue_a: str, dialogue_b: str) -> None:
        """Save which systems a match put on sides A and B, and their dialogues (once; again is a no-op)."""
        with writing(self.engine, "arena", match_id) as session:
            if session.get(ArenaMatch, match_id) is None:
                session.add(ArenaMatch(id=match_id, system_a=system_a, system_b=system_b, dialogue_a=dialogue_a,
                                       dialogue_b=dialogue_b))

    def vote(self, match_id: str, winner: str, voter: str, turn: int | None = None) -> bool:
        """Save the voter's vote on a turn (or, with turn None, on the whole dialogue), replacing their earlier
        vote there; True when it replaced one. A ValueError for an unknown winner, a missing or overlong name,
        or a match that was never recorded."""
        if winner not in WINNERS:
            raise ValueError(f"a vote is one of {', '.join(WINNERS)}, not {winner!r}")
        voter = person_name(voter)
        with writing(self.engine, "arena", match_id) as session:
            if session.get(ArenaMatch, match_id) is None:
                raise ValueError(f"no arena match {match_id!r}: send a message to both sides first")
            same_turn = ArenaVote.turn.is_(None) if turn is None else ArenaVote.turn == turn
            earlier = session.scalar(select(ArenaVote).where(ArenaVote.match_id == match_id,
                                                             ArenaVote.voter == voter, same_turn))
            if earlier is None:
                session.add(ArenaVote(match_id=match_id, winner=winner, voter=voter, turn=turn))
            else:
                earlier.winner, earlier.created_at = winner, _now()
        return earlier is not None

    def votes(self) -> list[Vote]:
        """Every vote, oldest first, with the systems of its match."""
        query = (select(ArenaVote, ArenaMatch).join(ArenaMatch, ArenaMatch.id == ArenaVote.match_id)
                 .order_by(ArenaVote.id))
        with Session(self.engine) as session:
            return [Vote(m.id, m.system_a, m.system_b, v.winner, v.turn, v.voter)  # type: ignore[arg-type]
                    for v, m in session.execute(query)]
