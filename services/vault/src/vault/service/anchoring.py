"""Anchoring the audit chain outside the database, on a schedule.

Rules:
- When the head moved since the last checkpoint, a checkpoint of it is signed with the anchor
  key, published as ``vault.audit-anchored.v1`` (through the outbox) and saved to the anchor
  store; a store fault is logged and the event still goes out.
- Verification checks the chain against the latest checkpoint that verifies (by default): a log
  whose newest rows were deleted, with ``audit_head`` moved back, no longer reaches it.
"""

from __future__ import annotations

from common.events.vault import AuditAnchored
from common.logging import get_logger
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vault.domain.anchor import ALGORITHM, Checkpoint, sign
from vault.domain.audit import ChainVerifier, Head, VerifyReport
from vault.service.context import VaultContext
from vault.service.ports import AnchorStore

log = get_logger(__name__)
ANCHOR_SUBJECT = "vault-audit"


async def anchor_head(
    ctx: VaultContext, key: Ed25519PrivateKey, store: AnchorStore, last: Head | None = None
) -> Checkpoint | None:
    """Sign and publish the current head unless it is ``last``; returns the new checkpoint."""
    async with ctx.uow() as uow:
        head = await uow.audit.head()
        if head is None or head == last:
            return None
        checkpoint = sign(key, head, ctx.clock.now())
        uow.publish(
            AuditAnchored(
                seq=checkpoint.seq, hash=checkpoint.hash, anchored_at=checkpoint.anchored_at,
                key_id=checkpoint.key_id, alg=ALGORITHM, signature=checkpoint.signature,
            ),
            subject=ANCHOR_SUBJECT,
        )  # fmt: skip
        await uow.commit()
    try:
        store.save(checkpoint)
    except OSError as exc:
        log.warning("audit_anchor_not_saved", error=type(exc).__name__, seq=checkpoint.seq)
    log.info("audit_anchored", seq=checkpoint.seq, key_id=checkpoint.key_id)
    return checkpoint


async def verify_with(ctx: VaultContext, *anchors: Head | None) -> VerifyReport:
    """Walk the log; the recorded head and every anchor given must lie on the chain."""
    async with ctx.uow() as uow:
        verifier = ChainVerifier(await uow.audit.head(), *anchors)
        async for entry in uow.audit.entries():
            if not verifier.feed(entry):
                break
    return verifier.report()
