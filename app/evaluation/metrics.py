"""The standard MultiWOZ metrics with mwzeval's semantics (Nekvinda & Dusek, commit 7f19ee0), reimplemented.

Inform and Success follow `get_dialog_success` / `get_success` step by step (see README, "Metrics"); JGA and
slot F1 are the TRADE-style ones, with the `dontcare` convention said in the output."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from app.evaluation import normalise
from app.evaluation.labels import domain_of
from app.evaluation.venues import VENUE_DOMAINS, VenueDatabase

REQUESTABLE = ("PHONE", "ADDRESS", "POST", "REFERENCE", "TRAINID")
GOAL_REQUESTS = {"phone": "PHONE", "address": "ADDRESS", "postcode": "POST", "trainid": "TRAINID"}
OFFER_TOKEN = {"train": "TRAINID"}  # what offers a venue in a response; NAME elsewhere
ALWAYS_MATCHED = ("taxi", "police", "hospital")  # no venue to offer
Dontcare = Literal["value", "mwzeval", "ignore"]
DONTCARE_CONVENTIONS: dict[str, str] = {
    "value": "dontcare is a value like any other, in labels and predictions (TRADE, MultiWOZ 2.4 papers)",
    "mwzeval": "dontcare slots dropped from the labels only, as mwzeval's DST scoring does",
    "ignore": "dontcare slots dropped from labels and predictions",
}


@dataclass
class StateScores:
    """Joint goal accuracy and slot precision / recall / F1, overall and per domain."""

    dontcare: Dontcare = "value"
    turns: int = 0
    joint: int = 0
    slots: Counter = field(default_factory=Counter)  # tp / fp / fn
    domain_turns: Counter = field(default_factory=Counter)
    domain_joint: Counter = field(default_factory=Counter)
    domain_slots: dict[str, Counter] = field(default_factory=dict)

    def add(self, predicted: dict[str, str], gold: dict[str, str]) -> bool:
        """Score one turn (both states canonical, label-style keys); returns whether it was jointly right."""
        predicted, gold = _apply_dontcare(predicted, gold, self.dontcare)
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
        """The scores as a report: JGA and slot P/R/F1 overall and per domain, with the dontcare convention."""
        return {"jga": _pct(self.joint, self.turns), "turns": self.turns, **_prf(self.slots),
                "dontcare": self.dontcare, "dontcare_means": DONTCARE_CONVENTIONS[self.dontcare],
                "per_domain": {d: {"jga": _pct(self.domain_joint[d], self.domain_turns[d]),
                                   "turns": self.domain_turns[d], **_prf(self.domain_slots[d])}
                               for d in sorted(self.domain_turns)}}


def _apply_dontcare(predicted: dict[str, str], gold: dict[str, str], convention: Dontcare
                    ) -> tuple[dict[str, str], dict[str, str]]:
    if convention == "value":
        return predicted, gold
    gold = {k: v for k, v in gold.items() if v != "dontcare"}
    if convention == "ignore":
        predicted = {k: v for k, v in predicted.items() if v != "dontcare"}
    return predicted, gold


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


def _pct(part: float, whole: float, digits: int = 2) -> float:
    return round(100 * part / whole, digits) if whole else 0.0


@dataclass(frozen=True)
class GoalSpec:
    """What a dialogue's goal asks for, per domain, in mwzeval's terms (its `goals.json`)."""

    informable: dict[str, dict[str, str]]  # mwzeval slot names: {"train": {"leave": "17:15", ...}}
    requestable: dict[str, frozenset[str]]  # tokens: PHONE, ADDRESS, POST, TRAINID; REFERENCE when booking

    @classmethod
    def from_goal(cls, goal: dict[str, Any]) -> GoalSpec:
        """The spec of a corpus goal: its `info` in mwzeval's slot names, its requests and booking as tokens."""
        informable, requestable = {}, {}
        for domain, spec in goal.items():
            informable[domain] = {normalise.mwzeval_slot(k): v for k, v in spec.get("info", {}).items()}
            wanted = {GOAL_REQUESTS[r.lower()] for r in spec.get("reqt", []) if r.lower() in GOAL_REQUESTS}
            requestable[domain] = frozenset(wanted | ({"REFERENCE"} if spec.get("book") else set()))
        return cls(informable, requestable)


