"""Document data keys for services that encrypt their own documents (the archive).

Rules:
- ``generate`` returns a fresh AES-256 key in clear (for the caller to encrypt one document and
  forget) and its wrapped token (to store beside the document); ``unwrap`` gives the key back
  for the same subject and purpose only.
- Both pass the purpose policy and are audited; an unwrap (one or a batch) is decided on the
  cached subject state and answered once its entry is durable (``vault.service.subjects``);
  a token of an erased subject raises ``Erased``; a token for another subject, purpose or a
  tampered token raises ``CiphertextRejected``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from common.errors import CoffreError

from vault.domain import crypto, names
from vault.domain.audit import AuditDraft, Outcome
from vault.domain.caller import Caller
from vault.domain.document_keys import WrappedDocumentKey
from vault.domain.erasure import hold_admits
from vault.domain.errors import (
    AuditUnavailable,
    CiphertextRejected,
    ConcurrentUpdate,
    Erased,
    PolicyDenied,
)
from vault.domain.keys import DataKey
from vault.domain.policy import Action
from vault.service import erasure, metrics
from vault.service.appender import StaleSubject
from vault.service.context import VaultContext, draft_for, failed, guarded, record


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    document_key_id: str
    plaintext: bytes
    wrapped: bytes


async def generate_data_key(
    ctx: VaultContext, caller: Caller, subject: str, purpose: str
) -> GeneratedKey:
    draft = draft_for(caller, Action.GENERATE_DATA_KEY, subject=subject, purpose=purpose)
    async with guarded(ctx, draft) as uow:
        ctx.policy.check(caller.service, _names(subject, purpose), Action.GENERATE_DATA_KEY)
        await erasure.refuse_if_held(ctx, uow, caller, subject, purpose, Action.GENERATE_DATA_KEY)
        key, data_key = await ctx.keyring.for_write(uow, subject)
        document_key, document_key_id = crypto.new_key(), str(uuid.uuid4())
        aad = crypto.secret_aad(subject, purpose, document_key_id, key.version)
        token = WrappedDocumentKey(
            key.key_id, key.version, document_key_id, crypto.seal(data_key, document_key, aad)
        )
        draft = draft_for(
            caller, Action.GENERATE_DATA_KEY, subject=subject, purpose=purpose, ref=document_key_id
        )
        await record(uow, ctx, draft, key_id=key.key_id)
        await uow.commit()
    return GeneratedKey(document_key_id, document_key, token.to_bytes())


@dataclass(frozen=True, slots=True)
class UnwrapItem:
    subject: str
    purpose: str
    wrapped: bytes


Unwrapped = GeneratedKey | CoffreError
_UNWRAP = str(Action.UNWRAP_DATA_KEY)


async def unwrap_data_key(
    ctx: VaultContext, caller: Caller, subject: str, purpose: str, wrapped: bytes
) -> GeneratedKey:
    [result] = await unwrap_many(
        ctx, caller, [UnwrapItem(subject, purpose, wrapped)], mode="single"
    )
    if isinstance(result, CoffreError):
        raise result
    return result


async def unwrap_many(
    ctx: VaultContext, caller: Caller, items: Sequence[UnwrapItem], *, mode: str = "batch"
) -> list[Unwrapped]:
    """Each item's key or its error, every one audited; answered once all entries are durable.

    An item decided on a subject state that moved meanwhile (an erasure on any replica) is
    decided again from fresh state; it is never answered from the stale one. If any entry could
    not be made durable the whole call fails with ``AuditUnavailable``: no key of it leaves."""
    results: list[Unwrapped | None] = [None] * len(items)
    todo = list(range(len(items)))
    for attempt in range(3):
        decided = [await decide_one(ctx, caller, items[i], fresh=attempt > 0) for i in todo]
        futures = ctx.appender.submit([(draft, epoch) for draft, epoch, _ in decided])
        stale, unaudited = [], False
        for index, future, (_, _, result) in zip(todo, futures, decided, strict=True):
            try:
                await future
            except StaleSubject:
                ctx.subjects.evict(items[index].subject)
                stale.append(index)
                continue
            except AuditUnavailable:  # every future is awaited; none of the keys leaves
                unaudited = True
                continue
            results[index] = result
        if unaudited:
            raise AuditUnavailable()
        if not stale:
            break
        todo = stale
    else:
        raise ConcurrentUpdate()
    answered = [r for r in results if r is not None]
    metrics.count_unwraps(mode, answered)
    return answered


async def decide_one(
    ctx: VaultContext, caller: Caller, item: UnwrapItem, *, fresh: bool
) -> tuple[AuditDraft, tuple[str, int] | None, Unwrapped]:
    """Open one token from the cached subject state: the entry to write, its epoch, the result.

    Nothing of the result may leave before the entry is durable (``unwrap_many`` waits)."""
    token: WrappedDocumentKey | None = None
    try:
        ctx.policy.check(caller.service, _names(item.subject, item.purpose), Action.UNWRAP_DATA_KEY)
        token = WrappedDocumentKey.parse(item.wrapped)
        state = None if fresh else ctx.subjects.get(item.subject)
        if state is None or token.data_key_id not in state.keys:
            state = await ctx.subjects.load(ctx.uow, item.subject)
        if state.hold and not hold_admits(
            ctx.policy, caller.service, item.purpose, Action.UNWRAP_DATA_KEY
        ):
            raise Erased()
        key = state.keys.get(token.data_key_id)
        if key is None or key.version != token.data_key_version:
            raise CiphertextRejected()
        data_key = ctx.keyring.open_cached(key) or await _open(ctx, key)
        aad = crypto.secret_aad(item.subject, item.purpose, token.document_key_id, key.version)
        document_key = crypto.open_sealed(data_key, token.envelope, aad)
    except CoffreError as exc:
        ref = token.document_key_id if token else None
        draft = draft_for(caller, _UNWRAP, subject=item.subject, purpose=item.purpose, ref=ref)
        return failed(draft, exc), None, exc
    allowed = AuditDraft(
        caller.service, _UNWRAP, Outcome.ALLOWED, item.subject, item.purpose,
        token.document_key_id, caller.operator, {"key_id": key.key_id},
    )  # fmt: skip
    result = GeneratedKey(token.document_key_id, document_key, item.wrapped)
    return allowed, (state.subject, state.epoch), result


async def _open(ctx: VaultContext, key: DataKey) -> bytes:
    async with ctx.uow() as uow:
        return await ctx.keyring.open(uow, key)


async def destroy_data_keys(ctx: VaultContext, caller: Caller, subject: str, purpose: str) -> int:
    """Crypto-shred one of the caller's own document subjects (named ``<service>-…``): its data
    keys are destroyed, so every document key wrapped under them is gone. Idempotent."""
    draft = draft_for(caller, Action.DESTROY_DATA_KEYS, subject=subject, purpose=purpose)
    async with guarded(ctx, draft) as uow:
        ctx.policy.check(caller.service, _names(subject, purpose), Action.DESTROY_DATA_KEYS)
        if not subject.startswith(f"{caller.service}-"):
            raise PolicyDenied("a service may only destroy keys of its own subjects")
        now = ctx.clock.now()
        keys = await uow.data_keys.for_subject(subject)
        await uow.data_keys.save_many([k if k.destroyed else k.destroy(now) for k in keys])
        await uow.subject_epochs.bump(subject)  # every replica's cached state is refused
        ctx.subjects.evict(subject)
        for key in keys:
            ctx.keyring.cache.evict(key.key_id)
        await record(uow, ctx, draft, destroyed=len(keys))
        await uow.commit()
    return len(keys)


def _names(subject: str, purpose: str) -> str:
    names.subject(subject)
    return names.purpose(purpose)
