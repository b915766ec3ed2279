"""Integration helpers for archive: member tokens and sample receipts."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.jwk import OKPKey
from PIL import Image

ISSUER = "https://auth.coffre.local"
AUDIENCE = "coffre-api"


class MemberTokens:
    """Mints auth-shaped access tokens (Ed25519, `at+jwt`) under a test key; serves its JWKS."""

    def __init__(self) -> None:
        self.key = OKPKey.generate_key("Ed25519", parameters={"kid": "it-key-1", "use": "sig"})

    @property
    def jwks_json(self) -> str:
        return json.dumps({"keys": [self.key.as_dict(private=False)]})

    def token(self, user_id: str, *, scope: str = "member", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "sid": str(uuid.uuid4()),
            "scope": scope, "amr": ["pwd", "otp"], "iat": now, "exp": now + 300,
            "jti": str(uuid.uuid4()),
        } | claims  # fmt: skip
        header = {"alg": "Ed25519", "kid": "it-key-1", "typ": "at+jwt"}
        return jwt.encode(header, body, self.key, algorithms=["Ed25519"])

    def headers(self, user_id: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, **kw)}"}


def jpeg(width: int = 600, height: int = 800, *, exif: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), (250, 250, 245))
    for x in range(0, width, 7):
        image.putpixel((x, (x * 3) % height), (x % 255, 40, 90))
    image.save(buffer, format="JPEG", quality=85, **({"exif": exif} if exif else {}))
    return buffer.getvalue()


def png(width: int = 300, height: int = 200) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


async def publish(bootstrap: str, event: Any, *, subject: str, producer: str = "auth") -> None:
    """Put one event on its topic, as its producing service would (envelope and key)."""
    from aiokafka import AIOKafkaProducer
    from common.events import Envelope

    envelope = Envelope.wrap(event, producer=producer, subject=subject)
    client = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await client.start()
    try:
        await client.send_and_wait(event.topic(), envelope.to_bytes(), key=subject.encode())
    finally:
        await client.stop()


async def erase(bootstrap: str, member: str) -> Any:
    """Ask for the member's erasure (as auth does) and return archive's ``ErasureCompleted``
    record once it is on the broker."""
    from coffre_testing.kafka import collect
    from common.events.erasure import ErasureCompleted, ErasureRequested

    event = ErasureRequested(
        user_id=member, requested_at=datetime.now(UTC), request_id=str(uuid.uuid4())
    )
    await publish(bootstrap, event, subject=member)
    [done] = await collect(
        bootstrap, ErasureCompleted.topic(), count=1,
        where=lambda rec: rec.key == member.encode() and b'"archive"' in rec.value,
    )  # fmt: skip
    return done
