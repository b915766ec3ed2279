"""One-time codes and opaque tokens: generation and keyed hashing.

Rules: SMS codes are 6 random digits from the OS's CSPRNG; every code, ticket, refresh token or
recovery code is stored only as an HMAC-SHA-256 under the service's pepper, bound to what it
belongs to, so a copy of the tables neither reveals nor lets anyone brute-force them offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SMS_CODE_DIGITS = 6


def new_sms_code() -> str:
    return f"{secrets.randbelow(10**SMS_CODE_DIGITS):0{SMS_CODE_DIGITS}d}"


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


class Pepper:
    """Keyed hashing with the service's secret pepper (at least 32 bytes)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the pepper must be at least 32 bytes")
        self._key = key

    def digest(self, purpose: str, *parts: str) -> str:
        message = "\x1f".join((purpose, *parts)).encode("utf-8")
        mac = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def matches(self, expected: str, purpose: str, *parts: str) -> bool:
        return hmac.compare_digest(expected, self.digest(purpose, *parts))
