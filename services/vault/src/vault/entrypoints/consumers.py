"""Kafka consumers: ``ErasureRequested`` → crypto-shredding → ``ErasureCompleted`` with proof.

Rule: the erasure runs in the consumer's unit of work, so the destroyed keys, the audit entry,
the outbox row of ``ErasureCompleted`` and the inbox row commit together; a redelivery is skipped.
A member who still has consent tokens is held (``vault.service.erasure``): ``ErasureCompleted``
then follows when aggregation deletes the last token, or at the hold's deadline.
"""

from __future__ import annotations

from collections.abc import Callable

from common.db.uow import UnitOfWork
from common.errors import EventRejected, ValidationFailed
from common.events.base import Envelope, Event
from common.events.erasure import ErasureRequested
from common.logging import get_logger
from common.messaging import subscribe
from common.messaging.consumer import EventHandler
from common.runtime import Runtime

from vault.adapters.pg_uow import PgVaultUnitOfWork
from vault.service.context import VaultContext
from vault.service.erasure import erase_in

log = get_logger(__name__)
ERASURE_CONSUMER = "vault.erasure"


def erasure_handler(ctx: VaultContext) -> EventHandler:
    async def on_erasure_requested(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        """Destroys the member's data keys (crypto-shredding) and publishes the proof."""
        assert isinstance(event, ErasureRequested)
        try:
            async with PgVaultUnitOfWork.attached(uow) as vault_uow:
                proof = await erase_in(ctx, vault_uow, event.user_id, event.request_id)
        except ValidationFailed as exc:
            raise EventRejected(exc.message, reason=exc.code) from None
        log.info(
            "subject_erased" if proof.held_until is None else "subject_erasure_held",
            request_id=event.request_id,
            destroyed_keys=len(proof.destroyed_key_ids),
            audit_seq=proof.audit_seq,
        )

    return on_erasure_requested


def registrar(
    get_ctx: Callable[[], VaultContext], consumer: str = ERASURE_CONSUMER
) -> Callable[[Runtime], None]:
    def register(runtime: Runtime) -> None:
        subscribe(
            runtime,
            consumer=consumer,
            events=[ErasureRequested],
            handler=erasure_handler(get_ctx()),
        )

    return register
