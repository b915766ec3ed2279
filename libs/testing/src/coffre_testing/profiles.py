"""Which broker and Postgres the integration tests run against: the test-infrastructure profile.

Rules:
- ``COFFRE_TEST_INFRA`` picks the profile: ``embedded`` (the default: the dev stack's embedded
  Postgres and tansu broker, started by the plugin) or ``containers`` (Apache Kafka and Postgres
  in Docker, started by testcontainers, with the idempotent producer on). Any other value is a
  usage error that names the accepted ones.
- Under ``embedded``, ``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` both set select servers
  someone else runs (``external``); ``containers`` ignores them.
- ``containers`` needs the optional ``containers`` dependency group and a reachable Docker
  engine; without either, the tests that need the infrastructure are skipped with the reason —
  never errors — and the unit tests still run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

INFRA_ENV = "COFFRE_TEST_INFRA"


class Profile(StrEnum):
    EMBEDDED = "embedded"
    CONTAINERS = "containers"
    EXTERNAL = "external"


class ProfileError(ValueError):
    """``COFFRE_TEST_INFRA`` names no profile."""


def select_profile(environ: Mapping[str, str]) -> Profile:
    """The profile the environment asks for (see the module's rules)."""
    wanted = environ.get(INFRA_ENV, "").strip().lower() or Profile.EMBEDDED.value
    if wanted == Profile.CONTAINERS:
        return Profile.CONTAINERS
    if wanted != Profile.EMBEDDED:
        raise ProfileError(
            f"{INFRA_ENV}={wanted!r} is not a test profile: use 'embedded' (the default) or "
            "'containers' (Apache Kafka and Postgres in Docker, through testcontainers)"
        )
    if environ.get("DATABASE_URL") and environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return Profile.EXTERNAL
    return Profile.EMBEDDED


def _ping_docker() -> None:
    import docker

    client = docker.from_env(timeout=5)
    try:
        client.ping()
    finally:
        client.close()


def containers_unavailable(ping: Callable[[], None] = _ping_docker) -> str | None:
    """Why the ``containers`` profile cannot run here, or None when it can."""
    try:
        import testcontainers  # noqa: F401
    except ImportError:
        return (
            "testcontainers is not installed: run `COFFRE_TEST_INFRA=containers make test`, "
            "or `uv sync --all-packages --group containers`"
        )
    try:
        ping()
    except Exception as exc:  # any failure to reach the engine means no containers
        return f"no Docker engine reachable ({type(exc).__name__}: {exc})"
    return None
