"""The arena runtime: the same message to both systems, hidden random sides, own transcripts, votes."""

from __future__ import annotations

import random
import threading
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
    for side in (0, 1):  # the sides run at once: each side's events in order, the two interleaved
        assert [type(e) for s, e in events if s == side] == [UserSaid, AgentSaid]
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


class MeetsTheOther(Echo):
    """A system whose turn waits until the other side's turn has started too (it times out if they run one after
    the other, as they did: side B only started once side A had finished)."""

    def __init__(self, name: str, meeting: threading.Barrier) -> None:
        super().__init__(name)
        self.meeting = meeting

    def run_turn(self, transcript: Transcript, stop=None):
        self.meeting.wait()
        yield from super().run_turn(transcript, stop)


class Crashes(Echo):
    def run_turn(self, transcript: Transcript, stop=None):
        raise RuntimeError("boom")
        yield


def two_systems(tmp_path, first, second) -> Arena:
    systems = [SystemUnderTest(echo.name, {"model": echo.name}, None, None, lambda _t, echo=echo: echo)
               for echo in (first, second)]
    return Arena(systems, ArenaStore(make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")), lambda t: None,
                 random.Random(7))


def test_both_sides_answer_at_the_same_time(tmp_path):
    meeting = threading.Barrier(2, timeout=10)
    arena = two_systems(tmp_path, MeetsTheOther("coalm", meeting), MeetsTheOther("tools", meeting))
    match = arena.new_match()
    events = list(arena.send(match, "a cheap hotel"))
    assert sorted(type(e).__name__ for _, e in events) == ["AgentSaid", "AgentSaid", "UserSaid", "UserSaid"]
    assert not meeting.broken


def test_a_side_that_crashes_does_not_cost_the_other_its_answer(tmp_path):
    arena = two_systems(tmp_path, Crashes("coalm"), Echo("tools"))
    match = arena.new_match()
    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        for side, event in arena.send(match, "a cheap hotel"):
            seen.append((match.systems[side], type(event).__name__))
    assert ("tools", "AgentSaid") in seen
    tools_side = match.sides[match.systems.index("tools")]
    assert tools_side.last_turn().reply.text == "tools: a cheap hotel"
