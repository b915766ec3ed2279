"""Settings fail fast, name the bad setting, never echo a value, refuse placeholders."""

from __future__ import annotations

import pytest
from common.errors import ConfigurationError
from common.settings import ServiceSettings, load_settings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

pytestmark = pytest.mark.unit


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)
    service_name: str = "demo"
    api_secret: SecretStr = Field(SecretStr("dev-only-secret"))
    batch: int = Field(10, ge=1)


def test_bad_setting_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_BATCH", "-5")
    monkeypatch.setenv("HTTP_PORT", "not-a-port-hunter2")
    with pytest.raises(ConfigurationError) as info:
        load_settings(DemoSettings)
    assert "batch" in info.value.message
    assert "http_port" in info.value.message or "HTTP_PORT" in info.value.message
    assert "hunter2" not in info.value.message


def test_placeholder_secret_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COFFRE_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError) as info:
        load_settings(DemoSettings)
    assert "api_secret" in info.value.message
    assert "dev-only-secret" not in info.value.message


def test_placeholder_secret_is_allowed_in_development() -> None:
    settings = load_settings(DemoSettings)
    assert settings.environment == "development"
    assert settings.schema_name == "demo"


def test_real_secret_is_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COFFRE_ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_API_SECRET", "q8V2-fk3L-99xZ-real-looking")
    settings = load_settings(DemoSettings)
    assert settings.api_secret.get_secret_value().startswith("q8V2")
    assert "q8V2" not in repr(settings)
