from __future__ import annotations

import pytest
from vault.domain.errors import InvalidInput, PolicyDenied
from vault.domain.policy import DEFAULT_POLICY, Action, Policy

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("service", "purpose", "action"),
    [
        ("aggregation", "psd2-consent", Action.READ),
        ("aggregation", "psd2-consent", Action.WRITE),
        ("payments", "psd2-consent", Action.READ),
        ("payments", "psd2-payment-consent", Action.WRITE),
        ("payments", "psd2-payment-consent", Action.READ),
        ("payments", "psd2-payment-consent", Action.DELETE),
        ("payments", "payment-payee", Action.WRITE),
        ("archive", "document", Action.GENERATE_DATA_KEY),
        ("archive", "document", Action.UNWRAP_DATA_KEY),
        ("aggregation", "bank-credentials", Action.WRITE),
        ("aggregation", "bank-credentials", Action.RESEAL),
        ("aggregation", "bank-credentials", Action.DELETE),
        ("backoffice", "bank-credentials", Action.REQUEST_GRANT),
        ("backoffice", "bank-credentials", Action.USE_GRANT),
    ],
)
def test_default_policy_allows_the_named_services(
    service: str, purpose: str, action: Action
) -> None:
    assert DEFAULT_POLICY.allows(service, purpose, action)


@pytest.mark.parametrize(
    ("service", "purpose", "action"),
    [
        ("payments", "psd2-consent", Action.WRITE),
        ("fraud", "psd2-consent", Action.READ),
        ("aggregation", "psd2-payment-consent", Action.READ),
        ("fraud", "payment-payee", Action.READ),
        ("auth", "psd2-consent", Action.READ),
        ("archive", "psd2-consent", Action.READ),
        ("aggregation", "bank-credentials", Action.READ),
        ("payments", "bank-credentials", Action.READ),
        ("payments", "bank-credentials", Action.RESEAL),
        ("backoffice", "bank-credentials", Action.RESEAL),
        ("aggregation", "document", Action.GENERATE_DATA_KEY),
        ("payments", "document", Action.UNWRAP_DATA_KEY),
        ("archive", "unknown-purpose", Action.GENERATE_DATA_KEY),
        ("backoffice", "psd2-consent", Action.REQUEST_GRANT),
    ],
)
def test_anything_not_listed_is_denied(service: str, purpose: str, action: Action) -> None:
    assert not DEFAULT_POLICY.allows(service, purpose, action)
    with pytest.raises(PolicyDenied) as err:
        DEFAULT_POLICY.check(service, purpose, action)
    assert err.value.status == 403


def test_policy_text_round_trips() -> None:
    assert Policy.parse(DEFAULT_POLICY.to_text()) == DEFAULT_POLICY


def test_empty_policy_denies_everything() -> None:
    assert not Policy.parse("").allows("aggregation", "psd2-consent", Action.READ)


@pytest.mark.parametrize(
    "text", ["aggregation:psd2-consent", "a:b:c:d", "x:psd2-consent:secret.fly"]
)
def test_malformed_policy_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        Policy.parse(text)
