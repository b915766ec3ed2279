"""B-LTA: archival document timestamps, so a seal stays verifiable for the whole retention.

Rules: when a sealed receipt's archival time comes (`Policy.archival_every` after its seal or
last archival timestamp, shorter than a TSA certificate's life), its sealed PDF is read back and
checked against the record, the validation material of its latest timestamp is embedded and a
new document timestamp added; the result is encrypted under the same key and written as a new
locked version with the same retention date; the row points at it and the journal says so. The
previous versions stay locked in the store. A failure leaves the receipt as it was, retried on
the next pass.
"""

from __future__ import annotations

import hashlib
import uuid

from common.errors import CoffreError
from common.logging import get_logger

from archive.domain.encryption import encrypt
from archive.domain.receipts import Status, aad
from archive.service.context import Context
from archive.service.retrieval import load_sealed

log = get_logger(__name__)


async def extend_one(ctx: Context, receipt_id: uuid.UUID) -> bool:
    async with ctx.uow() as uow:
        receipt = await uow.receipts.get(receipt_id, lock=True)
        if receipt is None or receipt.status is not Status.SEALED:
            return False
        assert receipt.sealed_object is not None
        assert receipt.retention_until is not None
        extended = await ctx.sealer.extend(await load_sealed(ctx, receipt))
        key = await ctx.keys.unwrap(receipt.vault_subject, receipt.wrapped_key)
        blob = encrypt(key, extended, aad(receipt.receipt_id, receipt.user_id, "sealed"))
        version = await ctx.store.put_locked(receipt.sealed_object, blob, receipt.retention_until)
        now = ctx.clock.now()
        receipt.sealed_version = version
        receipt.sealed_cipher_sha256 = hashlib.sha256(blob).hexdigest()
        receipt.sealed_sha256 = hashlib.sha256(extended).hexdigest()
        receipt.sealed_size = len(extended)
        receipt.archival_due_at = now + ctx.policy.archival_every
        await uow.receipts.update(receipt)
        detail = {"sha256": receipt.sealed_sha256, "version": version}
        await uow.journal.append(
            now, str(receipt_id), receipt.user_id, "archival-timestamp", detail
        )
        await uow.commit()
    return True


async def extend_due(ctx: Context) -> int:
    """Add an archival timestamp to every receipt whose time has come; returns how many."""
    async with ctx.uow() as uow:
        due = await uow.receipts.archival_due(ctx.clock.now(), ctx.policy.batch_size)
    done = 0
    for receipt_id in due:
        try:
            done += await extend_one(ctx, receipt_id)
        except CoffreError as exc:
            log.warning("archival_timestamp_deferred", receipt_id=str(receipt_id), error=exc.code)
    return done
