"""Coffre's pytest plugin: the real broker and Postgres, started once per test session.

Rules: integration tests talk to a real Kafka-protocol broker and a real Postgres over TCP. By
default the plugin starts the same embedded servers as the dev stack (in temporary folders): one
Postgres per session and one broker per test module; when ``KAFKA_BOOTSTRAP_SERVERS`` and
``DATABASE_URL`` are both set it uses those instead; with ``COFFRE_TEST_INFRA=containers`` it
starts Apache Kafka and Postgres in Docker (testcontainers, once per session, idempotent producer
on), and skips the tests that need them, with the reason, where that cannot run
(``coffre_testing.profiles``). Each test that asks for a schema gets a fresh one, so tests never
see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from devstack.kafka import EmbeddedKafka
from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres

from coffre_testing import ports
from coffre_testing.infra import Infra
from coffre_testing.profiles import Profile, ProfileError, containers_unavailable, select_profile
from coffre_testing.stores import dev_tsa, s3_endpoint

__all__ = ["dev_tsa", "s3_endpoint"]


def _external() -> tuple[str, str] | None:
    if select_profile(os.environ) is not Profile.EXTERNAL:
        return None
    return os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]


def pytest_configure(config: pytest.Config) -> None:
    """A wrong ``COFFRE_TEST_INFRA`` stops the run at once, naming the accepted values."""
    try:
        select_profile(os.environ)
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def _containers() -> Iterator[Infra | None]:
    """Apache Kafka and Postgres in Docker for the session under ``COFFRE_TEST_INFRA=containers``
    (None under any other profile); skipped, with the reason, where they cannot run."""
    if select_profile(os.environ) is not Profile.CONTAINERS:
        yield None
        return
    reason = containers_unavailable()
    if reason is not None:
        pytest.skip(f"COFFRE_TEST_INFRA=containers: {reason}")
    from coffre_testing.containers import kafka_container, postgres_container

    with postgres_container() as database_url, kafka_container() as bootstrap_servers:
        yield Infra(database_url, bootstrap_servers, idempotent_producer=True)


@pytest.fixture(scope="session")
def _postgres(_containers: Infra | None) -> Iterator[str | None]:
    """One real Postgres for the session (each test works in its own schema)."""
    if _containers is not None or _external():
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix="coffre-test-pg-"))
    postgres = EmbeddedPostgres(base / "postgres", free_port(), fsync=False)
    postgres.start()
    try:
        yield postgres.url
    finally:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def infra(_containers: Infra | None, _postgres: str | None) -> Iterator[Infra]:
    """The broker and Postgres a test module's integration tests share.

    Embedded: a fresh broker per test module (it starts in ~0.1 s), so one module's events never
    reach another module's consumers; Postgres is shared by the session. Containers and external
    servers are shared by the whole session, as in production.
    """
    if _containers is not None:
        yield _containers
        return
    external = _external()
    if external:
        yield Infra(
            database_url=external[0],
            bootstrap_servers=external[1],
            idempotent_producer=os.environ.get("KAFKA_IDEMPOTENT_PRODUCER", "true") == "true",
        )
        return
    assert _postgres is not None
    base = Path(tempfile.mkdtemp(prefix="coffre-test-kafka-"))
    kafka = EmbeddedKafka(free_port(), log_file=base / "kafka.log")
    kafka.start()
    try:
        yield Infra(
            database_url=_postgres,
            bootstrap_servers=kafka.bootstrap_servers,
            idempotent_producer=False,
            kafka=kafka,
        )
    finally:
        kafka.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def service_port_offset() -> Iterator[int]:
    """A ``--port-offset`` for a whole dev stack, held for this test alone
    (``coffre_testing.ports``)."""
    with ports.service_port_offset() as offset:
        yield offset


@pytest.fixture
def schema_name() -> str:
    """A fresh Postgres schema name for one test."""
    return f"t_{uuid.uuid4().hex[:12]}"
