"""Intake: every way in (HTTP upload, desktop client, e-mail) ends here, in `accept`.

Rules:
- Every file is identified from its bytes and rendered to a clean PDF before anything is
  stored: a bad file is refused whole, with a clear reason, and leaves nothing behind.
- Each receipt gets its own document key from the vault; the original and the rendered PDF are
  encrypted under it (AES-256-GCM, receipt + member + part as associated data) and only the
  ciphertexts and the wrapped key are staged. The vault unreachable means nothing is accepted
  (the caller retries): a receipt is never kept in clear.
- The files of one request (one upload, one e-mail) are accepted together or not at all, in one
  transaction that also writes `ReceiptUploaded` to the outbox and the journal entry.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from common.events.archive import ReceiptUploaded

from archive.domain import files
from archive.domain.encryption import encrypt
from archive.domain.receipts import Hints, Receipt, Source, aad, vault_subject_for
from archive.domain.rendering import Rendered
from archive.service.context import Context
from archive.service.matching import match_new_receipt
from archive.service.ports import Store


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


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _render(ctx: Context, item: Incoming) -> tuple[str, Rendered]:
    if item.rendered is not None:
        return item.content_type or "text/plain", item.rendered
    kind = files.identify(item.content, item.content_type)
    return kind.value, await ctx.renderer.to_pdf(item.content, kind)


async def accept(ctx: Context, items: list[Incoming]) -> list[Accepted]:
    """Identify, render, encrypt and stage every file; all or nothing."""
    rendered = [await _render(ctx, item) for item in items]
    now = ctx.clock.now()
    accepted: list[Accepted] = []
    for item, (content_type, result) in zip(items, rendered, strict=True):
        pdf = result.pdf
        receipt_id = uuid.uuid4()
        subject = vault_subject_for(receipt_id)
        key = await ctx.keys.generate(subject)
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
        accepted.append(Accepted(receipt, key.plaintext, pdf))
    async with ctx.uow() as uow:
        for entry, item in zip(accepted, items, strict=True):
            await _stage(ctx, uow, entry, item.content)
        await uow.commit()
    return accepted


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
