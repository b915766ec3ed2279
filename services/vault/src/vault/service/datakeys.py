"""Document data keys for services that encrypt their own documents (the archive).

Rules:
- ``generate`` returns a fresh AES-256 key in clear (for the caller to encrypt one document and
  forget) and its wrapped token (to store beside the document); ``unwrap`` gives the key back
  for the same subject and purpose only.
- Both pass the purpose policy and are audited; an unwrap (one or a batch,
  ``vault.service.unwraps``) is decided on the cached subject state and answered once its entry
  is durable; a token of an erased subject raises ``Erased``; a token for another subject,
  purpose or a tampered token raises ``CiphertextRejected``.
"""

from __future__ import annotations

import uuid

from vault.domain import crypto, names
from vault.domain.caller import Caller
from vault.domain.document_keys import GeneratedKey as GeneratedKey
from vault.domain.document_keys import WrappedDocumentKey
from vault.domain.errors import PolicyDenied
from vault.domain.policy import Action
from vault.service import erasure
from vault.service.context import VaultContext, draft_for, guarded, record
from vault.service.unwraps import UnwrapItem as UnwrapItem
from vault.service.unwraps import Unwrapped as Unwrapped
from vault.service.unwraps import unwrap_data_key as unwrap_data_key
from vault.service.unwraps import unwrap_many as unwrap_many


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
