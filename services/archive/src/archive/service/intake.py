"""Intake: every way in (HTTP upload, desktop client, e-mail) ends here, in `accept`.

Rules:
- Every file is identified from its bytes and rendered to a clean PDF before anything is
  stored: a bad file is refused whole, with a clear reason, and leaves nothing behind.
- Each receipt gets its own document key from the vault; the original and the rendered PDF are
  encrypted under it (AES-256-GCM, receipt + member + part as associated data) and only the
  ciphertexts and the wrapped key are staged. The vault unreachable means nothing is accepted
  (the caller retries): a receipt is never kept in clear.
- The files of one request (one upload, one e-mail) are accepted together or not at all, in one
  transaction that also writes `ReceiptUploaded` to the outbox and the journal entry (and an
  upload's idempotency key, `archive.service.uploads`).
- Once every file's type is known, the vault is asked for the keys while the files are rendered;
  a file refused while rendering gets its fresh keys destroyed again (best effort: an unused key
  encrypts nothing). The seal of each PDF starts as soon as it is rendered, while the receipt is
  staged: sealing has no effect outside memory (and the TSA's log), so a refused or failed
  intake only drops it; nothing is stored before the receipt is staged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from common.errors import CoffreError
from common.events.archive import ReceiptUploaded
from common.logging import get_logger

from archive.domain import files
from archive.domain.encryption import encrypt
from archive.domain.errors import IdempotencyKeyReused
from archive.domain.receipts import Hints, Receipt, Source, aad, vault_subject_for
from archive.domain.rendering import Rendered
from archive.service import metrics
from archive.service.context import Context
from archive.service.matching import match_new_receipt
from archive.service.ports import DocumentKey, KeyedUpload, Store
from archive.service.uploads import AlreadyUploaded, UploadKey

log = get_logger(__name__)


@dataclass(frozen=True)
class Incoming:
    user_id: str
    source: Source
    filename: str
    content_type: str | None
    content: bytes
    hints: Hints = field(default_factory=Hints)
    rendered: Rendered | None = None
    """A PDF already rendered by the caller (an e-mail body); skips identification."""


@dataclass
class Accepted:
    """A staged receipt with what processing needs in memory (so it need not ask again)."""

    receipt: Receipt
    key: bytes
    pdf: bytes
    staged_original: bytes = b""
    sealing: asyncio.Future[bytes] | None = None
    """The seal of `pdf`, started at intake (processing awaits it)."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _render(ctx: Context, item: Incoming, kind: files.Kind | None) -> tuple[str, Rendered]:
    if item.rendered is not None:
        return item.content_type or "text/plain", item.rendered
    if kind is None:
        raise ValueError("a file to render needs its identified kind")
    with metrics.timed("render"):
        return kind.value, await ctx.renderer.to_pdf(item.content, kind)


async def _new_keys(ctx: Context, ids: list[uuid.UUID], made: list[str]) -> list[DocumentKey]:
    keys = []
    for receipt_id in ids:
        keys.append(await ctx.keys.generate(vault_subject_for(receipt_id)))
        made.append(vault_subject_for(receipt_id))
    return keys


async def _discard_keys(
    ctx: Context, fetching: asyncio.Future[list[DocumentKey]], made: list[str]
) -> None:
    """An intake that stores nothing (a file refused while rendering, an upload already stored
    under its idempotency key): the keys made for it are destroyed again."""
    with contextlib.suppress(Exception):
        await fetching
    for subject in made:
        try:
            await ctx.keys.destroy(subject)
        except CoffreError as exc:
            log.warning("unused_document_key_kept", subject=subject, error=exc.code)


def _start_seal(ctx: Context, pdf: bytes) -> asyncio.Future[bytes]:
    sealing = asyncio.ensure_future(ctx.sealer.seal(pdf))
    sealing.add_done_callback(lambda done: done.cancelled() or done.exception())
    return sealing


