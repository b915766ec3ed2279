"""Weighted fraud rules: each maps the feature vector to a strength in [0, 1].

Rules: a rule's contribution is its configured weight times its strength; rules combine as a
noisy-OR (``1 - prod(1 - contribution)``), so no single weak rule blocks and strong evidence from
independent rules adds up; a rule with weight 0 is switched off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fraud.domain.features import Features


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    feature: str
    strength: Callable[[Features], float]


@dataclass(frozen=True, slots=True)
class RuleHit:
    code: str
    feature: str
    value: float
    contribution: float


def _takeover(f: Features) -> float:
    if not f["after_new_device"]:
        return 0.0
    return 1.0 if f["new_payee"] or f["amount_zscore"] >= 2 else 0.5


def _velocity_24h(f: Features) -> float:
    if f["count_24h"] < 6:
        return 0.0
    return _clip((f["count_24h_ratio"] - 3) / 5)


RULES: tuple[Rule, ...] = (
    Rule("card_testing", "small_burst", lambda f: _clip((f["small_burst"] - 2) / 3)),
    Rule("account_takeover", "after_new_device", _takeover),
    Rule(
        "factor_change_payout",
        "after_factor_change",
        lambda f: f["after_factor_change"] * f["new_payee"],
    ),
    Rule("velocity_1h", "count_1h", lambda f: _clip((f["count_1h"] - 2) / 4)),
    Rule("velocity_24h", "count_24h_ratio", _velocity_24h),
    Rule("spend_spike_24h", "sum_24h_multiple", lambda f: _clip((f["sum_24h_multiple"] - 3) / 6)),
    Rule("amount_outlier", "amount_zscore", lambda f: _clip((f["amount_zscore"] - 2) / 3)),
    Rule(
        "new_payee_large_amount",
        "new_payee",
        lambda f: f["new_payee"] * _clip((f["amount_zscore"] - 1) / 2),
    ),
    Rule("new_payee", "new_payee", lambda f: f["new_payee"]),
    Rule(
        "unusual_hour", "hour_rarity", lambda f: f["hour_rarity"] if f["hour_rarity"] >= 0.75 else 0
    ),
    Rule(
        "round_amount",
        "round_amount",
        lambda f: f["round_amount"] * (1.0 if f["new_payee"] else 0.3),
    ),
    Rule("unknown_device", "unknown_device", lambda f: f["unknown_device"]),
)

RULE_CODES = frozenset(rule.code for rule in RULES)

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "card_testing": 0.9,
    "account_takeover": 0.85,
    "factor_change_payout": 0.6,
    "velocity_1h": 0.7,
    "velocity_24h": 0.4,
    "spend_spike_24h": 0.5,
    "amount_outlier": 0.55,
    "new_payee_large_amount": 0.55,
    "new_payee": 0.08,
    "unusual_hour": 0.15,
    "round_amount": 0.15,
    "unknown_device": 0.3,
}


def evaluate(features: Features, weights: Mapping[str, float]) -> tuple[float, list[RuleHit]]:
    """The combined rule score and the rules that fired, strongest first."""
    hits: list[RuleHit] = []
    benign = 1.0
    for rule in RULES:
        contribution = weights.get(rule.code, 0.0) * rule.strength(features)
        if contribution <= 0:
            continue
        benign *= 1.0 - contribution
        hits.append(RuleHit(rule.code, rule.feature, features[rule.feature], contribution))
    hits.sort(key=lambda hit: hit.contribution, reverse=True)
    return 1.0 - benign, hits
