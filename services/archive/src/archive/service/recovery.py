"""Resuming a receipt whose processing stopped after an object was already written.

Rules: a receipt stays `received` until the transaction that marks it sealed commits. If the
process died (or lost the store's answer) after writing the sealed PDF or the original, the
retry must neither seal again nor write a second locked version (a locked version can never be
deleted). A version already in the store is adopted when it is provably this receipt's: the
original's ciphertext is byte for byte the staged one; the sealed one decrypts under the
receipt's key and associated data (only we could have written it, for this receipt) and is an
incremental update of the rendered PDF. An adopted version's lock is extended to the retention
date recorded now, so the record never promises more than the store enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from archive.domain.encryption import decrypt
from archive.domain.errors import IntegrityMismatch
from archive.domain.receipts import Receipt, aad, object_key
from archive.service.context import Context


@dataclass
class Stored:
    """What an earlier, interrupted attempt left in the store for one receipt."""

    sealed: bytes | None = None
    sealed_blob: bytes | None = None
    sealed_version: str | None = None
    original_version: str | None = None


async def already_stored(
    ctx: Context, receipt: Receipt, key: bytes, pdf: bytes, staged_original: bytes
) -> Stored:
    rid = receipt.receipt_id
    found = Stored()
    original_key, sealed_key = object_key(rid, "original"), object_key(rid, "sealed")
    for version in await ctx.store.versions(original_key):
        if await ctx.store.get(original_key, version) == staged_original:
            found.original_version = version
            break
    for version in await ctx.store.versions(sealed_key):
        blob = await ctx.store.get(sealed_key, version)
        try:
            sealed = decrypt(key, blob, aad(rid, receipt.user_id, "sealed"))
        except IntegrityMismatch:
            continue
        if sealed.startswith(pdf):
            found.sealed, found.sealed_blob, found.sealed_version = sealed, blob, version
            break
    return found


async def put_once(
    ctx: Context, key: str, blob: bytes, until: datetime, existing: str | None
) -> str:
    """The version holding `blob`: the one already stored (lock extended) or a new one."""
    if existing is None:
        return await ctx.store.put_locked(key, blob, until)
    await ctx.store.extend_lock(key, existing, until)
    return existing
