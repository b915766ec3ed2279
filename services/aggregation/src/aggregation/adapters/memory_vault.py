"""An in-memory consent vault for unit tests and the development fallback.

Rule: behaves like the vault for aggregation's purposes (store, read, delete; unknown or erased
is `ConsentSecretMissing`); it can be switched to fail, to test how aggregation copes.
"""

from __future__ import annotations

import secrets

from aggregation.domain.errors import ConsentSecretMissing, VaultUnavailable


class InMemoryConsentVault:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}
        self.down = False
        self.erased: set[str] = set()

    def _check(self) -> None:
        if self.down:
            raise VaultUnavailable("the vault is down (test)")

    async def store(self, user_id: str, token: str) -> str:
        self._check()
        ref = "psd2c-" + secrets.token_hex(16)
        self.secrets[(user_id, ref)] = token
        return ref

    async def read(self, user_id: str, ref: str) -> str:
        self._check()
        if user_id in self.erased or (user_id, ref) not in self.secrets:
            raise ConsentSecretMissing()
        return self.secrets[(user_id, ref)]

    async def delete(self, user_id: str, ref: str) -> None:
        self._check()
        if self.secrets.pop((user_id, ref), None) is None:
            raise ConsentSecretMissing()

    def erase(self, user_id: str) -> None:
        """Crypto-shred a member, as the vault's own erasure does."""
        self.erased.add(user_id)
        for key in [k for k in self.secrets if k[0] == user_id]:
            del self.secrets[key]
