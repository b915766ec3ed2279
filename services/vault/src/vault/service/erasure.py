"""Erasure by crypto-shredding: destroy a subject's data keys, and prove it.

Rules:
- Every data key of the subject is destroyed (wrapped bytes dropped, id kept), cached copies are
  evicted, open grants end (copies deleted) and the subject's secret rows are deleted; a subject
  the vault never saw gets a destroyed tombstone key so nothing can be stored for it later.
- One audit entry records the erasure; ``ErasureCompleted`` (written to the outbox in the same
  transaction) carries the proof: destroyed key ids, time, and that entry's chain position.
- Erasing twice is harmless: the second proof lists the same key ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from common.events.erasure import ErasureCompleted

from vault.domain import names
from vault.domain.caller import VAULT, Caller
from vault.domain.grants import EndReason
from vault.domain.keys import DataKey
from vault.service.context import VaultContext, draft_for, record
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
    keys = await _destroy_keys(ctx, uow, subject, now)
    grants_ended = await _end_grants(uow, subject, now)
    deleted = await uow.secrets.delete_for_subject(subject)
    key_ids = sorted(k.key_id for k in keys)
    draft = draft_for(Caller(VAULT), "erasure", subject=subject, ref=request_id)
    entry = await record(
        uow,
        ctx,
        draft,
        destroyed_key_ids=key_ids,
        secrets_deleted=deleted,
        grants_ended=grants_ended,
    )
    proof = ErasureProof(subject, key_ids, deleted, grants_ended, now, entry.seq, entry.hash)
    uow.publish(_completed(proof, request_id), subject=subject)
    return proof


async def _destroy_keys(
    ctx: VaultContext, uow: UnitOfWork, subject: str, now: datetime
) -> list[DataKey]:
    keys = await uow.data_keys.for_subject(subject)
    if not keys:
        tombstone = DataKey(str(uuid.uuid4()), subject, 1, 0, None, now, destroyed_at=now)
        await uow.data_keys.add(tombstone)
        return [tombstone]
    destroyed = [k if k.destroyed else k.destroy(now) for k in keys]
    await uow.data_keys.save_many(destroyed)
    for key in keys:
        ctx.keyring.cache.evict(key.key_id)
    return destroyed


async def _end_grants(uow: UnitOfWork, subject: str, now: datetime) -> int:
    grants = await uow.grants.open_for_subject(subject)
    for grant in grants:
        await uow.grants.save(grant.end(now, EndReason.ERASED))
    return len(grants)


def _completed(proof: ErasureProof, request_id: str) -> ErasureCompleted:
    return ErasureCompleted(
        user_id=proof.subject,
        request_id=request_id,
        service=SERVICE,
        completed_at=proof.erased_at,
        proof={
            "destroyed_key_ids": proof.destroyed_key_ids,
            "secrets_deleted": proof.secrets_deleted,
            "grants_ended": proof.grants_ended,
            "erased_at": proof.erased_at.isoformat(),
            "audit_seq": proof.audit_seq,
            "audit_hash": proof.audit_hash,
        },
    )
