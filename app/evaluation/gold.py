"""The oracle: each turn, the calls implied by the gold belief state and the human (delexicalised) response.

It is an ordinary backend behind the real loop, parser, tools and belief tracker, so its scores are the ceiling
of the pipeline. It knows its test dialogue and reads the transcript it answers in (which turn, what the belief
state is), as a model reads its prompt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.agent.parsing import call_text
from app.backends.base import Delta, ModelRequest
from app.backends.scripted import ScriptedBackend
from app.dialogue.transcript import Transcript
from app.evaluation.data import LabelVersion, TestDialogue
from app.evaluation.labels import app_key, canonical, domain_of
from domains import all_domains


class GoldBackend(ScriptedBackend):
    """A scripted model that writes its script at the start of each turn from the gold annotations."""

    def __init__(self, test: TestDialogue, labels: LabelVersion, format_name: str, transcript: Transcript) -> None:
        super().__init__([], piece_chars=10_000)
        self.label = "gold"
        self.writes_placeholders = True  # its replies are the human's delexicalised text ("[name] is booked")
        self.test, self.labels, self.format_name, self.transcript = test, labels, format_name, transcript
        self.turn: int | None = None

    def stream(self, request: ModelRequest) -> Iterator[Delta]:
        """At a new turn, write the turn's script from its gold state and response; then replay it."""
        turn = self.transcript.last_turn()
        if turn is not None and turn.number != self.turn and turn.number < len(self.test.turns):
            self.turn, gold = turn.number, self.test.turns[turn.number]
            belief = self.transcript.belief(at=turn.events[0].id)  # as the turn began
            self.outputs[:] = gold_outputs(gold.states[self.labels], belief, gold.system_delex, self.format_name)
        return super().stream(request)


def gold_outputs(gold_state: dict[str, str], belief: dict[str, str], response: str, format_name: str
                 ) -> list[str | dict[str, Any]]:
    """Model outputs for one turn: the calls that move `belief` to `gold_state` (label names), then the reply."""
    target = {app_key(k): v for k, v in gold_state.items()}
    changed = {domain_of(k) for k, v in target.items() if canonical(k, v) != canonical(k, belief.get(k, ""))}
    calls = []
    for domain in all_domains():
        if domain.name not in changed:
            continue
        informable = {s.name: target[key] for s in domain.slots if (key := f"{domain.name}-{s.name}") in target}
        booking = {s.name: target[key] for s in domain.book_slots if (key := f"{domain.name}-book{s.name}") in target}
        if domain.find_api and informable:
            calls.append((domain.find_api, informable))
        if domain.book_api and (booking or not domain.find_api):
            wanted = domain.book_required + domain.book_optional
            calls.append((domain.book_api, {**{k: v for k, v in informable.items() if k in wanted}, **booking}))
    if format_name == "tools":
        return ([{"tool_calls": [{"name": n, "arguments": json.dumps(a)} for n, a in calls]}] if calls else []) \
            + [response]
    action = ", ".join(call_text(name, arguments) for name, arguments in calls)
    outputs: list[str | dict[str, Any]] = [f"Action: {action}"] if calls else []
    return [*outputs, f"System: {response}"]
