"""An erasure held open until the member's bank consents are revoked.

Rules:
- Erasing a member who still has bank consents (``psd2-consent``: account access, kept by
  aggregation; ``psd2-payment-consent``: payment consents, kept by payments) would shred the
  only copy of the consent ids before their owners have used them to end the consents at the
  bank — whichever service hears of the erasure first. So the vault shreds everything else at
  once (every data key, document key, grant copy and other secret) and keeps only the consent
  tokens, re-encrypted under one fresh *escrow* data key, on hold.
- While held, the member is erased for everyone except each consent's owner — the service that
  may both read and delete that purpose — which may only read and delete its own tokens.
- The hold ends, and the escrow key is shredded, when the last consent token of either kind is
  deleted, or at ``release_at`` at the latest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vault.domain.names import PSD2_CONSENT, PSD2_PAYMENT_CONSENT
from vault.domain.policy import Action, Policy

HELD_PURPOSES = (PSD2_CONSENT, PSD2_PAYMENT_CONSENT)


@dataclass(frozen=True, slots=True)
class ErasureHold:
    subject: str
    request_id: str
    escrow_key_id: str
    started_at: datetime
    release_at: datetime

    def due(self, now: datetime) -> bool:
        return now >= self.release_at


def hold_admits(policy: Policy, service: str, purpose: str, action: Action) -> bool:
    """While held, only a consent's owner may read and delete the held consent tokens."""
    return (
        purpose in HELD_PURPOSES
        and action in (Action.READ, Action.DELETE)
        and policy.allows(service, purpose, Action.DELETE)
    )
