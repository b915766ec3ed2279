"""Challenges: one pending proof of a second factor, for a login, a step-up, a new phone or a
password reset.

Rules: a challenge lives a few minutes and is used at most once; an SMS code is valid 5 minutes
from the moment it is sent; 5 wrong codes lock the challenge for good (a new one must be
asked for); a step-up challenge is bound to one operation digest and nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from auth.domain.codes import Pepper
from auth.domain.errors import ChallengeExpired, ChallengeLocked

MAX_ATTEMPTS = 5
SMS_CODE_TTL = timedelta(minutes=5)
MAX_SMS_SENDS = 3
SMS_PURPOSE = "sms-code"


class Purpose(StrEnum):
    LOGIN = "login"
    STEP_UP = "step-up"
    PHONE = "phone-confirm"
    PASSWORD_RESET = "password-reset"


class Method(StrEnum):
    SMS = "sms"
    TOTP = "totp"
    RECOVERY = "recovery"


@dataclass
class Challenge:
    id: uuid.UUID
    user_id: uuid.UUID
    purpose: Purpose
    created_at: datetime
    expires_at: datetime
    method: Method | None = None
    code_hash: str | None = None
    code_expires_at: datetime | None = None
    sms_sends: int = 0
    ticket_hash: str | None = None
    operation_digest: str | None = None
    operation: dict[str, str] = field(default_factory=dict)
    scope: str | None = None
    attempts: int = 0
    locked_at: datetime | None = None
    consumed_at: datetime | None = None

    @classmethod
    def open(
        cls, user_id: uuid.UUID, purpose: Purpose, now: datetime, lifetime: timedelta
    ) -> Challenge:
        return cls(uuid.uuid4(), user_id, purpose, now, now + lifetime)

    def ensure_open(self, now: datetime) -> None:
        if self.locked_at is not None:
            raise ChallengeLocked()
        if self.consumed_at is not None or now >= self.expires_at:
            raise ChallengeExpired()

    def set_sms_code(self, code: str, pepper: Pepper, now: datetime) -> None:
        """Attach a fresh SMS code (valid 5 minutes, never past the challenge's own expiry)."""
        self.ensure_open(now)
        if self.sms_sends >= MAX_SMS_SENDS:
            raise ChallengeLocked("too many codes sent for this challenge")
        self.method = Method.SMS
        self.code_hash = pepper.digest(SMS_PURPOSE, str(self.id), code)
        self.code_expires_at = min(now + SMS_CODE_TTL, self.expires_at)
        self.sms_sends += 1

    def sms_code_matches(self, code: str, pepper: Pepper, now: datetime) -> bool:
        if self.code_hash is None or self.code_expires_at is None:
            return False
        if now >= self.code_expires_at:
            raise ChallengeExpired("the code has expired; ask for a new one")
        return pepper.matches(self.code_hash, SMS_PURPOSE, str(self.id), code)

    def record_failure(self, now: datetime) -> bool:
        """Count a wrong code; return True when this failure locks the challenge."""
        self.attempts += 1
        if self.attempts >= MAX_ATTEMPTS and self.locked_at is None:
            self.locked_at = now
            return True
        return False

    def consume(self, now: datetime) -> None:
        self.ensure_open(now)
        self.consumed_at = now
        self.code_hash = None
