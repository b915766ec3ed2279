"""The test-infrastructure profile: embedded by default, external servers when both addresses are
given, containers on request — and, without Docker, infrastructure tests skipped with the
reason, never errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from coffre_testing.profiles import (
    INFRA_ENV,
    Profile,
    ProfileError,
    containers_unavailable,
    select_profile,
)

pytestmark = pytest.mark.unit
EXTERNAL = {"DATABASE_URL": "postgresql://db/coffre", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}


def test_the_embedded_stack_is_the_default() -> None:
    assert select_profile({}) is Profile.EMBEDDED
    assert select_profile({INFRA_ENV: " Embedded "}) is Profile.EMBEDDED
    assert select_profile({"DATABASE_URL": "postgresql://db/coffre"}) is Profile.EMBEDDED


def test_both_addresses_select_external_servers() -> None:
    assert select_profile(EXTERNAL) is Profile.EXTERNAL


def test_containers_on_request_even_with_external_addresses() -> None:
    assert select_profile({INFRA_ENV: "containers"}) is Profile.CONTAINERS
    assert select_profile({INFRA_ENV: "CONTAINERS", **EXTERNAL}) is Profile.CONTAINERS


def test_an_unknown_profile_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(ProfileError, match=r"'embedded' .* or 'containers'"):
        select_profile({INFRA_ENV: "docker"})


def test_without_testcontainers_the_reason_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "testcontainers", None)  # import raises ImportError
    reason = containers_unavailable(ping=lambda: None)
    assert reason is not None
    assert "testcontainers is not installed" in reason
    assert "--group containers" in reason


def test_without_a_docker_engine_the_reason_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "testcontainers", types.ModuleType("testcontainers"))

    def refused() -> None:
        raise ConnectionError("Connection refused")

    reason = containers_unavailable(ping=refused)
    assert reason == "no Docker engine reachable (ConnectionError: Connection refused)"
    assert containers_unavailable(ping=lambda: None) is None


def _run_pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p coffre_testing.plugin -rs\n")
    (tmp_path / "test_sample.py").write_text(
        textwrap.dedent(
            """
            def test_needs_the_broker(infra):
                assert infra.bootstrap_servers

            def test_needs_nothing():
                assert True
            """
        )
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # a pytest run of its own: the plugin's imports take a few seconds
def test_containers_without_docker_skip_infra_tests_with_the_reason(tmp_path: Path) -> None:
    done = _run_pytest(tmp_path, COFFRE_TEST_INFRA="containers", DOCKER_HOST="tcp://127.0.0.1:9")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout
    assert "COFFRE_TEST_INFRA=containers:" in done.stdout
    assert "error" not in done.stdout.splitlines()[-1]  # the summary: no test errored


def test_an_unknown_profile_stops_the_run_with_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config
) -> None:
    from coffre_testing.plugin import pytest_configure

    monkeypatch.setenv(INFRA_ENV, "docker")
    with pytest.raises(pytest.UsageError, match="'containers'"):
        pytest_configure(pytestconfig)
