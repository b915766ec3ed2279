"""Time-boxed operator access to one secret.

Rules:
- A grant names one operator, one secret, a reason and the member's consent reference; it lasts
  at most ``MAX_TTL`` and allows at most ``MAX_USES`` uses.
- While it is open the grant holds its own copy of the secret, encrypted under the subject's
  data key (so erasure shreds it too); when it ends — expiry, last use, revocation or erasure —
  the copy is deleted and the grant can never be used again.
- Only the named operator may use it; every use is counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from vault.domain import names
from vault.domain.errors import (
    GrantEnded,
    GrantExhausted,
    GrantExpired,
    GrantOperatorMismatch,
    InvalidInput,
)

MIN_TTL = timedelta(seconds=30)
MAX_TTL = timedelta(hours=8)
MAX_USES = 20
_REASON = re.compile(r"^[^\x00-\x1f\x7f]{10,500}$")


class EndReason(StrEnum):
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    REVOKED = "revoked"
    ERASED = "erased"


@dataclass(frozen=True, slots=True)
class GrantRequest:
    operator: str
    subject: str
    purpose: str
    secret_id: str
    reason: str
    consent_ref: str
    ttl: timedelta
    max_uses: int

    def validated(self) -> GrantRequest:
        names.operator(self.operator)
        names.subject(self.subject)
        names.purpose(self.purpose)
        names.secret_id(self.secret_id)
        names.secret_id(self.consent_ref)
        if not _REASON.match(self.reason):
            raise InvalidInput("reason must be 10 to 500 printable characters", field="reason")
        if not MIN_TTL <= self.ttl <= MAX_TTL:
            raise InvalidInput(f"ttl must be between {MIN_TTL} and {MAX_TTL}", field="ttl")
        if not 1 <= self.max_uses <= MAX_USES:
            raise InvalidInput(f"max_uses must be between 1 and {MAX_USES}", field="max_uses")
        return self


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    requested_by: str
    operator: str
    subject: str
    purpose: str
    secret_id: str
    reason: str
    consent_ref: str
    created_at: datetime
    expires_at: datetime
    max_uses: int
    uses: int
    copy: bytes | None
    copy_key_id: str
    copy_key_version: int
    ended_at: datetime | None = None
    end_reason: EndReason | None = None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def copy_ref(self) -> str:
        """The secret-id slot of the copy's AAD: a copy never opens as the original secret."""
        return f"grant:{self.grant_id}"

    def due_to_end(self, now: datetime) -> bool:
        return not self.ended and now >= self.expires_at

    def check_use(self, now: datetime, operator: str) -> None:
        if operator != self.operator:
            raise GrantOperatorMismatch()
        if self.end_reason is EndReason.EXHAUSTED:
            raise GrantExhausted()
        if self.end_reason is EndReason.EXPIRED:
            raise GrantExpired()
        if self.ended:
            raise GrantEnded(reason=str(self.end_reason))
        if now >= self.expires_at:
            raise GrantExpired()

    def used(self, now: datetime) -> Grant:
        grant = replace(self, uses=self.uses + 1)
        if grant.uses >= grant.max_uses:
            return grant.end(now, EndReason.EXHAUSTED)
        return grant

    def end(self, now: datetime, reason: EndReason) -> Grant:
        return replace(self, copy=None, ended_at=now, end_reason=reason)
