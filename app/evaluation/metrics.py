"""The standard MultiWOZ metrics, implemented from their definitions (Nekvinda & Dusek's mwzeval semantics)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.evaluation.labels import domain_of

REQUESTABLE = ("phone", "address", "postcode", "trainid", "reference")
VENUE_DOMAINS = ("restaurant", "hotel", "attraction", "train")


@dataclass
class StateScores:
    """Joint goal accuracy and slot precision / recall / F1, overall and per domain."""

    turns: int = 0
    joint: int = 0
    slots: Counter = field(default_factory=Counter)  # tp / fp / fn
    domain_turns: Counter = field(default_factory=Counter)
    domain_joint: Counter = field(default_factory=Counter)
    domain_slots: dict[str, Counter] = field(default_factory=dict)

    def add(self, predicted: dict[str, str], gold: dict[str, str]) -> bool:
        """Score one turn (both states canonical, label-style keys); returns whether it was jointly right."""
        self.turns += 1
        right = predicted == gold
        self.joint += right
        for domain in {domain_of(k) for k in [*predicted, *gold]}:
            mine = {k: v for k, v in predicted.items() if domain_of(k) == domain}
            theirs = {k: v for k, v in gold.items() if domain_of(k) == domain}
            self.domain_turns[domain] += 1
            self.domain_joint[domain] += mine == theirs
            _count(self.domain_slots.setdefault(domain, Counter()), mine, theirs)
        _count(self.slots, predicted, gold)
        return right

    def summary(self) -> dict[str, Any]:
        return {"jga": _pct(self.joint, self.turns), "turns": self.turns, **_prf(self.slots),
                "per_domain": {d: {"jga": _pct(self.domain_joint[d], self.domain_turns[d]),
                                   "turns": self.domain_turns[d], **_prf(self.domain_slots[d])}
                               for d in sorted(self.domain_turns)}}


def _count(counter: Counter, predicted: dict[str, str], gold: dict[str, str]) -> None:
    pairs, gold_pairs = set(predicted.items()), set(gold.items())
    counter["tp"] += len(pairs & gold_pairs)
    counter["fp"] += len(pairs - gold_pairs)
    counter["fn"] += len(gold_pairs - pairs)


def _prf(counter: Counter) -> dict[str, float]:
    precision = _pct(counter["tp"], counter["tp"] + counter["fp"])
    recall = _pct(counter["tp"], counter["tp"] + counter["fn"])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"slot_precision": precision, "slot_recall": recall, "slot_f1": round(f1, 2)}


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


@dataclass(frozen=True)
class GoalSpec:
    """What a dialogue's goal asks for, per domain: constraints, requested attributes, named venue."""

    informable: dict[str, dict[str, str]]
    requestable: dict[str, set[str]]

    @classmethod
    def from_goal(cls, goal: dict[str, Any]) -> GoalSpec:
        rename = {"leaveAt": "leaveat", "arriveBy": "arriveby", "trainID": "trainid"}
        informable, requestable = {}, {}
        for domain, spec in goal.items():
            informable[domain] = {rename.get(k, k): v for k, v in spec.get("info", {}).items()}
            wanted = {rename.get(r, r) for r in spec.get("reqt", [])} & set(REQUESTABLE)
            requestable[domain] = wanted | ({"reference"} if spec.get("book") else set())
        return cls(informable, requestable)


def inform_success(goal: GoalSpec, turns: list[dict[str, Any]], venues) -> tuple[dict[str, bool], dict[str, bool]]:  # noqa: ANN001
    """Per goal domain: was the last venue offered right (Inform), and was everything asked for given (Success)?

    `turns`: per system turn, `response` (delexicalised), `state` ({domain: {slot: value}}, predicted),
    `active` (domains the turn is about) and `booked` (domains the human had booked by then).
    `venues(domain, constraints)` returns the keys of the database rows that match, in database order."""
    offered: dict[str, Any] = {}
    provided: dict[str, set[str]] = {d: set() for d in goal.informable}
    for turn in turns:
        response, active = turn["response"], set(turn["active"])
        for domain in goal.informable:
            if domain in VENUE_DOMAINS and domain in active:
                marker = "[trainid]" if domain == "train" else "[name]"
                if marker in response:
                    offered[domain] = venues(domain, turn["state"].get(domain, {}))
            if domain not in active:
                continue
            for attribute in REQUESTABLE:
                if f"[{attribute}]" in response and (attribute != "reference" or domain in turn["booked"]):
                    provided[domain].add(attribute)
    inform, success = {}, {}
    for domain, constraints in goal.informable.items():
        if domain not in VENUE_DOMAINS or "name" in constraints:
            inform[domain] = True  # taxi, and goals that name the venue, pass
        elif domain == "train" and not offered.get("train") and "trainid" not in goal.requestable["train"]:
            inform[domain] = True
        else:
            shown = offered.get(domain) or []
            inform[domain] = bool(shown) and shown[0] in set(venues(domain, constraints))
        success[domain] = inform[domain] and goal.requestable[domain] <= provided[domain]
    return inform, success
