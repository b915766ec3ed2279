"""Consents: creation, SCA, status, and the checks every AIS call passes (callers hold the lock).

Rules:
- A consent id is 43 url-safe random characters from `secrets`: it is the TPP's bearer secret.
- SCA goes through a separate random authorisation id, so the consent id never reaches the
  member's browser nor the redirect back to the TPP.
- validUntil must not be in the past and is capped at `max_days` from today; frequencyPerDay is
  capped at `max_frequency` (PSD2 RTS art. 36: four unattended reads a day).
- A consent is usable only while `valid` and not past validUntil; past it, it is `expired`.
- Unattended reads (no PSU-IP-Address) count per consent and key (an account, or the account
  list) over a sliding 24 h; beyond frequencyPerDay they are refused with the seconds until the
  oldest counted read leaves the window. Attended reads are not counted.
"""

import math
import secrets
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar

from sandbox_bank.domain.errors import (
    AccessExceeded,
    ConsentExpired,
    ConsentInvalid,
    ConsentUnknown,
    FormatError,
    ResourceUnknown,
)
from sandbox_bank.domain.model import Consent, ConsentAccess, ConsentStatus, ConsentTerms

WINDOW = timedelta(hours=24)
LIVE = (ConsentStatus.RECEIVED, ConsentStatus.VALID)


class HasStatus(Protocol):
    """An AIS or payment consent: anything with a consent status."""

    status: ConsentStatus


C = TypeVar("C", bound=HasStatus)


class ConsentRegistry:
    """Consents by id and by authorisation id."""

    def __init__(self, max_days: int, max_frequency: int) -> None:
        self._max_days = max_days
        self._max_frequency = max_frequency
        self._by_id: dict[str, Consent] = {}
        self._by_authorisation: dict[str, Consent] = {}

    def create(
        self,
        *,
        psu_id: str,
        access: ConsentAccess,
        terms: ConsentTerms,
        now: datetime,
    ) -> Consent:
        """A new consent in status `received`, waiting for the member's SCA."""
        today = now.date()
        if terms.valid_until < today:
            raise FormatError("validUntil is in the past")
        consent = Consent(
            consent_id=secrets.token_urlsafe(32),
            authorisation_id=secrets.token_urlsafe(16),
            psu_id=psu_id,
            access=access,
            recurring=terms.recurring,
            valid_until=min(terms.valid_until, today + timedelta(days=self._max_days)),
            frequency_per_day=min(terms.frequency_per_day, self._max_frequency),
            redirect_uri=terms.redirect_uri,
            nok_redirect_uri=terms.nok_redirect_uri,
            created_at=now,
            embedded=terms.embedded,
        )
        self._by_id[consent.consent_id] = consent
        self._by_authorisation[consent.authorisation_id] = consent
        return consent

    def get(self, consent_id: str, today: date) -> Consent:
        """The consent, its status brought up to date; CONSENT_UNKNOWN if there is none."""
        consent = self._by_id.get(consent_id)
        if consent is None:
            raise ConsentUnknown("no consent with this id")
        if consent.status in LIVE and today > consent.valid_until:
            consent.status = ConsentStatus.EXPIRED
        return consent

    def by_authorisation(self, authorisation_id: str, today: date) -> Consent:
        """The consent an SCA link belongs to; RESOURCE_UNKNOWN if there is none."""
        consent = self._by_authorisation.get(authorisation_id)
        if consent is None:
            raise ResourceUnknown("no authorisation with this id")
        return self.get(consent.consent_id, today)

    def usable(self, consent_id: str, today: date) -> Consent:
        """The consent if it may serve an AIS call now, else CONSENT_EXPIRED / CONSENT_INVALID."""
        consent = self.get(consent_id, today)
        if consent.status == ConsentStatus.EXPIRED:
            raise ConsentExpired(f"the consent expired (validUntil {consent.valid_until})")
        if consent.status != ConsentStatus.VALID:
            raise ConsentInvalid(f"the consent is {consent.status.value}")
        consent.last_action_date = today
        return consent


def decide(consent: C, approve: bool) -> C:
    """Record the member's SCA decision; repeating the SCA leaves the outcome as it was."""
    if consent.status == ConsentStatus.RECEIVED:
        consent.status = ConsentStatus.VALID if approve else ConsentStatus.REJECTED
    elif consent.status == ConsentStatus.EXPIRED:
        raise ConsentExpired("the consent expired before it was authorised")
    elif consent.status not in (ConsentStatus.VALID, ConsentStatus.REJECTED):
        raise ConsentInvalid(f"the consent is {consent.status.value}")
    return consent


def end(consent: HasStatus, status: ConsentStatus) -> None:
    """End a live consent (terminated by the TPP, revoked by the PSU, or expired)."""
    if consent.status in LIVE:
        consent.status = status


def count_unattended(consent: Consent, key: str, now: datetime) -> None:
    """Count one unattended read, or refuse it with ACCESS_EXCEEDED and a retry delay."""
    calls = [t for t in consent.unattended_calls.get(key, []) if now - t < WINDOW]
    consent.unattended_calls[key] = calls
    if len(calls) >= consent.frequency_per_day:
        wait = (calls[0] + WINDOW - now).total_seconds()
        raise AccessExceeded(
            f"unattended access is limited to {consent.frequency_per_day} reads per 24 h",
            retry_after_seconds=max(1, math.ceil(wait)),
        )
    calls.append(now)


def unattended_usage(consent: Consent, now: datetime) -> dict[str, int]:
    """Unattended reads counted in the last 24 h, by key."""
    return {
        key: sum(1 for t in calls if now - t < WINDOW)
        for key, calls in consent.unattended_calls.items()
    }
