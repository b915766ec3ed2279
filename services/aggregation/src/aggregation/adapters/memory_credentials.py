"""An in-memory stand-in for the vault's sealed-credential operations (unit tests, development).

Rules: it does the vault's cryptography for real — its own X25519 sealing key, opening the
member's envelope for (member, `bank-credentials`), re-sealing to the agent's key bound to the
authorisation — so the flow around it is exercised as in production; what it holds lives and
dies with the process.
"""

from __future__ import annotations

import base64
import binascii

from common.security import client_encryption as ce
from cryptography.hazmat.primitives.asymmetric import x25519

from aggregation.domain.credential_errors import CredentialsMissing, CredentialsSealInvalid

PURPOSE = "bank-credentials"


class InMemoryCredentialVault:
    def __init__(self, agent: ce.RecipientKey) -> None:
        self._agent = agent
        self._private = x25519.X25519PrivateKey.generate()
        self._key = ce.RecipientKey("seal-x25519-memory", self._private.public_key())
        self._held: dict[str, bytes] = {}

    async def public_keys(self) -> list[dict[str, str]]:
        return [self._key.to_jwk()]

    async def store_sealed(self, user_id: str, sealed: str) -> None:
        try:
            envelope = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
            self._held[user_id] = ce.open_sealed(
                envelope, self._private, subject=user_id, purpose=PURPOSE
            )
        except (ce.SealRejected, binascii.Error, ValueError):
            raise CredentialsSealInvalid() from None

    async def reseal_for_agent(self, user_id: str, bind: str) -> str:
        if user_id not in self._held:
            raise CredentialsMissing()
        return ce.seal_b64(self._held[user_id], self._agent, subject=bind, purpose=PURPOSE)

    async def delete(self, user_id: str) -> None:
        if self._held.pop(user_id, None) is None:
            raise CredentialsMissing()

    def holds(self, user_id: str) -> bool:
        return user_id in self._held