async def accept(
    ctx: Context, items: list[Incoming], key: UploadKey | None = None
) -> list[Accepted]:
    """Identify, render, encrypt and stage every file; all or nothing. Each seal starts here.
    ``key``: one upload's idempotency key, claimed in the staging transaction; raises
    AlreadyUploaded (its own work dropped) when the same upload claimed it meanwhile."""
    if key is not None and len(items) != 1:
        raise ValueError("an idempotency key names one upload of one file")
    try:
        kinds = [
            None if item.rendered is not None else files.identify(item.content, item.content_type)
            for item in items
        ]
    except CoffreError:
        metrics.count("intake", "rejected", len(items))
        raise
    ids, made = [uuid.uuid4() for _ in items], list[str]()
    fetching = asyncio.ensure_future(_new_keys(ctx, ids, made))
    try:
        rendered = [await _render(ctx, item, kind) for item, kind in zip(items, kinds, strict=True)]
    except BaseException as exc:
        if isinstance(exc, CoffreError):
            metrics.count("intake", "rejected", len(items))
        await _discard_keys(ctx, fetching, made)
        raise
    sealing = [_start_seal(ctx, result.pdf) for _, result in rendered]
    try:
        return await _keep(
            ctx, items, list(zip(ids, await fetching, strict=True)), rendered, sealing, key
        )
    except BaseException as exc:
        for started in sealing:
            started.cancel()
        if isinstance(exc, AlreadyUploaded | IdempotencyKeyReused):
            await _discard_keys(ctx, fetching, made)
        raise


async def _keep(
    ctx: Context,
    items: list[Incoming],
    keys: list[tuple[uuid.UUID, DocumentKey]],
    rendered: list[tuple[str, Rendered]],
    sealing: list[asyncio.Future[bytes]],
    upload_key: UploadKey | None,
) -> list[Accepted]:
    now = ctx.clock.now()
    accepted: list[Accepted] = []
    for item, (receipt_id, key), (content_type, result), seal in zip(
        items, keys, rendered, sealing, strict=True
    ):
        pdf = result.pdf
        subject = vault_subject_for(receipt_id)
        receipt = Receipt(
            receipt_id=receipt_id,
            user_id=item.user_id,
            source=item.source,
            filename=item.filename,
            content_type=content_type,
            original_sha256=_sha(item.content),
            original_size=len(item.content),
            pdf_sha256=_sha(pdf),
            created_at=now,
            vault_subject=subject,
            wrapped_key=key.wrapped,
            document_key_id=key.key_id,
            hints=item.hints,
            next_attempt_at=now,
            pdfa=result.pdfa,
            pdfa_reason=result.pdfa_reason,
        )
        accepted.append(Accepted(receipt, key.plaintext, pdf, sealing=seal))
    async with ctx.uow() as uow:
        for entry, item in zip(accepted, items, strict=True):
            await _stage(ctx, uow, entry, item.content)
        if upload_key is not None:
            await _claim(uow, upload_key, accepted[0].receipt.receipt_id, now)
        await uow.commit()
    metrics.count("intake", "accepted", len(accepted))
    return accepted


async def _claim(uow: Store, key: UploadKey, receipt_id: uuid.UUID, now: datetime) -> None:
    """Record the upload's idempotency key for its receipt, unless the same upload holds it."""
    held = await uow.upload_keys.claim(
        key.user_id, key.key_sha256, KeyedUpload(key.fingerprint, receipt_id), now
    )
    if held is not None:
        raise AlreadyUploaded(key.names(held))


async def _stage(ctx: Context, uow: Store, entry: Accepted, original: bytes) -> None:
    r = entry.receipt
    await uow.receipts.add(r)
    entry.staged_original = encrypt(entry.key, original, aad(r.receipt_id, r.user_id, "original"))
    await uow.receipts.stage(r.receipt_id, "original", entry.staged_original)
    await uow.receipts.stage(
        r.receipt_id, "pdf", encrypt(entry.key, entry.pdf, aad(r.receipt_id, r.user_id, "pdf"))
    )
    detail = {
        "source": r.source.value,
        "sha256": r.original_sha256,
        "size": r.original_size,
        "pdfa": r.pdfa,
    }
    await uow.journal.append(r.created_at, str(r.receipt_id), r.user_id, "received", detail)
    uow.record(
        ReceiptUploaded(
            receipt_id=str(r.receipt_id),
            user_id=r.user_id,
            source=r.source.value,
            content_type=r.content_type,
            size=r.original_size,
            sha256=r.original_sha256,
            received_at=r.created_at,
        ),
        subject=r.user_id,
        key=str(r.receipt_id),
    )
    await match_new_receipt(ctx, uow, r)