@dataclass(frozen=True)
class ScoredTurn:
    """One system turn as mwzeval sees it, after its normalisation."""

    response: str  # placeholders as tokens (`normalise.response_tokens`)
    state: dict[str, dict[str, str]]  # `normalise.state`
    active: tuple[str, ...]
    booked: frozenset[str]  # domains the human had booked by this turn


def dialogue_success(goal: GoalSpec, turns: list[ScoredTurn], venues: VenueDatabase
                     ) -> tuple[dict[str, bool], dict[str, bool]]:
    """mwzeval's `get_dialog_success`: Inform per goal domain plus "total"; Success likewise, empty unless every
    domain passed Inform."""
    offered: dict[str, tuple[str, ...]] = {d: () for d in goal.informable}
    provided: dict[str, set[str]] = {d: set() for d in goal.informable}
    for turn in turns:
        for domain in goal.informable:
            if domain not in turn.active:
                continue
            if domain in VENUE_DOMAINS and OFFER_TOKEN.get(domain, "NAME") in turn.response:
                found = venues.query(domain, turn.state[domain]) if domain in turn.state else ()
                # the offered set changes only when the new matches do not cover the old ones
                if not offered[domain] or any(v not in found for v in offered[domain]):
                    offered[domain] = found
            for attribute in REQUESTABLE:
                if attribute in turn.response and (attribute != "REFERENCE" or domain in turn.booked):
                    provided[domain].add(attribute)
    match = {domain: _informed(domain, goal, offered[domain], venues) for domain in goal.informable}
    match["total"] = all(match.values())
    if not match["total"]:
        return match, {}
    success = {d: goal.requestable[d] <= provided[d] for d in goal.informable}
    success["total"] = all(success.values())
    return match, success


def _informed(domain: str, goal: GoalSpec, offered: tuple[str, ...], venues: VenueDatabase) -> bool:
    constraints = goal.informable[domain]
    if "name" in constraints or domain in ALWAYS_MATCHED:
        return True
    if domain == "train" and not offered and "TRAINID" not in goal.requestable[domain]:
        return True  # no train offered (or none found) and none asked for
    if domain not in VENUE_DOMAINS or not offered:
        return False
    return set(offered) <= set(venues.query(domain, constraints))


@dataclass
class SuccessRates:
    """mwzeval's `get_success` totals: per domain over the dialogues whose goal has it, plus "total"."""

    dialogues: Counter = field(default_factory=Counter)
    informed: Counter = field(default_factory=Counter)
    succeeded: Counter = field(default_factory=Counter)

    def add(self, match: dict[str, bool], success: dict[str, bool]) -> None:
        """Count one dialogue's Inform and Success results, per domain and in total."""
        for domain in set(match) | set(success):
            self.dialogues[domain] += 1
            self.informed[domain] += match.get(domain, False)
            self.succeeded[domain] += success.get(domain, False)

    def rate(self, counter: Counter, domain: str = "total") -> float:
        """The percentage (one decimal, as mwzeval reports) of the domain's dialogues that `counter` counted."""
        return _pct(counter[domain], self.dialogues[domain], digits=1)  # one decimal, as mwzeval reports


def estimate_active_domains(states: list[dict[str, dict[str, str]]]) -> list[tuple[str, ...]]:
    """mwzeval's `get_domain_estimates_from_state`, for predictions without `active_domains`: the domain whose
    state changed (the fullest one when several did), else the previous one."""
    current: str | None = None
    old_state: dict[str, dict[str, str]] = {}
    old_changed: list[str] = []
    estimates: list[tuple[str, ...]] = []
    for state in states:
        changed = [d for d in state if set(state[d].items()) - set(old_state.get(d, {}).items())]
        if not changed:
            if current is None:
                estimates.append(())
                continue
            if len(old_changed) > 1:
                old_changed = [d for d in old_changed if d in state and d != current]
                current = old_changed[0] if old_changed else current
        elif current not in changed:
            current = max(changed, key=lambda d: len(state[d]))
        old_state, old_changed = state, changed
        estimates.append((current,))
    return estimates
