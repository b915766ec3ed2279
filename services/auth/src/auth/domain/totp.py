"""TOTP second factor (RFC 6238): 6 digits, 30-second steps, SHA-1 for authenticator apps.

Rules: a code is accepted for the current step or one step either side; each code is accepted
once — the factor remembers the last time step used and refuses that step and any earlier one;
a factor counts only once confirmed with a first valid code.
"""

from __future__ import annotations

import hmac
import io
import uuid
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

from auth.domain.errors import CodeAlreadyUsed, InvalidCode

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def is_code_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


@dataclass
class TotpFactor:
    user_id: uuid.UUID
    secret: str
    created_at: datetime
    confirmed_at: datetime | None = None
    last_used_step: int | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    def _totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.secret, digits=DIGITS, interval=STEP_SECONDS)

    def matching_step(self, code: str, now: datetime) -> int | None:
        if not is_code_shaped(code):
            return None
        totp = self._totp()
        current = totp.timecode(now)
        found = None
        for step in range(current - WINDOW, current + WINDOW + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                found = step
        return found

    def use(self, code: str, now: datetime) -> int:
        """Accept a code once: raise InvalidCode or CodeAlreadyUsed, else record its step."""
        step = self.matching_step(code, now)
        if step is None:
            raise InvalidCode()
        if self.last_used_step is not None and step <= self.last_used_step:
            raise CodeAlreadyUsed()
        self.last_used_step = step
        return step

    def confirm(self, code: str, now: datetime) -> None:
        self.use(code, now)
        self.confirmed_at = now

    def provisioning_uri(self, account_name: str, issuer: str) -> str:
        return self._totp().provisioning_uri(name=account_name, issuer_name=issuer)


def qr_png(uri: str, scale: int = 5) -> bytes:
    """The otpauth URI as a QR code PNG for authenticator apps."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
