"""Store, read and delete secrets by purpose.

Rules:
- Every call passes the purpose policy first (default deny) and is audited, allowed or not; a
  read is answered only once its entry is durable (the group-commit appender).
- A secret is encrypted under its subject's data key with AAD ``subject|purpose|secret_id|version``.
- Purposes in ``PURPOSES_SEALED_ONLY`` accept only values sealed with the vault's public key;
  the seal is opened inside the vault and the value re-encrypted under the subject's data key.
- Reading or writing for an erased subject raises ``Erased``; so does anything but the consent
  owner's reading and deleting of consent tokens while the subject's erasure is held, and the
  deletion of the last held token completes the erasure (``vault.service.erasure``).
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.domain import crypto, names
from vault.domain.caller import Caller
from vault.domain.errors import Erased, InvalidInput, SealRequired, SecretNotFound
from vault.domain.keys import SecretRecord
from vault.domain.policy import Action
from vault.service import erasure, sealing
from vault.service.context import VaultContext, draft_for, guarded, record
from vault.service.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class SecretRef:
    subject: str
    purpose: str
    secret_id: str

    def validated(self) -> SecretRef:
        names.subject(self.subject)
        names.purpose(self.purpose)
        names.secret_id(self.secret_id)
        return self


@dataclass(frozen=True, slots=True)
class SecretValue:
    """What a writer sends: the value in clear, or sealed on the client."""

    plaintext: bytes | None = None
    sealed: bytes | None = None


@dataclass(frozen=True, slots=True)
class StoredSecret:
    key_id: str
    key_version: int


async def put_secret(
    ctx: VaultContext, caller: Caller, ref: SecretRef, value: SecretValue
) -> StoredSecret:
    draft = draft_for(
        caller, Action.WRITE, subject=ref.subject, purpose=ref.purpose, ref=ref.secret_id
    )
    async with guarded(ctx, draft) as uow:
        ctx.policy.check(caller.service, ref.validated().purpose, Action.WRITE)
        await erasure.refuse_if_held(ctx, uow, caller, ref.subject, ref.purpose, Action.WRITE)
        plaintext = await _incoming_plaintext(ctx, uow, ref, value)
        key, data_key = await ctx.keyring.for_write(uow, ref.subject)
        key.ensure_live()
        aad = crypto.secret_aad(ref.subject, ref.purpose, ref.secret_id, key.version)
        now = ctx.clock.now()
        existing = await uow.secrets.get(ref.subject, ref.purpose, ref.secret_id)
        await uow.secrets.put(
            SecretRecord(
                ref.subject,
                ref.purpose,
                ref.secret_id,
                key.key_id,
                key.version,
                crypto.seal(data_key, plaintext, aad),
                existing.created_at if existing else now,
                now,
            )
        )
        await record(uow, ctx, draft, key_id=key.key_id, sealed=value.sealed is not None)
        await uow.commit()
    return StoredSecret(key.key_id, key.version)


async def _incoming_plaintext(
    ctx: VaultContext, uow: UnitOfWork, ref: SecretRef, value: SecretValue
) -> bytes:
    if (value.plaintext is None) == (value.sealed is None):
        raise InvalidInput("send exactly one of value and sealed")
    if value.sealed is None and ref.purpose in names.PURPOSES_SEALED_ONLY:
        raise SealRequired()
    if value.sealed is not None:
        plaintext = await sealing.open_value(ctx, uow, value.sealed, ref.subject, ref.purpose)
    else:
        plaintext = value.plaintext or b""
    if not 0 < len(plaintext) <= ctx.max_secret_bytes:
        raise InvalidInput(f"a secret holds 1 to {ctx.max_secret_bytes} bytes", field="value")
    return plaintext


async def read_secret(ctx: VaultContext, caller: Caller, ref: SecretRef) -> bytes:
    draft = draft_for(
        caller, Action.READ, subject=ref.subject, purpose=ref.purpose, ref=ref.secret_id
    )
    async with guarded(ctx, draft) as uow:
        ctx.policy.check(caller.service, ref.validated().purpose, Action.READ)
        plaintext, key_id = await open_secret(ctx, uow, caller, ref, Action.READ)
    await ctx.appender.append(draft._replace(detail={"key_id": key_id}))
    return plaintext


async def open_secret(
    ctx: VaultContext, uow: UnitOfWork, caller: Caller, ref: SecretRef, action: Action
) -> tuple[bytes, str]:
    """Decrypt one stored secret for ``caller`` doing ``action`` (no policy check, no audit:
    callers do both), refused while the subject's erasure holds it from that caller.

    The row is read ``FOR SHARE`` and the hold checked after it: an erasure (which locks the
    subject's consent rows first) either waits for this read or committed before it, so a read
    never pairs the row from before an erasure with the keys and hold from after it (which
    answered 410 for a consent token the erasure keeps for its owner to revoke at the bank)."""
    stored = await uow.secrets.get(ref.subject, ref.purpose, ref.secret_id, lock=True)
    await erasure.refuse_if_held(ctx, uow, caller, ref.subject, ref.purpose, action)
    if stored is None:
        await ensure_not_erased(uow, ref.subject)
        raise SecretNotFound()
    key = await ctx.keyring.load(uow, stored.key_id)
    data_key = await ctx.keyring.open(uow, key)
    aad = crypto.secret_aad(ref.subject, ref.purpose, ref.secret_id, stored.key_version)
    return crypto.open_sealed(data_key, stored.ciphertext, aad), key.key_id


async def ensure_not_erased(uow: UnitOfWork, subject: str) -> None:
    current = await uow.data_keys.current(subject)
    if current is not None and current.destroyed:
        raise Erased()


async def delete_secret(ctx: VaultContext, caller: Caller, ref: SecretRef) -> None:
    draft = draft_for(
        caller, Action.DELETE, subject=ref.subject, purpose=ref.purpose, ref=ref.secret_id
    )
    async with guarded(ctx, draft) as uow:
        ctx.policy.check(caller.service, ref.validated().purpose, Action.DELETE)
        await erasure.refuse_if_held(ctx, uow, caller, ref.subject, ref.purpose, Action.DELETE)
        if not await uow.secrets.delete(ref.subject, ref.purpose, ref.secret_id):
            await ensure_not_erased(uow, ref.subject)
            raise SecretNotFound()
        await record(uow, ctx, draft)
        await erasure.release_if_done(ctx, uow, ref.subject, ref.purpose)
        await uow.commit()
