"""An erasure held open until the member's bank consents are revoked.

Rules:
- Erasing a member who still has ``psd2-consent`` secrets would shred the only copy of the
  consent tokens before aggregation has used them to end the consents at the bank. So the vault
  shreds everything else at once (every data key, document key, grant copy and other secret)
  and keeps only the consent tokens, re-encrypted under one fresh *escrow* data key, on hold.
- While held, the member is erased for everyone except the consent owner — the service that may
  both read and delete ``psd2-consent`` (aggregation) — which may only read and delete them.
- The hold ends, and the escrow key is shredded, when the last consent token is deleted, when
  aggregation reports its part of the erasure done with nothing left to revoke, or at
  ``release_at`` at the latest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vault.domain.names import PSD2_CONSENT
from vault.domain.policy import Action, Policy

HELD_PURPOSE = PSD2_CONSENT


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
    """While held, only the consent owner may read and delete the held consent tokens."""
    return (
        purpose == HELD_PURPOSE
        and action in (Action.READ, Action.DELETE)
        and policy.allows(service, purpose, Action.DELETE)
    )
