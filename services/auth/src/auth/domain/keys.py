"""Signing keys for access tokens and step-up authorisations (Ed25519, RFC 9864 ``Ed25519``).

Rules: one key signs at a time; a key's id is its RFC 7638 thumbprint; a new key is published in
the JWKS some time before it starts signing (so every instance and every verifier's cache has
it first), then the old one stops signing and stays published until every token it signed has
expired; private keys never leave the service (the repository stores them encrypted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import OKPKey

ALGORITHM = "Ed25519"


@dataclass
class SigningKey:
    kid: str
    private_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None = None

    @classmethod
    def generate(cls, now: datetime, activates_at: datetime | None = None) -> SigningKey:
        key = OKPKey.generate_key("Ed25519")
        kid = key.thumbprint()
        jwk = key.as_dict(private=True)
        jwk.update(kid=kid, alg=ALGORITHM, use="sig")
        return cls(kid, jwk, now, activates_at or now)

    def private_key(self) -> OKPKey:
        return OKPKey.import_key(self.private_jwk)

    def public_jwk(self) -> dict[str, Any]:
        return {k: v for k, v in self.private_jwk.items() if k != "d"}


@dataclass
class KeyRing:
    keys: list[SigningKey] = field(default_factory=list)

    def active(self, now: datetime) -> SigningKey | None:
        live = [
            k
            for k in self.keys
            if k.activates_at <= now and (k.retired_at is None or now < k.retired_at)
        ]
        return max(live, key=lambda k: k.activates_at) if live else None

    def rotate(self, now: datetime, publish_ahead: timedelta = timedelta(0)) -> SigningKey:
        """Add a key that signs from ``now + publish_ahead``; older keys stop signing then."""
        new = SigningKey.generate(now, now + publish_ahead)
        for key in self.keys:
            if key.retired_at is None or key.retired_at > new.activates_at:
                key.retired_at = new.activates_at
        self.keys.append(new)
        return new

    def published(self, now: datetime, keep_retired_for: timedelta) -> list[SigningKey]:
        return [
            k for k in self.keys if k.retired_at is None or now < k.retired_at + keep_retired_for
        ]

    def jwks(self, now: datetime, keep_retired_for: timedelta) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.published(now, keep_retired_for)]}
