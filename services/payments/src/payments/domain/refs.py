"""Opaque references: keyed hashes (HMAC-SHA256 under the service's reference key).

Rules: a payee or an account is known outside the vault only by its keyed hash, so events,
tables and logs never hold a full IBAN; the same IBAN always gives the same reference, which
lets fraud see a returning payee. A member's identity kept for anti-money-laundering after
erasure is their pseudonym, a keyed hash of the user id under a separate label.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RefKeys:
    key: bytes

    def _mac(self, label: str, value: str) -> str:
        data = f"{label}\x00{value}".encode()
        return hmac.new(self.key, data, hashlib.sha256).hexdigest()

    def payee(self, iban: str) -> str:
        return "py_" + self._mac("payee", iban)[:40]

    def account(self, iban: str) -> str:
        return "ac_" + self._mac("account", iban)[:40]

    def pseudonym(self, user_id: str) -> str:
        return "ps_" + self._mac("member", user_id)[:40]

    def fingerprint(self, body: Any) -> str:
        """The idempotency fingerprint of a request body (canonical JSON, keyed)."""
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        return self._mac("request", text)

    def state(self, state: str) -> str:
        return self._mac("state", state)
