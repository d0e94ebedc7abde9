"""Score a predictions file in mwzeval's input format: the one scorer behind `--score` and every normal run.

    {"sng0073": [{"response": "...", "state": {"taxi": {"leave at": "17:15"}}, "active_domains": ["taxi"]}]}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sacrebleu
from pydantic import BaseModel, ConfigDict, RootModel, ValidationError

from app.evaluation import normalise
from app.evaluation.data import LabelVersion, TestDialogue
from app.evaluation.labels import app_key, canonical_state
from app.evaluation.metrics import (
    Dontcare,
    GoalSpec,
    ScoredTurn,
    StateScores,
    SuccessRates,
    dialogue_success,
    estimate_active_domains,
)
from app.evaluation.venues import VenueDatabase


class PredictedTurn(BaseModel):
    """One turn of a predictions file: the response, and optionally the belief state and active domains."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    response: str
    state: dict[str, dict[str, str]] | None = None
    active_domains: list[str] | None = None


class PredictionsFile(RootModel[dict[str, list[PredictedTurn]]]):
    """A whole predictions file: dialogue id -> its turns."""
    pass


Predictions = dict[str, list[PredictedTurn]]


class BadPredictions(ValueError):
    """A predictions file that cannot be scored; the message says what is wrong and where."""


def load_predictions(path: Path) -> Predictions:
    """A predictions file read and checked, keyed by lowercase dialogue id; a BadPredictions saying what
    is wrong."""
    try:
        parsed = PredictionsFile.model_validate_json(path.read_bytes())
    except OSError as error:
        raise BadPredictions(f"cannot read {path}: {error.strerror or error}") from error
    except ValidationError as error:
        problems = [f"  - {'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in error.errors()[:8]]
        more = f"\n  ... and {error.error_count() - 8} more" if error.error_count() > 8 else ""
        raise BadPredictions(f"{path} is not in mwzeval's predictions format "
                             '({"sng0073": [{"response": ..., "state": {...}, "active_domains": [...]}, ...]}):\n'
                             + "\n".join(problems) + more) from error
    if not parsed.root:  # nothing to score: every rate would be a division by zero
        raise BadPredictions(f"{path} holds no dialogues; give a file with at least one (mwzeval's input format)")
    return {key.lower().removesuffix(".json"): turns for key, turns in parsed.root.items()}


@dataclass(frozen=True)
class ScoreOptions:
    """How to score: which labels, which dontcare convention, and whether mwzeval's known mistakes are corrected."""

    labels: LabelVersion = "2.4"
    dontcare: Dontcare = "value"
    corrected: bool = False  # mwzeval's known mistakes read correctly (see normalise.py)


def check_coverage(tests: dict[str, TestDialogue], predictions: Predictions) -> list[str]:
    """The test dialogues the file lacks; raises BadPredictions for ids or turns the test set does not have."""
    unknown = sorted(set(predictions) - set(tests))
    if unknown:
        raise BadPredictions(f"{len(unknown)} dialogue id(s) are not MultiWOZ test dialogues: {', '.join(unknown[:10])}"
                             + (" ..." if len(unknown) > 10 else "") + " (ids are lowercase, without .json)")
    too_long = [f"{k} ({len(v)} > {len(tests[k].turns)})" for k, v in predictions.items()
                if len(v) > len(tests[k].turns)]
    if too_long:
        raise BadPredictions(f"more turns than the test dialogue has: {', '.join(too_long[:10])}")
    return sorted(set(tests) - set(predictions))


def score_predictions(tests: dict[str, TestDialogue], predictions: Predictions, options: ScoreOptions,
                      venues: VenueDatabase) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics over the dialogues in `predictions` (all must be test dialogues), and one row per dialogue."""
    missing = check_coverage(tests, predictions)
    predicted_states = all(t.state is not None for turns in predictions.values() for t in turns)
    given_domains = all(t.active_domains is not None for turns in predictions.values() for t in turns)
    states, rates = StateScores(dontcare=options.dontcare), SuccessRates()
    hypotheses, references, rows = [], [], []
    for key, turns in predictions.items():
        test = tests[key]
        raw: list[Any] = [t.state if predicted_states else mwzeval_from_labels(g.states[options.labels])
               for t, g in zip(turns, test.turns, strict=False)]
        if predicted_states and options.labels in test.labelled:
            for state, gold in zip(raw, test.turns, strict=False):
                states.add(label_state(state), canonical_state(gold.states[options.labels]))
        scored = _as_scored(turns, raw, test, options.corrected, given_domains)
        match, success = dialogue_success(GoalSpec.from_goal(test.goal), scored, venues)
        rates.add(match, success)
        hypotheses += [s.response for s in scored]
        references += [normalise.response_tokens(g.system_delex) for g in test.turns[:len(turns)]]
        rows.append({"id": key, "turns": len(turns), "inform": match["total"], "success": success.get("total", False),
                     "goal_domains": " ".join(sorted(test.goal))})
    metrics = {
        "labels": options.labels, "dialogues": len(predictions),
        "inform": rates.rate(rates.informed), "success": rates.rate(rates.succeeded),
        # force: MultiWOZ text is tokenised ("hotel ."), references and hypotheses alike.
        "bleu": round(sacrebleu.corpus_bleu(hypotheses, [references], force=True).score, 2) if hypotheses else 0.0,
        "state": states.summary() if predicted_states else None,
        "per_domain": {d: {"inform": rates.rate(rates.informed, d), "success": rates.rate(rates.succeeded, d),
                           "dialogues": rates.dialogues[d], **_state_of(states, d)}
                       for d in sorted(rates.dialogues) if d != "total"},
        "scorer": {"semantics": "mwzeval (Tomiinek/MultiWOZ_Evaluation 7f19ee0), reimplemented",
                   "mwzeval_mistakes": "corrected" if options.corrected else "followed",
                   "states": "predicted" if predicted_states else f"gold MultiWOZ {options.labels} (none predicted)",
                   "active_domains": "predicted" if given_domains else "estimated from state changes, as mwzeval"},
        "missing_dialogues": missing,
    }
    return metrics, rows


def _as_scored(turns: list[PredictedTurn], raw_states: list[dict[str, dict[str, str]]], test: TestDialogue,
               corrected: bool, given_domains: bool) -> list[ScoredTurn]:
    """The turns after mwzeval's normalisation, with their active domains (given, or estimated as mwzeval does)."""
    normalised = [normalise.state(s, corrected) for s in raw_states]
    active = [tuple(t.active_domains or ()) for t in turns] if given_domains else estimate_active_domains(normalised)
    return [ScoredTurn(normalise.response_tokens(t.response), s, a, g.booked)
            for t, s, a, g in zip(turns, normalised, active, test.turns, strict=False)]


def _state_of(states: StateScores, domain: str) -> dict[str, Any]:
    per = states.summary()["per_domain"].get(domain, {}) if states.turns else {}
    return {"jga": per.get("jga"), "slot_f1": per.get("slot_f1")}


def label_state(state: dict[str, dict[str, str]]) -> dict[str, str]:
    """A predicted {domain: {slot: value}} state as canonical label-style keys (`hotel-book day`)."""
    flat = {f"{domain}-{slot.lower().replace(' ', '')}": value
            for domain, slots in state.items() for slot, value in slots.items()}
    return canonical_state(flat, keys_are_app_names=True)


def mwzeval_from_labels(labels: dict[str, str]) -> dict[str, dict[str, str]]:
    """A label-style state ({"hotel-book day": "friday"}) in mwzeval's format ({"hotel": {"bookday": "friday"}})."""
    state: dict[str, dict[str, str]] = {}
    for key, value in labels.items():
        domain, slot = app_key(key).split("-", 1)
        state.setdefault(domain, {})[slot] = value
    return state



def human_success(test: TestDialogue, options: ScoreOptions, venues: VenueDatabase
                  ) -> tuple[dict[str, bool], dict[str, bool]]:
    """mwzeval's Inform and Success (per goal domain and "total") for the corpus' own human responses, scored as
    `--score` scores a file of them: gold states of `options.labels`, active domains estimated as mwzeval does."""
    turns = [PredictedTurn(response=gold.system_delex) for gold in test.turns]
    raw: list[Any] = [mwzeval_from_labels(gold.states[options.labels]) for gold in test.turns]
    scored = _as_scored(turns, raw, test, options.corrected, given_domains=False)
    return dialogue_success(GoalSpec.from_goal(test.goal), scored, venues)
