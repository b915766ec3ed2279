"""Integration helpers: auth-shaped access and step-up tokens, events on the real broker."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from common.events import Envelope, Event
from common.security.access_tokens import AccessTokenVerifier, JwksCache, StaticJwksSource
from common.security.stepup import Operation, operation_digest
from joserfc import jwt
from joserfc.jwk import OKPKey

ISSUER = "https://auth.coffre.local"
AUDIENCE = "coffre-api"
CREDITOR = "DE89370400440532013000"


class AuthTokens:
    """Stands in for auth: signs access tokens and step-up authorisations (Ed25519)."""

    def __init__(self) -> None:
        self.key = OKPKey.generate_key("Ed25519", parameters={"kid": "it-key-1", "use": "sig"})

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    @property
    def jwks_json(self) -> str:
        return json.dumps(self.jwks)

    def verifier(self) -> AccessTokenVerifier:
        return AccessTokenVerifier(
            JwksCache(StaticJwksSource(self.jwks)), issuer=ISSUER, audience=AUDIENCE
        )

    def _sign(self, typ: str, claims: dict[str, Any]) -> str:
        header = {"alg": "Ed25519", "kid": "it-key-1", "typ": typ}
        return jwt.encode(header, claims, self.key, algorithms=["Ed25519"])

    def access(self, user_id: str, session_id: str, scope: str = "payment") -> str:
        now = int(time.time())
        return self._sign("at+jwt", {
            "iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "sid": session_id, "scope": scope,
            "amr": ["pwd", "otp"], "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()),
        })  # fmt: skip

    def stepup(self, user_id: str, operation: dict[str, Any], *, lifetime: int = 300) -> str:
        op = Operation(
            operation["kind"], operation["amount"], operation["currency"], operation["payee"],
            operation["operation_id"],
        )  # fmt: skip
        now = int(time.time())
        return self._sign("stepup+jwt", {
            "iss": ISSUER, "aud": "coffre-stepup", "sub": user_id, "jti": str(uuid.uuid4()),
            "iat": now - (300 - lifetime if lifetime < 0 else 0), "exp": now + lifetime,
            "opd": operation_digest(op), "opk": op.kind, "amr": "sms",
        })  # fmt: skip


class Events:
    """Publishes Coffre envelopes to the real broker (standing in for another service)."""

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

    async def send_together(
        self, events: list[Event], *, subject: str
    ) -> list[tuple[str, bytes, bytes]]:
        """Publish several events at once (one request, so a consumer fetches them together);
        return what was sent, to send it again as a redelivery with ``resend``."""
        sent = [
            (e.topic(), Envelope.wrap(e, producer="test", subject=subject).to_bytes(),
             subject.encode())
            for e in events
        ]  # fmt: skip
        await self.resend(sent)
        return sent

    async def resend(self, sent: list[tuple[str, bytes, bytes]]) -> None:
        futures = [await self.producer.send(topic, value, key=key) for topic, value, key in sent]
        await asyncio.gather(*futures)
