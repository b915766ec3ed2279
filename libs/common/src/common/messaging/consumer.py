"""Idempotent event consumers: the inbox, retries, and the dead-letter topic.

Rules:
- A handler runs inside a unit of work that first claims the event id in the inbox; its effects,
  the inbox row and any events it records commit together, and the Kafka offset is committed only
  after that commit. A redelivered event finds its id claimed and changes nothing.
- A message that is not a valid envelope of a type this consumer handles, or that its handler
  rejects (``EventRejected``), goes to the dead-letter topic with the reason; the consumer goes on.
- A handler that keeps failing is retried with backoff, then dead-lettered. While Postgres is
  unreachable the consumer retries without limit, holding the partition: nothing is skipped.
- The consumer's span continues the producer's trace (W3C context from the Kafka headers), so its
  log lines carry the producer's trace id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from common.db.uow import UnitOfWork
from common.errors import EventRejected
from common.events.base import Envelope, Event, decode_envelope
from common.logging import get_logger
from common.messaging.dead_letter import DeadLetterPublisher, SourceMessage

if TYPE_CHECKING:
    from common.runtime import Runtime

log = get_logger(__name__)

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
)


class EventHandler(Protocol):
    async def __call__(self, event: Event, envelope: Envelope, uow: UnitOfWork) -> None: ...


def subscribe(
    runtime: Runtime,
    *,
    consumer: str,
    events: Sequence[type[Event]],
    handler: EventHandler,
    max_attempts: int = 3,
) -> None:
    """Subscribe ``handler`` to the topics of ``events`` in the consumer group ``consumer``."""
    handled = {(e.event_type, e.event_version) for e in events}
    topics = sorted({e.topic() for e in events})
    settings = runtime.settings
    broker: KafkaBroker = runtime.broker

    async def process(body: Any, message: KafkaMessage) -> None:
        raw = message.raw_message
        source = SourceMessage(
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            key=raw.key,
            value=raw.value,
            headers=tuple(raw.headers or ()),
        )
        await handle_message(
            source,
            runtime=runtime,
            consumer=consumer,
            handled=handled,
            handler=handler,
            max_attempts=max_attempts,
        )

    broker.subscriber(
        *topics,
        group_id=consumer,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_partition_fetch_bytes=max(settings.max_event_bytes * 2, 1_048_576),
        title=f"{consumer}:{','.join(topics)}",
        description=(handler.__doc__ or "").strip() or None,
    )(process)


async def handle_message(
    source: SourceMessage,
    *,
    runtime: Runtime,
    consumer: str,
    handled: set[tuple[str, int]],
    handler: EventHandler,
    max_attempts: int,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> str:
    """Process one message; return 'processed', 'duplicate' or 'dead-lettered'."""
    dead_letter = DeadLetterPublisher(runtime.producer_for_dead_letters(), consumer)
    try:
        envelope = decode_envelope(source.value, runtime.settings.max_event_bytes)
        if (envelope.type, envelope.version) not in handled:
            raise EventRejected(
                f"{envelope.type} v{envelope.version} is not handled by {consumer}",
                reason="unexpected-type",
            )
        event = envelope.parse()
    except EventRejected as exc:
        await dead_letter.send(source, code=str(exc.extensions.get("reason", exc.code)), reason=exc.message)
        return "dead-lettered"
    attempt = 0
    while True:
        try:
            async with runtime.uow() as uow:
                if not await uow.claim_inbox(consumer, envelope.event_id, source.topic):
                    log.info("event_duplicate_skipped", event_id=str(envelope.event_id), consumer=consumer)
                    return "duplicate"
                await handler(event, envelope, uow)
                await uow.commit()
            log.info("event_processed", event_type=envelope.type, event_id=str(envelope.event_id), consumer=consumer)
            return "processed"
        except EventRejected as exc:
            await dead_letter.send(source, code=exc.code, reason=exc.message)
            return "dead-lettered"
        except INFRASTRUCTURE_ERRORS as exc:
            log.warning("event_retry_infrastructure", error=type(exc).__name__, consumer=consumer)
            await sleep(1.0)
        except Exception as exc:
            attempt += 1
            log.warning("event_handler_failed", error=type(exc).__name__, attempt=attempt, consumer=consumer)
            if attempt >= max_attempts:
                await dead_letter.send(
                    source,
                    code="handler-failed",
                    reason=f"handler failed {attempt} times: {type(exc).__name__}",
                )
                return "dead-lettered"
            await sleep(0.2 * 2**attempt)
