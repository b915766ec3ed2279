from __future__ import annotations

import json
import random

import pytest
from fraud.domain.errors import InvalidPolicy
from fraud.domain.features import FEATURE_NAMES, Features
from fraud.domain.model import OnlineModel
from fraud.domain.rules import DEFAULT_WEIGHTS, RULE_CODES, evaluate
from fraud.domain.scoring import Decision, ScoringPolicy, score

pytestmark = pytest.mark.unit


def _features(**values: float) -> Features:
    base = dict.fromkeys(FEATURE_NAMES, 0.0)
    base["log_amount"] = 3.0
    base.update(values)
    return base


def _trained_model(n: int = 60, seed: int = 1) -> OnlineModel:
    rng = random.Random(seed)
    model = OnlineModel()
    for _ in range(n):
        fraud = rng.random() < 0.5
        model.learn(_features(new_payee=float(fraud), log_amount=rng.uniform(2, 4)), is_fraud=fraud)
    return model


@pytest.mark.parametrize(
    "kwargs",
    [
        {"review_at": 0.9, "block_at": 0.5},
        {"review_at": 0.0},
        {"block_at": 1.5},
        {"model_weight": 1.0},
        {"weights": {"no_such_rule": 0.5}},
        {"weights": {"card_testing": 1.5}},
        {"max_reasons": 0},
    ],
)
def test_inconsistent_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidPolicy):
        ScoringPolicy(**kwargs)  # type: ignore[arg-type]


def test_every_rule_has_a_default_weight() -> None:
    assert set(DEFAULT_WEIGHTS) == RULE_CODES


def test_thresholds_from_policy_decide() -> None:
    policy = ScoringPolicy(review_at=0.4, block_at=0.7)
    assert policy.decide(0.39) is Decision.PASS
    assert policy.decide(0.4) is Decision.REVIEW
    assert policy.decide(0.69) is Decision.REVIEW
    assert policy.decide(0.7) is Decision.BLOCK


def test_quiet_activity_passes_with_no_reasons() -> None:
    result = score(_features(), ScoringPolicy(), OnlineModel())
    assert result.value == 0
    assert result.decision is Decision.PASS
    assert result.reasons == ()


def test_independent_rules_add_up_as_a_noisy_or() -> None:
    weights = {"new_payee": 0.5, "unknown_device": 0.5}
    value, hits = evaluate(_features(new_payee=1, unknown_device=1), weights)
    assert value == pytest.approx(0.75)
    assert {h.code for h in hits} == {"new_payee", "unknown_device"}


def test_rule_with_zero_weight_is_switched_off() -> None:
    policy = ScoringPolicy(weights={**DEFAULT_WEIGHTS, "card_testing": 0.0})
    result = score(_features(small_burst=8), policy, OnlineModel())
    assert all(r.code != "card_testing" for r in result.reasons)


def test_card_testing_burst_is_blocked_and_says_why() -> None:
    result = score(_features(small_burst=6, count_1h=6), ScoringPolicy(), OnlineModel())
    assert result.decision is Decision.BLOCK
    assert result.reasons[0].code == "card_testing"
    assert result.reasons[0].feature == "small_burst"
    assert result.reasons[0].value == 6


def test_takeover_new_device_new_payee_large_amount_is_blocked() -> None:
    features = _features(after_new_device=1, new_payee=1, amount_zscore=4)
    result = score(features, ScoringPolicy(), OnlineModel())
    assert result.decision is Decision.BLOCK
    assert result.reasons[0].code == "account_takeover"


def test_new_payee_alone_passes() -> None:
    assert score(_features(new_payee=1), ScoringPolicy(), OnlineModel()).decision is Decision.PASS


def test_money_coming_in_always_passes() -> None:
    result = score(_features(small_burst=9), ScoringPolicy(), OnlineModel(), is_outflow=False)
    assert result.decision is Decision.PASS
    assert result.value == 0


def test_reasons_are_sorted_capped_and_account_for_the_score() -> None:
    features = _features(
        small_burst=6, count_1h=8, new_payee=1, unknown_device=1, round_amount=1, hour_rarity=1
    )
    policy = ScoringPolicy(max_reasons=3)
    result = score(features, policy, OnlineModel())
    assert len(result.reasons) == 3
    contributions = [r.contribution for r in result.reasons]
    assert contributions == sorted(contributions, reverse=True)
    full = score(features, ScoringPolicy(max_reasons=20), OnlineModel())
    assert sum(r.contribution for r in full.reasons) == pytest.approx(full.value)


def test_model_is_silent_until_it_has_seen_both_classes() -> None:
    model = OnlineModel()
    for _ in range(20):
        model.learn(_features(new_payee=1), is_fraud=True)
    policy = ScoringPolicy(model_min_per_class=5)
    result = score(_features(new_payee=1), policy, model)
    assert result.model_probability is None
    assert result.value == result.rule_score


def test_ready_model_takes_its_configured_share_and_explains_itself() -> None:
    model = _trained_model()
    policy = ScoringPolicy(model_min_per_class=5, model_weight=0.4)
    result = score(_features(new_payee=1), policy, model)
    assert result.model_probability is not None
    assert result.model_probability > 0.5
    expected = 0.6 * result.rule_score + 0.4 * result.model_probability
    assert result.value == pytest.approx(expected)
    assert any(r.code == "model:new_payee" for r in result.reasons)
    assert result.model_version == model.version == 60


def test_model_learns_which_way_a_feature_points() -> None:
    model = _trained_model(200)
    assert model.probability(_features(new_payee=1)) > 0.8
    assert model.probability(_features(new_payee=0)) < 0.2


def test_model_rebuilt_from_its_state_predicts_and_learns_identically() -> None:
    model = _trained_model()
    clone = OnlineModel.from_state(json.loads(json.dumps(model.to_state())))
    probe = _features(new_payee=1, log_amount=3.3, amount_zscore=1.2)
    assert clone.probability(probe) == model.probability(probe)
    model.learn(probe, is_fraud=False)
    clone.learn(probe, is_fraud=False)
    assert clone.probability(probe) == model.probability(probe)
    assert clone.to_state() == model.to_state()
