"""Coffre's pytest plugin: the real broker and Postgres, started once per test session.

Rules: integration tests talk to a real Kafka-protocol broker and a real Postgres over TCP. By
default the plugin starts the same embedded servers as the dev stack (in a temporary folder);
when ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` are both set it uses those instead. Each
test that asks for a schema gets a fresh one, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coffre_testing.infra import Infra, start_embedded_infra


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The broker and Postgres every integration test of the session shares."""
    external_db = os.environ.get("DATABASE_URL")
    external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external_db and external_kafka:
        yield Infra(
            database_url=external_db,
            bootstrap_servers=external_kafka,
            idempotent_producer=os.environ.get("KAFKA_IDEMPOTENT_PRODUCER", "true") == "true",
        )
        return
    base = Path(tempfile.mkdtemp(prefix="coffre-test-infra-"))
    try:
        with start_embedded_infra(base) as embedded:
            yield embedded
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def schema_name() -> str:
    """A fresh Postgres schema name for one test."""
    return f"t_{uuid.uuid4().hex[:12]}"
