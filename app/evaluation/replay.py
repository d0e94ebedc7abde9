"""Turn-level evaluation's user side: the corpus dialogue's user turns, with the human system replies as history."""

from __future__ import annotations

from app.dialogue.transcript import ReferenceReply, Transcript, UserSaid
from app.evaluation.data import TestDialogue


class CorpusReplay:
    """Says the corpus' user turns in order. Before each, it records the human system's reply to the turn
    before as that turn's ReferenceReply, so the agent answers every turn given the gold history (as the
    standard turn-level evaluation does) while its own replies stay in the transcript."""

    def __init__(self, test: TestDialogue) -> None:
        self.test = test

    def next(self, transcript: Transcript) -> UserSaid | None:
        """Record the previous turn's reference reply, then the corpus' next user turn; None after the last."""
        number = transcript.next_turn()
        if 0 < number <= len(self.test.turns):
            transcript.append(ReferenceReply(turn=number - 1, text=self.test.turns[number - 1].system))
        if number >= len(self.test.turns):
            return None
        return transcript.user_said(self.test.turns[number].user)
