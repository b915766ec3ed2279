"""Embedded SCA of an AIS consent: the PSU's credentials, sealed for the agent, authorise it.

Rules (callers hold the bank's lock):
- Only a consent created with the embedded approach (`TPP-Redirect-Preferred: false`) is
  authorised this way; a redirect consent is refused with FORMAT_ERROR, and an embedded one
  never goes through the redirect page.
- An envelope the agent cannot open (malformed, tampered with, sealed for another key or
  another authorisation) is FORMAT_ERROR and does not count as an attempt.
- Wrong credentials are PSU_CREDENTIALS_INVALID; after `max_attempts` of them the consent is
  `rejected`. Right credentials make it `valid`; authorising a valid consent again changes
  nothing.
"""

from sandbox_bank.domain import consents as rules
from sandbox_bank.domain.credentials import AgentKey, SealUnreadable, matches
from sandbox_bank.domain.errors import (
    ConsentExpired,
    ConsentInvalid,
    FormatError,
    PsuCredentialsInvalid,
)
from sandbox_bank.domain.model import Consent, ConsentStatus


def authorise(
    consent: Consent, key: AgentKey, envelope: str, password: str, max_attempts: int
) -> Consent:
    """Check the sealed credentials against the consent's PSU; the consent as it now stands."""
    if not consent.embedded:
        raise FormatError("this consent is authorised through the redirect approach")
    if consent.status == ConsentStatus.VALID:
        return consent
    _refuse_unless_received(consent)
    try:
        plaintext = key.open(envelope, consent.authorisation_id)
    except SealUnreadable as exc:
        raise FormatError(
            "encryptedPassword is not sealed for this agent's key and this authorisation"
        ) from exc
    if matches(plaintext, consent.psu_id, password):
        return rules.decide(consent, True)
    consent.credential_failures += 1
    left = max_attempts - consent.credential_failures
    if left <= 0:
        rules.decide(consent, False)
        raise PsuCredentialsInvalid("the PSU's credentials are wrong; the consent is rejected")
    raise PsuCredentialsInvalid(f"the PSU's credentials are wrong ({left} attempts left)")


def _refuse_unless_received(consent: Consent) -> None:
    """Refuse a consent that can no longer be authorised (expired, rejected, ended)."""
    if consent.status == ConsentStatus.EXPIRED:
        raise ConsentExpired("the consent expired before it was authorised")
    if consent.status != ConsentStatus.RECEIVED:
        raise ConsentInvalid(f"the consent is {consent.status.value}")
