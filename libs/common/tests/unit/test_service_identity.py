"""A service proves who it is with a short-lived token signed by its own key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from common.errors import Unauthenticated
from common.security.service_identity import (
    ServiceTokenIssuer,
    ServiceTokenVerifier,
    generate_identity,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

pytestmark = pytest.mark.unit


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    for name in ("aggregation", "archive"):
        generate_identity(name, tmp_path)
    return tmp_path


def _reason(verifier: ServiceTokenVerifier, header: str | None) -> str:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(header)
    return str(info.value.extensions["reason"])


def test_trusted_caller_is_identified(keys: Path) -> None:
    issuer = ServiceTokenIssuer.from_file("aggregation", keys / "aggregation.key.pem")
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    assert verifier.verify(f"Bearer {issuer.token_for('vault')}").name == "aggregation"


def test_private_key_file_is_owner_only(keys: Path) -> None:
    assert (keys / "aggregation.key.pem").stat().st_mode & 0o777 == 0o600


def test_token_for_another_audience_is_refused(keys: Path) -> None:
    issuer = ServiceTokenIssuer.from_file("aggregation", keys / "aggregation.key.pem")
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    assert _reason(verifier, f"Bearer {issuer.token_for('auth')}") == "wrong-audience"


def test_caller_claiming_another_name_is_refused(keys: Path) -> None:
    impostor = ServiceTokenIssuer("archive", Ed25519PrivateKey.generate())
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    assert _reason(verifier, f"Bearer {impostor.token_for('vault')}") == "bad-signature"


def test_unknown_service_is_refused(keys: Path) -> None:
    stranger = ServiceTokenIssuer("fraud", Ed25519PrivateKey.generate())
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    assert _reason(verifier, f"Bearer {stranger.token_for('vault')}") == "untrusted-caller"


def test_missing_or_garbage_token_is_refused(keys: Path) -> None:
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    assert _reason(verifier, None) == "missing-token"
    assert _reason(verifier, "Bearer not.a.token") == "untrusted-caller"


def test_tampered_token_is_refused(keys: Path) -> None:
    issuer = ServiceTokenIssuer.from_file("aggregation", keys / "aggregation.key.pem")
    head, body, sig = issuer.token_for("vault").split(".")
    tampered = f"{head}.{body}.{sig[:-4]}AAAA"
    assert (
        _reason(ServiceTokenVerifier.from_folder("vault", keys), f"Bearer {tampered}")
        == "bad-signature"
    )


def test_expired_token_is_refused(keys: Path) -> None:
    issuer = ServiceTokenIssuer.from_file("aggregation", keys / "aggregation.key.pem", ttl=60)
    token = issuer.token_for("vault", now=time.time() - 600)
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    assert _reason(verifier, f"Bearer {token}") == "expired"


def test_lifetime_is_capped() -> None:
    with pytest.raises(ValueError):
        ServiceTokenIssuer("aggregation", Ed25519PrivateKey.generate(), ttl=3600)


def test_a_remembered_token_is_refused_once_it_expires(keys: Path) -> None:
    issuer = ServiceTokenIssuer.from_file("aggregation", keys / "aggregation.key.pem", ttl=60)
    now = time.time()
    header = f"Bearer {issuer.token_for('vault', now=now)}"
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    assert verifier.verify(header, now=now).name == "aggregation"
    assert verifier.verify(header, now=now + 60).name == "aggregation"
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(header, now=now + 60 + 31)
    assert info.value.extensions["reason"] == "expired"


def test_a_tampered_copy_of_a_remembered_token_is_refused(keys: Path) -> None:
    issuer = ServiceTokenIssuer.from_file("aggregation", keys / "aggregation.key.pem")
    verifier = ServiceTokenVerifier.from_folder("vault", keys)
    token = issuer.token_for("vault")
    assert verifier.verify(f"Bearer {token}").name == "aggregation"
    head, body, sig = token.split(".")
    assert _reason(verifier, f"Bearer {head}.{body}.{sig[:-4]}AAAA") == "bad-signature"
    assert verifier.verify(f"Bearer {token}").name == "aggregation"
