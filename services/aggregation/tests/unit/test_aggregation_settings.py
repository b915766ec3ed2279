"""Settings refuse what would be unsafe at start-up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aggregation.settings import AggregationSettings
from common.errors import ConfigurationError
from common.settings import load_settings

pytestmark = pytest.mark.unit
KEY = "a-real-reference-key-0123456789abcdef"


def _load(**values: Any) -> AggregationSettings:
    return load_settings(AggregationSettings, **({"service_identity_key_file": "/k.pem"} | values))


def test_placeholder_reference_key_is_refused_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="placeholder"):
        _load(environment="production")
    assert _load(environment="development").ref_key.get_secret_value()


def test_in_memory_vault_is_refused_in_production() -> None:
    with pytest.raises(ConfigurationError, match="memory"):
        _load(environment="production", ref_key=KEY, consent_vault="memory")


def test_vault_calls_need_a_service_identity() -> None:
    with pytest.raises(ConfigurationError, match="service_identity_key_file"):
        _load(service_identity_key_file=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [("consent_validity_days", 181), ("unattended_pulls_per_day", 5), ("ref_key", "short")],
)
def test_values_beyond_psd2_limits_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError):
        _load(**{name: value})


def test_policy_carries_the_configured_rules() -> None:
    policy = _load(unattended_pulls_per_day=2, member_refresh_interval_seconds=30).policy()
    assert policy.unattended_per_day == 2
    assert policy.member_refresh_interval == timedelta(seconds=30)
    assert policy.consent_validity_days == 180
