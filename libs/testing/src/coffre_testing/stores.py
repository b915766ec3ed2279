"""Fixtures for the archive's real parts: an S3 endpoint with Object Lock and the dev TSA.

Rules: both are real servers over real sockets, started once per test session — moto's S3
server (through the dev stack's `EmbeddedS3`) and the dev RFC 3161 TSA (`devstack.tsa`) with
the dev PKI generated into a temporary folder. Tests create their own buckets.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from devstack.kafka import EmbeddedS3
from devstack.pki import DevPki
from devstack.ports import free_port
from devstack.tsa import DevTsa


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key_id: str = "local"
    secret_access_key: str = "local"
    region: str = "eu-west-1"


@dataclass(frozen=True)
class TsaEndpoint:
    url: str
    pki: DevPki


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """A real S3 endpoint (moto_server) that enforces Object Lock retention on deletes."""
    server = EmbeddedS3(free_port(), bucket=f"coffre-test-{free_port()}")
    server.start()
    try:
        yield S3Endpoint(server.endpoint)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dev_tsa() -> Iterator[TsaEndpoint]:
    """The dev RFC 3161 TSA on a free port, with a fresh dev PKI (root → seal, TSA)."""
    folder = Path(tempfile.mkdtemp(prefix="coffre-test-pki-"))
    tsa = DevTsa(folder / "pki", port=free_port()).start()
    try:
        yield TsaEndpoint(tsa.url, DevPki(folder / "pki"))
    finally:
        tsa.stop()
        shutil.rmtree(folder, ignore_errors=True)
