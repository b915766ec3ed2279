"""A member's erasure, as far as payments goes.

Rules (documented in the README):
- Every payment consent of the member ends here (``erased``), is revoked at the bank with the
  token read from the vault, and its vault secret is deleted; a bank that cannot be reached
  makes the handler fail and the event be retried, so no consent stays valid at the bank
  silently. If the vault already shredded the token, nothing can revoke it: the proof says so.
- Payments not yet sent to the bank are cancelled.
- Payment records the law requires to keep (anti-money-laundering, 5 years) are kept, with the
  member's identity reduced to a pseudonym (a keyed hash of the user id): payments, their
  audit trail (sessions and devices dropped) and the consents. Idempotency keys are deleted.
- ``ErasureCompleted`` (service ``payments``) carries the counts as proof.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from common.events.erasure import ErasureCompleted

from payments.domain.consent import ConsentStatus, PaymentConsent
from payments.domain.errors import BankConsentEnded, SecretMissing
from payments.domain.payment import BEFORE_BANK, Actor
from payments.service.consents import end_consent
from payments.service.context import Context, persist
from payments.service.ports import Store


async def erase_member(
    ctx: Context, store: Store, user_id: str, request_id: str, now: datetime
) -> None:
    revoked, unreachable = 0, 0
    for consent in await store.consents.of_user(user_id):
        if consent.status in (ConsentStatus.PENDING, ConsentStatus.ACTIVE):
            await end_consent(store, consent, ConsentStatus.ERASED, "erased", now, at_bank=False)
        if consent.vault_ref is not None:
            done = await _revoke(ctx, consent)
            revoked, unreachable = revoked + done, unreachable + (not done)
            consent.vault_ref, consent.bank_revoked = None, True
            await store.consents.save(consent)
    cancelled = 0
    for payment in await store.payments.open_of_user(user_id):
        if payment.state in BEFORE_BANK:
            payment.cancel(Actor.system(), now, "erasure")
            await persist(store, payment)
            cancelled += 1
    pseudonym = ctx.refs.pseudonym(user_id)
    proof: dict[str, str | int | list[str]] = {
        "consents_revoked_at_bank": revoked,
        "consent_tokens_already_shredded": unreachable,
        "payments_cancelled": cancelled,
        "payments_pseudonymised": await store.payments.pseudonymise(user_id, pseudonym),
        "audit_entries_pseudonymised": await store.audit.pseudonymise(user_id, pseudonym),
        "consents_pseudonymised": await store.consents.pseudonymise(user_id, pseudonym),
        "idempotency_keys_deleted": await store.idempotency.delete_of_user(user_id),
        "retention": "aml-5-years",
    }
    completed = ErasureCompleted(
        user_id=user_id, request_id=request_id, service="payments", completed_at=now, proof=proof
    )
    store.record(completed, subject=user_id)


async def _revoke(ctx: Context, consent: PaymentConsent) -> bool:
    """Revoke at the bank and delete the secret; False when the vault no longer has it."""
    assert consent.vault_ref is not None
    try:
        secret = await ctx.vault.get_consent(consent.user_id, consent.vault_ref)
    except SecretMissing:
        return False
    if not consent.bank_revoked:
        with contextlib.suppress(BankConsentEnded):
            await ctx.bank.delete_consent(secret.token, secret.psu_id)
    with contextlib.suppress(SecretMissing):
        await ctx.vault.delete_consent(consent.user_id, consent.vault_ref)
    return True
