"""A bad setting stops a service at start with an error naming the setting."""

from __future__ import annotations

import pytest
from common.http.serve import run_service
from common.settings import ServiceSettings
from fastapi import FastAPI

pytestmark = pytest.mark.unit


class DemoSettings(ServiceSettings):
    service_name: str = "demo"


def _never_called(settings: DemoSettings) -> FastAPI:
    raise AssertionError("the app must not be built with bad settings")


def test_bad_setting_stops_the_process_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_IDEMPOTENT_PRODUCER", "perhaps-hunter2")
    assert run_service(DemoSettings, _never_called, None, argv=["serve"]) == 2
    err = capsys.readouterr().err
    assert "KAFKA_IDEMPOTENT_PRODUCER" in err or "kafka_idempotent_producer" in err
    assert "hunter2" not in err


def test_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_service(DemoSettings, _never_called, None, argv=["dance"]) == 2
    assert "unknown command" in capsys.readouterr().err
