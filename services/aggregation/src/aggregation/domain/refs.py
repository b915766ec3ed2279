"""Opaque references: what stands in for bank identifiers everywhere outside the agent call.

Rules: an account reference is a keyed hash (HMAC-SHA256) of the member and the bank's account
resource id, so reconnecting the same account gives the same reference and two members never
share one; a transaction reference is a keyed hash of the account reference and the bank's
transaction id, so the same bank transaction always maps to the same reference (de-duplication)
while the bank's id itself is never stored. A callback state is 256 random bits; only its
SHA-256 digest is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ACCOUNT_PREFIX = "acc_"
TRANSACTION_PREFIX = "txn_"


class RefKeys:
    """Derives references under one secret key (rotating it would change every reference)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the reference key must hold at least 16 bytes")
        self._key = key

    def _mac(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:40]

    def account_ref(self, user_id: str, resource_id: str) -> str:
        return ACCOUNT_PREFIX + self._mac("account", user_id, resource_id)

    def transaction_ref(self, account_ref: str, bank_transaction_id: str) -> str:
        return TRANSACTION_PREFIX + self._mac("transaction", account_ref, bank_transaction_id)


def new_state() -> str:
    """A fresh, unguessable callback state."""
    return secrets.token_urlsafe(32)


def state_digest(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()
