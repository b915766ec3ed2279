"""Every service's OpenAPI document tells the truth: property-based requests (schemathesis)
against each app in-process, on the real Postgres and broker, get no 5xx and only documented
answers (status, media type, body schema).

Each service is found the way ``make run`` finds it (``services/<name>/.../entrypoints/main.py``)
and built from its main module's ``create_app`` and settings class, so a new service is fuzzed
without editing this file. Peers (the vault, auth's keys, the bank) point at a closed port: a
request that needs one must answer a documented problem, never a crash. The example count is
bounded and derandomized, so a run is reproducible and its length predictable.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from coffre_testing.stores import S3Endpoint, TsaEndpoint
from common.security.service_identity import generate_identity
from common.settings import ServiceSettings
from devstack.layout import DEFAULT_PORTS, discover_services
from devstack.ports import free_port
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SERVICES = [spec.name for spec in discover_services(ROOT)]
EXAMPLES = int(os.environ.get("COFFRE_FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def state(
    tmp_path_factory: pytest.TempPathFactory, dev_tsa: TsaEndpoint, s3_endpoint: S3Endpoint
) -> Iterator[Path]:
    """Identity keys, the dev PKI (with its running TSA) and an S3 endpoint, as ``make run``
    prepares them."""
    folder = tmp_path_factory.mktemp("fuzz-state")
    for name in DEFAULT_PORTS:
        generate_identity(name, folder / "identity")
    (folder / "kms").mkdir(mode=0o700)
    (folder / "objects").mkdir()
    (folder / "pki").symlink_to(dev_tsa.pki.root_cert.parent, target_is_directory=True)
    env = {
        "ARCHIVE_TSA_URL": dev_tsa.url,
        "ARCHIVE_S3_BUCKET": f"fuzz-{uuid.uuid4().hex[:12]}",
        "ARCHIVE_SMTP_PORT": str(free_port()),  # never the default port another run may hold
        "OBJECT_STORE_ENDPOINT_URL": s3_endpoint.url,
        "AWS_ACCESS_KEY_ID": s3_endpoint.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_endpoint.secret_access_key,
        "AWS_REGION": s3_endpoint.region,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield folder


def build_app(service: str, infra: Any, schema: str, state: Path) -> FastAPI:
    """The service's app as ``make run`` builds it (development settings), on the test infra."""
    main = importlib.import_module(f"{service}.entrypoints.main")
    settings_cls = next(
        value
        for value in vars(main).values()
        if inspect.isclass(value)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    )
    closed = f"http://127.0.0.1:{free_port()}"
    prefix = service.upper()
    env = {
        "COFFRE_STATE_DIR": str(state),
        "SERVICE_IDENTITY_KEY_FILE": str(state / "identity" / f"{service}.key.pem"),
        "SERVICE_TRUST_DIR": str(state / "identity"),
        f"{prefix}_AUTH_JWKS_URL": f"{closed}/.well-known/jwks.json",
        f"{prefix}_VAULT_URL": closed,
        f"{prefix}_AGENT_BASE_URL": closed,
        f"{prefix}_PUBLIC_BASE_URL": f"http://127.0.0.1:{DEFAULT_PORTS[service]}",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        service_settings = infra.settings(
            settings_cls, service_name=service, schema=schema, environment="development"
        )
        app: FastAPI = main.create_app(service_settings)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return app


@pytest.mark.parametrize("service", SERVICES)
def test_every_answer_is_documented_and_none_is_a_server_error(
    service: str, infra: Any, schema_name: str, state: Path
) -> None:
    app = build_app(service, infra, schema_name, state)
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    try:
        _wait_until_ready(app)
        for result in api.get_all_operations():
            operation = result.ok()
            failure = _fuzz(operation)
            if failure:
                failures.append(f"{operation.label}: {failure}")
    finally:
        shutdown_lifespans()
    assert not failures, f"{service}: " + "\n\n".join(failures)


def _wait_until_ready(app: FastAPI, timeout: float = 120.0) -> None:
    """Start the app's lifespan and wait until it reports ready (consumers joined)."""
    deadline = time.monotonic() + timeout
    with get_client(app) as client:
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the service never became ready"
            time.sleep(0.2)


def _fuzz(operation: Any) -> str | None:
    """Run the bounded examples of one operation; the first failure, if any, as text."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        check()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:1500]}"
    return None


@pytest.mark.asyncio
@pytest.mark.parametrize("service", SERVICES)
async def test_every_body_over_the_services_limit_gets_the_documented_413(
    service: str, infra: Any, schema_name: str, state: Path
) -> None:
    """4 MiB declared to every operation that takes a body: refused before a byte is read (the
    app is not even started), as the documented 413 problem. A route that bounds its body
    itself (the archive's upload, tested with its service) documents its 413 too."""
    app = build_app(service, infra, schema_name, state)
    limits = app.state.body_limits
    huge = b"x" * (4 * 1024 * 1024)
    answered: list[str] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # no lifespan
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for path, methods in app.openapi()["paths"].items():
            for method, operation in methods.items():
                if "requestBody" not in operation:
                    continue
                assert "413" in operation["responses"], f"{method.upper()} {path}"
                url = re.sub(r"\{[^}]+\}", "x", path)
                if limits.limit_for(url) is None:
                    continue
                answer = await client.request(method, url, content=huge)
                label = f"{method.upper()} {path}: {answer.status_code}"
                answered.append(label)
                assert answer.status_code == 413, label
                assert answer.headers["content-type"] == "application/problem+json", label
                assert answer.json()["code"] == "request.too-large", label
    assert answered or service == "archive", f"{service} has no operation that takes a body"
