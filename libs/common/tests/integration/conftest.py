from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from coffre_testing.example.service import ExampleSettings
from common.tracing import configure_tracing

sys.path.insert(0, str(Path(__file__).parent))  # relay_it_helpers


@pytest.fixture(scope="session", autouse=True)
def _tracing() -> None:
    configure_tracing("coffre-tests")


@pytest.fixture
def example_settings(infra, schema_name) -> ExampleSettings:
    return infra.settings(ExampleSettings, service_name="example", schema=schema_name)


@pytest.fixture
def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:10]}"
