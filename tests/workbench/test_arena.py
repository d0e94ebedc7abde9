"""The arena runtime: the same message to both systems, hidden random sides, own transcripts, votes."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from app.assembly import SystemUnderTest
from app.dialogue.transcript import AgentSaid, Transcript, UserSaid
from app.workbench.arena import Arena
from app.workbench.arena_store import ArenaStore
from db.engine import make_engine


class Echo:
    """A system that answers with its name and the user's words."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run_turn(self, transcript: Transcript, stop=None):
        user = transcript.last_turn().user
        yield transcript.append(AgentSaid(turn=transcript.last_turn().number, text=f"{self.name}: {user}"))


@pytest.fixture()
def arena(tmp_path):
    saved: dict[str, Transcript] = {}
    echoes = {name: Echo(name) for name in ("coalm", "tools")}
    systems = [SystemUnderTest(name, {"model": name}, None, None, lambda _t, echo=echo: echo)
               for name, echo in echoes.items()]
    arena = Arena(systems, ArenaStore(make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")),
                  lambda t: saved.__setitem__(t.id, t.model_copy(deep=True)), random.Random(7))
    arena.saved = saved
    return arena


def test_both_sides_get_the_message_and_keep_their_own_transcripts(arena: Arena):
    match = arena.new_match()
    events = list(arena.send(match, "a cheap hotel"))
    assert [side for side, _ in events] == [0, 0, 1, 1]
    assert [type(e) for _, e in events] == [UserSaid, AgentSaid, UserSaid, AgentSaid]
    a, b = match.sides
    assert a.id != b.id and a.id.endswith("-a") and b.id.endswith("-b")
    assert a.last_turn().reply.text == f"{match.systems[0]}: a cheap hotel"
    assert b.last_turn().reply.text == f"{match.systems[1]}: a cheap hotel"
    assert set(arena.saved) == {a.id, b.id} and arena.saved[a.id].meta["source"] == "arena"


def test_sides_are_random_per_match(arena: Arena):
    first = Counter(arena.new_match().systems[0] for _ in range(200))
    assert 60 < first["coalm"] < 140


def test_votes_need_a_message_and_a_real_turn(arena: Arena):
    match = arena.new_match()
    with pytest.raises(ValueError, match="Send a message first"):
        arena.vote(match, "a", "ann")
    list(arena.send(match, "hello"))
    with pytest.raises(ValueError, match="no turn 2"):
        arena.vote(match, "a", "ann", turn=1)
    for nameless in ("", "   "):  # a blank voter would be one anonymous rater in the results
        with pytest.raises(ValueError, match="enter your name"):
            arena.vote(match, "a", nameless, turn=0)
    arena.vote(match, "a", " ann ", turn=0)
    arena.vote(match, "bothbad", "ann")
    votes = arena.store.votes()
    assert [(v.system_a, v.winner, v.turn) for v in votes] == [(match.systems[0], "a", 0),
                                                                 (match.systems[0], "bothbad", None)]
    assert match.voted_turns == {0} and {v.voter for v in votes} == {"ann"}
