"""Helpers for fraud's integration tests: signed tokens, events on the real broker."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from common.events import Envelope, Event
from common.security.access_tokens import AccessTokenVerifier, JwksCache, StaticJwksSource
from common.security.service_identity import (
    ServiceTokenIssuer,
    ServiceTokenVerifier,
    generate_identity,
)
from joserfc import jwt
from joserfc.jwk import KeySet, OKPKey

ISSUER = "https://auth.test"
AUDIENCE = "coffre-api"


@dataclass
class Tokens:
    """Stands in for auth: signs access tokens that fraud verifies against a JWKS."""

    key: OKPKey = field(
        default_factory=lambda: OKPKey.generate_key("Ed25519", parameters={"kid": "k1"})
    )

    def verifier(self) -> AccessTokenVerifier:
        document = KeySet([self.key]).as_dict(private=False)
        return AccessTokenVerifier(
            JwksCache(StaticJwksSource(document)), issuer=ISSUER, audience=AUDIENCE
        )

    def access(self, subject: str, *, methods: tuple[str, ...] = ("pwd", "otp")) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "sid": str(uuid.uuid4()),
            "scope": "member",
            "amr": list(methods),
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        header = {"alg": "Ed25519", "kid": "k1", "typ": "at+jwt"}
        token = jwt.encode(header, claims, self.key, algorithms=["Ed25519"])
        return {"authorization": f"Bearer {token}"}


@dataclass
class Services:
    """Service identities for payments (allowed) and archive (not allowed)."""

    folder: Path

    def __post_init__(self) -> None:
        for name in ("payments", "archive"):
            generate_identity(name, self.folder)

    def verifier(self) -> ServiceTokenVerifier:
        return ServiceTokenVerifier.from_folder("fraud", self.folder)

    def headers(self, caller: str = "payments") -> dict[str, str]:
        issuer = ServiceTokenIssuer.from_file(caller, self.folder / f"{caller}.key.pem")
        return issuer.headers_for("fraud")


class Events:
    """Publishes Coffre envelopes (or raw bytes) to the real broker."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")

    async def __aenter__(self) -> Events:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, event: Event, *, subject: str, key: str | None = None) -> Envelope:
        envelope = Envelope.wrap(event, producer="test", subject=subject)
        await self.producer.send_and_wait(
            event.topic(), envelope.to_bytes(), key=(key or subject).encode()
        )
        return envelope

    async def send_raw(self, topic: str, body: dict[str, Any], key: str) -> None:
        await self.producer.send_and_wait(
            topic, Envelope.model_validate(body).model_dump_json().encode(), key=key.encode()
        )


def payment_body(payment_id: str, owner: str, account: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "payment_id": payment_id,
        "owner_ref": owner,
        "account_ref": account,
        "amount": "25.00",
        "currency": "EUR",
        "payee_ref": "payee-0000000001",
        "initiated_at": datetime.now(UTC).isoformat(),
        "device_id": "device-home",
    }
    body.update(changes)
    return body


async def decide(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/v1/decisions", json=body, headers=headers)
