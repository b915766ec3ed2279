"""Erasure by crypto-shredding: destroy a subject's data keys, and prove it.

Rules:
- Every data key of the subject is destroyed (wrapped bytes dropped, id kept), the subject's
  epoch moves (so every replica's cached state of it is refused at once by the audit appender),
  cached copies here are evicted, open grants end (copies deleted) and the subject's secret
  rows are deleted; a subject the vault never saw gets a destroyed tombstone key so nothing
  can be stored for it later.
- A subject that still holds consent tokens is *held* when ``erasure_hold`` is set (see
  ``vault.domain.erasure``): all of the above happens at once except that the consent tokens are
  re-encrypted under a fresh escrow key, so aggregation can still end the consents at the bank.
  Deleting the last consent token, or the hold's deadline, releases it: the escrow key is
  destroyed and the erasure completes.
- One audit entry records the erasure (another its hold); ``ErasureCompleted`` (written to the
  outbox in the same transaction as the last shredding) carries the proof: destroyed key ids,
  time, and that entry's chain position.
- Erasing twice is harmless: the second proof lists the same key ids; a held erasure stays held.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from common.events.erasure import ErasureCompleted

from vault.domain import crypto, names
from vault.domain.caller import VAULT, Caller
from vault.domain.erasure import HELD_PURPOSES, ErasureHold, hold_admits
from vault.domain.errors import CiphertextRejected, Erased
from vault.domain.grants import EndReason
from vault.domain.keys import DataKey, SecretRecord
from vault.domain.policy import Action
from vault.service.context import VaultContext, draft_for, printable, record
from vault.service.ports import UnitOfWork

SERVICE = "vault"


@dataclass(frozen=True, slots=True)
class ErasureProof:
    subject: str
    destroyed_key_ids: list[str]
    secrets_deleted: int
    grants_ended: int
    erased_at: datetime
    audit_seq: int
    audit_hash: str
    held_until: datetime | None = None
    """Set while the consent tokens are held: the erasure completes at the release."""


async def erase_subject(ctx: VaultContext, subject: str, request_id: str) -> ErasureProof:
    async with ctx.uow() as uow:
        proof = await erase_in(ctx, uow, subject, request_id)
        await uow.commit()
    return proof


async def erase_in(
    ctx: VaultContext, uow: UnitOfWork, subject: str, request_id: str
) -> ErasureProof:
    """Erase inside a unit of work the caller commits (the Kafka consumer's, with its inbox row)."""
    names.subject(subject)
    now = ctx.clock.now()
    hold = await uow.erasure_holds.get(subject)
    if hold is not None:
        return await _still_held(ctx, uow, hold, request_id)
    if ctx.erasure_hold > timedelta(0):
        consents = await _open_consents(ctx, uow, subject)
        if consents:
            return await _hold(ctx, uow, subject, request_id, consents, now)
    return await _shred(ctx, uow, subject, request_id, now)


async def refuse_if_held(
    ctx: VaultContext, uow: UnitOfWork, caller: Caller, subject: str, purpose: str, action: Action
) -> ErasureHold | None:
    """``Erased`` for anything a held erasure does not admit; the hold (locked) otherwise."""
    hold = await uow.erasure_holds.get(subject)
    if hold is not None and not hold_admits(ctx.policy, caller.service, purpose, action):
        raise Erased()
    return hold


async def release_if_done(ctx: VaultContext, uow: UnitOfWork, subject: str, purpose: str) -> None:
    """After a secret was deleted: a held erasure whose last consent token it was completes.

    The hold is read again here, not taken from before the deletion: a hold committed while the
    deletion waited on its row must still be released."""
    if purpose not in HELD_PURPOSES:
        return
    hold = await uow.erasure_holds.get(subject)
    if hold is not None and not await uow.secrets.of_subject(subject, HELD_PURPOSES):
        await release_in(ctx, uow, hold, "consents-revoked")


async def release_in(
    ctx: VaultContext, uow: UnitOfWork, hold: ErasureHold, reason: str
) -> ErasureProof:
    await uow.erasure_holds.delete(hold.subject)
    return await _shred(
        ctx, uow, hold.subject, hold.request_id, ctx.clock.now(),
        held_since=hold.started_at.isoformat(), released=reason,
    )  # fmt: skip


async def release_due_holds(ctx: VaultContext, limit: int = 100) -> int:
    """Complete every held erasure past its deadline; returns how many."""
    async with ctx.uow() as uow:
        due = await uow.erasure_holds.due(ctx.clock.now(), limit)
        for hold in due:
            await release_in(ctx, uow, hold, "deadline")
        await uow.commit()
    return len(due)


async def _shred(
    ctx: VaultContext,
    uow: UnitOfWork,
    subject: str,
    request_id: str,
    now: datetime,
    **extra: str,
) -> ErasureProof:
    keys = await _destroy_keys(ctx, uow, subject, now)
    grants_ended = await _end_grants(uow, subject, now)
    deleted = await uow.secrets.delete_for_subject(subject)
    key_ids = sorted(k.key_id for k in keys)
    draft = draft_for(Caller(VAULT), "erasure", subject=subject, ref=request_id)
    entry = await record(
        uow, ctx, draft,
        destroyed_key_ids=key_ids, secrets_deleted=deleted, grants_ended=grants_ended, **extra,
    )  # fmt: skip
    proof = ErasureProof(subject, key_ids, deleted, grants_ended, now, entry.seq, entry.hash)
    uow.publish(_completed(proof, request_id, extra), subject=subject)
    return proof


async def _open_consents(
    ctx: VaultContext, uow: UnitOfWork, subject: str
) -> list[tuple[SecretRecord, bytes]]:
    """The subject's consent tokens in clear; one that no longer opens is left to the shredder."""
    opened = []
    for stored in await uow.secrets.of_subject(subject, HELD_PURPOSES):
        try:
            data_key = await ctx.keyring.open(uow, await ctx.keyring.load(uow, stored.key_id))
            aad = crypto.secret_aad(subject, stored.purpose, stored.secret_id, stored.key_version)
            opened.append((stored, crypto.open_sealed(data_key, stored.ciphertext, aad)))
        except (CiphertextRejected, Erased):
            continue
    return opened


async def _hold(
    ctx: VaultContext,
    uow: UnitOfWork,
    subject: str,
    request_id: str,
    consents: Sequence[tuple[SecretRecord, bytes]],
    now: datetime,
) -> ErasureProof:
    """Shred everything but the consent tokens, which move under a fresh escrow key (updated in
    place, so a deletion waiting on the same row still finds it)."""
    keys = await _destroy_keys(ctx, uow, subject, now)
    grants_ended = await _end_grants(uow, subject, now)
    deleted = await uow.secrets.delete_for_subject(subject, keep_purposes=HELD_PURPOSES)
    escrow, escrow_key = await ctx.keyring.create_data_key(
        uow, subject, max(k.version for k in keys) + 1
    )
    for stored, plaintext in consents:
        aad = crypto.secret_aad(subject, stored.purpose, stored.secret_id, escrow.version)
        sealed = crypto.seal(escrow_key, plaintext, aad)
        await uow.secrets.put(
            replace(stored, key_id=escrow.key_id, key_version=escrow.version, ciphertext=sealed)
        )
    held_for = printable(request_id) or ""
    hold = ErasureHold(subject, held_for, escrow.key_id, now, now + ctx.erasure_hold)
    await uow.erasure_holds.add(hold)
    key_ids = sorted(k.key_id for k in keys)
    draft = draft_for(Caller(VAULT), "erasure.hold", subject=subject, ref=request_id)
    entry = await record(
        uow, ctx, draft,
        destroyed_key_ids=key_ids, secrets_deleted=deleted, grants_ended=grants_ended,
        consent_tokens_held=len(consents), held_until=hold.release_at.isoformat(),
    )  # fmt: skip
    return ErasureProof(
        subject, key_ids, deleted, grants_ended, now, entry.seq, entry.hash, hold.release_at
    )


async def _still_held(
    ctx: VaultContext, uow: UnitOfWork, hold: ErasureHold, request_id: str
) -> ErasureProof:
    draft = draft_for(Caller(VAULT), "erasure.hold", subject=hold.subject, ref=request_id)
    entry = await record(
        uow, ctx, draft, held_since=hold.started_at.isoformat(),
        held_until=hold.release_at.isoformat(),
    )  # fmt: skip
    keys = await uow.data_keys.for_subject(hold.subject)
    destroyed = sorted(k.key_id for k in keys if k.destroyed)
    return ErasureProof(
        hold.subject, destroyed, 0, 0, ctx.clock.now(), entry.seq, entry.hash, hold.release_at
    )


async def _destroy_keys(
    ctx: VaultContext, uow: UnitOfWork, subject: str, now: datetime
) -> list[DataKey]:
    keys = await uow.data_keys.for_subject(subject)
    if not keys:
        tombstone = DataKey(str(uuid.uuid4()), subject, 1, 0, None, now, destroyed_at=now)
        await uow.data_keys.add(tombstone)
        await uow.subject_epochs.bump(subject)
        return [tombstone]
    destroyed = [k if k.destroyed else k.destroy(now) for k in keys]
    await uow.data_keys.save_many(destroyed)
    await uow.subject_epochs.bump(subject)

    def evict() -> None:
        ctx.subjects.evict(subject)
        for key in keys:
            ctx.keyring.cache.evict(key.key_id)

    evict()  # nothing in this process opens them from here on
    uow.after_commit(evict)  # nor keeps what a read overlapping the erasure cached again
    return destroyed


async def _end_grants(uow: UnitOfWork, subject: str, now: datetime) -> int:
    grants = await uow.grants.open_for_subject(subject)
    for grant in grants:
        await uow.grants.save(grant.end(now, EndReason.ERASED))
    return len(grants)


def _completed(
    proof: ErasureProof, request_id: str, extra: dict[str, str] | None = None
) -> ErasureCompleted:
    details: dict[str, str | int | list[str]] = {
        "destroyed_key_ids": proof.destroyed_key_ids,
        "secrets_deleted": proof.secrets_deleted,
        "grants_ended": proof.grants_ended,
        "erased_at": proof.erased_at.isoformat(),
        "audit_seq": proof.audit_seq,
        "audit_hash": proof.audit_hash,
    }
    return ErasureCompleted(
        user_id=proof.subject,
        request_id=request_id,
        service=SERVICE,
        completed_at=proof.erased_at,
        proof=details | dict(extra or {}),
    )
