"""Scores combine the rules and, once it has learnt enough, the online model; every score
carries the reasons that drove it, and a decision from configured thresholds.

Rules: ``score = rules`` until the model is ready, then ``(1 - w) * rules + w * model``; the
reasons split the score among the rules that fired and the features that pushed the model
towards fraud, largest first; ``review_at <= score < block_at`` is review, ``score >= block_at``
is block; money coming in (a credit) always passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from fraud.domain.errors import InvalidPolicy
from fraud.domain.features import Features
from fraud.domain.model import OnlineModel
from fraud.domain.rules import DEFAULT_WEIGHTS, RULE_CODES, RuleHit, evaluate


class Decision(StrEnum):
    PASS = "pass"
    REVIEW = "review"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class ScoringPolicy:
    """Thresholds, rule weights and the model's share, validated when built."""

    review_at: float = 0.5
    block_at: float = 0.85
    model_weight: float = 0.35
    model_min_per_class: int = 10
    max_reasons: int = 5
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        if not 0 < self.review_at < self.block_at <= 1:
            raise InvalidPolicy("thresholds must satisfy 0 < review_at < block_at <= 1")
        if not 0 <= self.model_weight < 1:
            raise InvalidPolicy("model_weight must be in [0, 1)")
        if self.model_min_per_class < 1 or self.max_reasons < 1:
            raise InvalidPolicy("model_min_per_class and max_reasons must be positive")
        unknown = set(self.weights) - RULE_CODES
        if unknown:
            raise InvalidPolicy(f"unknown rules: {', '.join(sorted(unknown))}")
        if any(not 0 <= w <= 1 for w in self.weights.values()):
            raise InvalidPolicy("rule weights must be in [0, 1]")

    def decide(self, value: float) -> Decision:
        if value >= self.block_at:
            return Decision.BLOCK
        if value >= self.review_at:
            return Decision.REVIEW
        return Decision.PASS


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    feature: str
    value: float
    contribution: float


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    decision: Decision
    reasons: tuple[Reason, ...]
    rule_score: float
    model_probability: float | None
    model_version: int


def score(
    features: Features, policy: ScoringPolicy, model: OnlineModel, *, is_outflow: bool = True
) -> Score:
    """Score one feature vector under ``policy``."""
    if not is_outflow:
        return Score(0.0, Decision.PASS, (), 0.0, None, model.version)
    rule_score, hits = evaluate(features, policy.weights)
    if not model.ready(policy.model_min_per_class):
        value = rule_score
        reasons = _rule_reasons(hits, value)
        probability = None
    else:
        probability = model.probability(features)
        share = policy.model_weight
        value = (1 - share) * rule_score + share * probability
        reasons = _rule_reasons(hits, (1 - share) * rule_score)
        reasons += _model_reasons(model.contributions(features), features, share * probability)
    value = min(1.0, max(0.0, value))
    top = tuple(sorted(reasons, key=lambda r: r.contribution, reverse=True)[: policy.max_reasons])
    return Score(value, policy.decide(value), top, rule_score, probability, model.version)


def _rule_reasons(hits: list[RuleHit], portion: float) -> list[Reason]:
    total = sum(hit.contribution for hit in hits)
    if total <= 0 or portion <= 0:
        return []
    return [
        Reason(hit.code, hit.feature, hit.value, portion * hit.contribution / total) for hit in hits
    ]


def _model_reasons(terms: dict[str, float], features: Features, portion: float) -> list[Reason]:
    pushing = {name: term for name, term in terms.items() if term > 0}
    total = sum(pushing.values())
    if total <= 0 or portion <= 0:
        return []
    return [
        Reason(f"model:{name}", name, features[name], portion * term / total)
        for name, term in pushing.items()
    ]
