"""Bank connections: one member's consent at one bank, from the redirect to its end.

Rules:
- A connection starts `pending` with a callback state that is single use, bound to its member,
  and valid for a short time; only a digest of the state is kept.
- The callback makes it `active` (the bank says `valid`) or `rejected`; a state that is late
  makes it `abandoned`. A used state never works twice.
- An active connection ends `revoked` (by the member here), `ended_at_bank` (revoked at the
  bank or unknown there) or `expired` (its validity date has passed). An ended connection is
  never synced again, and its consent token is torn down (see `Teardown`).
- Aggregation keeps only the vault reference of the consent token, never the token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from aggregation.domain.errors import (
    ConnectionNotActive,
    StateAlreadyUsed,
    StateExpired,
)


class ConnectionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    ABANDONED = "abandoned"
    REVOKED = "revoked"
    ENDED_AT_BANK = "ended_at_bank"
    EXPIRED = "expired"


ENDED = frozenset(
    {
        ConnectionStatus.REJECTED,
        ConnectionStatus.ABANDONED,
        ConnectionStatus.REVOKED,
        ConnectionStatus.ENDED_AT_BANK,
        ConnectionStatus.EXPIRED,
    }
)


@dataclass(frozen=True)
class Teardown:
    """Work left after a connection ends: end the consent at the agent, delete the vault secret."""

    teardown_id: uuid.UUID
    user_id: str
    vault_ref: str
    terminate_at_agent: bool
    attempts: int = 0
    next_attempt_at: datetime | None = None


@dataclass
class Connection:
    connection_id: uuid.UUID
    user_id: str
    status: ConnectionStatus
    state_digest: bytes
    state_expires_at: datetime
    vault_ref: str | None
    frequency_per_day: int
    created_at: datetime
    state_used_at: datetime | None = None
    consent_valid_until: date | None = None
    expiry_warned_at: datetime | None = None
    last_member_refresh_at: datetime | None = None
    activated_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    teardowns: list[Teardown] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def pending(
        cls,
        *,
        connection_id: uuid.UUID,
        user_id: str,
        state_digest: bytes,
        vault_ref: str,
        frequency_per_day: int,
        now: datetime,
        state_ttl: timedelta,
    ) -> Connection:
        return cls(
            connection_id=connection_id,
            user_id=user_id,
            status=ConnectionStatus.PENDING,
            state_digest=state_digest,
            state_expires_at=now + state_ttl,
            vault_ref=vault_ref,
            frequency_per_day=frequency_per_day,
            created_at=now,
        )

    @property
    def is_active(self) -> bool:
        return self.status is ConnectionStatus.ACTIVE

    @property
    def has_ended(self) -> bool:
        return self.status in ENDED

    def claim_state(self, now: datetime) -> None:
        """Check the callback state may be used now (single use, not late)."""
        if self.state_used_at is not None or self.status is not ConnectionStatus.PENDING:
            raise StateAlreadyUsed()
        if now >= self.state_expires_at:
            raise StateExpired()

    def activate(self, now: datetime, valid_until: date, frequency_per_day: int) -> None:
        self.state_used_at = now
        self.status = ConnectionStatus.ACTIVE
        self.activated_at = now
        self.consent_valid_until = valid_until
        self.frequency_per_day = max(1, min(self.frequency_per_day, frequency_per_day))

    def reject(self, now: datetime) -> None:
        self.state_used_at = now
        self._end(ConnectionStatus.REJECTED, now, "refused at the bank", at_agent=False)

    def abandon(self, now: datetime) -> None:
        self._end(ConnectionStatus.ABANDONED, now, "callback never came", at_agent=True)

    def revoke(self, now: datetime) -> None:
        if self.has_ended:
            raise ConnectionNotActive("the connection has already ended")
        self._end(ConnectionStatus.REVOKED, now, "revoked by the member", at_agent=True)

    def end_at_bank(self, now: datetime, reason: str) -> None:
        if not self.has_ended:
            self._end(ConnectionStatus.ENDED_AT_BANK, now, reason, at_agent=False)

    def expire(self, now: datetime) -> None:
        if not self.has_ended:
            self._end(ConnectionStatus.EXPIRED, now, "consent validity ended", at_agent=False)

    def ensure_active(self) -> None:
        if not self.is_active:
            raise ConnectionNotActive(f"the connection is {self.status.value}")

    def _end(self, status: ConnectionStatus, now: datetime, reason: str, *, at_agent: bool) -> None:
        self.status = status
        self.ended_at = now
        self.end_reason = reason
        if self.vault_ref is not None:
            self.teardowns.append(
                Teardown(uuid.uuid4(), self.user_id, self.vault_ref, at_agent, 0, now)
            )
            self.vault_ref = None


def expiry_warning_due(valid_until: date, today: date, warn_days: int) -> bool:
    """A consent warns once, `warn_days` before its last valid day."""
    return today <= valid_until <= today + timedelta(days=warn_days)


def consent_lapsed(valid_until: date, today: date) -> bool:
    """A consent is valid through its `valid_until` day and lapses the day after."""
    return today > valid_until
