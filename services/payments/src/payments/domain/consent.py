"""A standing payment consent (mandate) the member grants once at their bank.

Rules:
- ``pending`` (the member is at the bank) → ``active`` (the bank reports it valid) →
  ``revoked`` | ``expired`` | ``ended`` (the bank stopped accepting it) | ``erased``;
  ``pending`` → ``rejected`` when the member refuses at the bank.
- The bank's consent id is a bearer secret: it lives only in the vault (with the debtor
  IBAN); a consent here holds the vault reference, the debtor account's keyed hash and mask.
- The callback ``state`` is single use, bound to the member, and valid ``state_ttl``.
- When a consent ends here, the bank is told (``bank_revoked`` stays False until it is) and
  then its vault secret is deleted (``vault_ref`` cleared).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from payments.domain.errors import ConsentNotActive, StateExpired, StateUnknown


class ConsentStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"
    ENDED = "ended"
    ERASED = "erased"


ENDED = frozenset(
    {ConsentStatus.REVOKED, ConsentStatus.EXPIRED, ConsentStatus.ENDED, ConsentStatus.ERASED}
)


@dataclass
class PaymentConsent:
    consent_id: str
    user_id: str
    status: ConsentStatus
    account_ref: str
    account_masked: str
    currency: str
    max_per_payment: Decimal
    periodic_limit: Decimal
    frequency: str
    valid_until: datetime
    state_digest: str | None
    state_expires_at: datetime | None
    vault_ref: str | None
    created_at: datetime
    updated_at: datetime
    bank_revoked: bool = False
    ended_reason: str | None = None

    def complete(self, user_id: str, now: datetime) -> None:
        """The member came back with this consent's state: check it and use it up."""
        if self.user_id != user_id or self.state_digest is None:
            raise StateUnknown("no consent waits for this state")
        if self.state_expires_at is not None and now >= self.state_expires_at:
            raise StateExpired("the bank redirect took too long; start again")
        self.state_digest = None
        self.updated_at = now

    def activate(self, now: datetime) -> None:
        self.status, self.updated_at = ConsentStatus.ACTIVE, now

    def reject(self, now: datetime) -> None:
        self.status, self.updated_at, self.bank_revoked = ConsentStatus.REJECTED, now, True
        self.ended_reason = "rejected"

    def end(self, status: ConsentStatus, reason: str, now: datetime, *, at_bank: bool) -> None:
        """End it here; ``at_bank`` True when the bank already ended it (nothing to revoke)."""
        self.status, self.ended_reason, self.updated_at = status, reason, now
        self.state_digest = None
        self.bank_revoked = self.bank_revoked or at_bank

    def usable(self, now: datetime) -> None:
        if self.status is not ConsentStatus.ACTIVE or self.vault_ref is None:
            raise ConsentNotActive("the payment consent is not active")
        if now >= self.valid_until:
            raise ConsentNotActive("the payment consent has expired")
