"""Idempotent event consumers: the inbox, retries, and the dead-letter topic.

Rules:
- Messages are handled in polled batches, in one unit of work that first claims the event ids in
  the inbox; the batch's effects, inbox rows and recorded events commit together, and the Kafka
  offset is committed only after that commit. A redelivered event finds its id claimed and
  changes nothing. When an event of the batch fails, the batch is redone with one savepoint per
  event, so only the failing event is set aside.
- A message that is not a valid envelope of a type this consumer handles, or that its handler
  rejects (``EventRejected``), goes to the dead-letter topic with the reason; its savepoint is
  rolled back and the rest of the batch goes on.
- A handler that keeps failing is retried, then dead-lettered. While Postgres is unreachable the
  whole batch is retried without limit, holding the partition: nothing is skipped.
- Two handler shapes: a per-event ``handler(event, envelope, uow)``, called once per fresh event,
  and a batch ``handle_many(events, uow)``, called once per polled batch with every fresh event
  in order, for set-based effects (``unnest``, COPY). Both run in the same unit of work as the
  inbox claim; when a batch fails, either is called again one event at a time, each in its own
  savepoint, so only the failing event is set aside.
- The next batch is fetched and decoded while the previous one commits; offsets are committed
  explicitly after each batch's unit of work (``common.messaging.pipeline``). When the previous
  batch has committed, what the client fetched meanwhile joins the batch (up to ``max_records``,
  without waiting): under steady load a batch is everything that arrived while the one before
  it was applied, not only what had arrived when it was polled.
- Each body is JSON-decoded and validated once (``EventDecoder``); the subscriber's own decoder
  is bypassed.
- A ``co_partitioned`` subscriber's topics are keyed alike and have as many partitions each, so
  one key's events sit on the same partition number of every topic; each member of the group is
  assigned the same partition numbers of every topic (range assignment), so one replica sees all
  of a key's events. Round-robin stays listed second, so members of an older release (round-robin
  only) and of this one still agree on a protocol during a rolling deploy; the group switches to
  range assignment once every member offers it.
- A per-event handler runs in a span whose parent is the producer's W3C context from the Kafka
  headers, so its log lines carry the producer's trace id; a batch handler runs in one span
  linked to every event's producer context.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import ConsumerStoppedError, KafkaError
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind

from common.db.uow import UnitOfWork
from common.errors import EventRejected
from common.events.base import Event
from common.logging import get_logger
from common.messaging import instruments
from common.messaging.dead_letter import DeadLetterPublisher, SourceMessage
from common.messaging.decoding import EventDecoder
from common.messaging.handlers import BatchHandler, Delivery, EventHandler, Received
from common.messaging.lanes import MAX_LINKS, span_context
from common.messaging.pipeline import BatchPipeline
from common.tracing import context_from_carrier, kafka_headers_to_carrier

__all__ = ["BatchHandler", "EventHandler", "Received", "subscribe"]

if TYPE_CHECKING:
    from common.runtime import Runtime

log = get_logger(__name__)
_tracer = trace.get_tracer("coffre.consumer")

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
)
BATCH_MAX_RECORDS = 2000
ROUND_ROBIN = RoundRobinPartitionAssignor
CO_PARTITIONED = (RangePartitionAssignor, RoundRobinPartitionAssignor)
"""Range assignment first, round-robin for members of a release that offers only that."""


class _SeenBefore(Exception):
    """A batch's plain inbox claim met an id already claimed (a redelivery)."""


def _pass_through(message: Any) -> None:
    """The subscriber's decoder: nothing, so no body is decoded twice (``EventDecoder`` does)."""
    return None


def subscribe(
    runtime: Runtime,
    *,
    consumer: str,
    events: Sequence[type[Event]],
    handler: EventHandler | None = None,
    handle_many: BatchHandler | None = None,
    max_attempts: int = 3,
    max_records: int = BATCH_MAX_RECORDS,
    max_wait_ms: int = 100,
    fetch_max_wait_ms: int = 500,
    listener: ConsumerRebalanceListener | None = None,
    co_partitioned: bool = False,
) -> None:
    """Subscribe a per-event ``handler`` or a batch ``handle_many`` (exactly one) to the topics
    of ``events`` in the consumer group ``consumer``. A batch is what the client has fetched
    by the time the previous batch committed, at most ``max_records`` messages; a poll waits at
    most ``max_wait_ms`` for a first message (and an empty poll pauses as long); the broker
    holds a fetch open at most ``fetch_max_wait_ms`` while it has nothing new; ``listener``
    hears partition assignments;
    ``co_partitioned``: each member gets the same partition numbers of every topic (see the
    module's rules)."""
    if (handler is None) == (handle_many is None):
        raise TypeError("subscribe needs exactly one of handler= or handle_many=")
    topics = sorted({e.topic() for e in events})
    settings = runtime.settings
    decoder = EventDecoder(consumer, events, settings.max_event_bytes)
    call = _per_event(handler) if handler is not None else handle_many
    assert call is not None

    pipeline = BatchPipeline(consumer)
    runtime.consumer_pipelines.append(pipeline)

    async def process(body: Any, message: KafkaMessage) -> None:
        kafka: AIOKafkaConsumer = message.consumer
        records: list[ConsumerRecord[bytes, bytes]] = list(message.raw_message)
        batch = ConsumerBatch(
            runtime, consumer, decoder, call, max_attempts, traced=handler is not None
        )
        deliveries = await batch.decode(records)
        if not await pipeline.ready(kafka):
            return
        meanwhile = await fetched_meanwhile(kafka, max_records - len(records))
        if meanwhile:
            records.extend(meanwhile)
            deliveries.extend(await batch.decode(meanwhile))
        work = _observed(consumer, records, batch.apply(deliveries), kafka)
        pipeline.start(kafka, records, work)

    runtime.broker.subscriber(
        *topics,
        group_id=consumer,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=max_wait_ms,
        fetch_max_wait_ms=fetch_max_wait_ms,
        listener=listener,
        partition_assignment_strategy=CO_PARTITIONED if co_partitioned else (ROUND_ROBIN,),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,  # BatchPipeline commits offsets after the unit of work
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_partition_fetch_bytes=max(settings.max_event_bytes * 2, 1_048_576),
        decoder=_pass_through,
        title=f"{consumer}:{','.join(topics)}",
        description=((handler or handle_many).__doc__ or "").strip() or None,
    )(process)


async def fetched_meanwhile(
    kafka: AIOKafkaConsumer, room: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """What the client fetched while the previous batch committed, taken without waiting (at
    most ``room`` records): it joins the batch about to be applied instead of waiting a whole
    batch more. Each partition's records come after the ones polled before, in order. A client
    stopping or rebalancing meanwhile adds nothing: the polled batch is applied as it is."""
    if room <= 0:
        return []
    try:
        fetched = await kafka.getmany(timeout_ms=0, max_records=room)
    except (ConsumerStoppedError, KafkaError) as exc:
        log.info("event_batch_not_topped_up", error=type(exc).__name__)
        return []
    return [record for records in fetched.values() for record in records]


async def _observed(
    group: str,
    records: Sequence[ConsumerRecord[bytes, bytes]],
    work: Awaitable[dict[int, str]],
    kafka: Any,
) -> dict[int, str]:
    """Apply a batch and record it in the metrics (size, time, outcomes, lag left)."""
    started = time.perf_counter()
    outcomes = await work

    def highwater(topic: str, partition: int) -> int | None:
        with contextlib.suppress(Exception):  # a partition just revoked has none
            mark = kafka.highwater(TopicPartition(topic, partition))
            return int(mark) if mark is not None else None
        return None

    instruments.observe_batch(group, records, outcomes, time.perf_counter() - started, highwater)
    return outcomes


def _per_event(handler: EventHandler) -> BatchHandler:
    async def handle_each(events: Sequence[Received], uow: UnitOfWork) -> None:
        for received in events:
            await handler(received.event, received.envelope, uow)

    handle_each.__doc__ = handler.__doc__
    return handle_each


class ConsumerBatch:
    """Processes one polled batch of one consumer group."""

    def __init__(
        self,
        runtime: Runtime,
        consumer: str,
        decoder: EventDecoder,
        handle_many: BatchHandler,
        max_attempts: int,
        *,
        traced: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._runtime = runtime
        self._consumer = consumer
        self._decoder = decoder
        self._handle_many = handle_many
        self._traced = traced
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._dead_letter = DeadLetterPublisher(runtime.producer_for_dead_letters(), consumer)
        self.outcomes: dict[int, str] = {}

    async def handle(self, sources: Sequence[SourceMessage]) -> dict[int, str]:
        """Process every message; return an outcome per offset."""
        return await self.apply(await self.decode(sources))

    async def decode(self, sources: Sequence[SourceMessage]) -> list[Delivery]:
        """Decode every message; dead-letter those that are not valid events for us."""
        deliveries: list[Delivery] = []
        decode = self._decoder.decode
        for source in sources:
            try:
                envelope, event = decode(source.value)
            except EventRejected as exc:
                code = str(exc.extensions.get("reason", exc.code))
                await self._reject(source, code, exc.message)
                continue
            deliveries.append(Delivery(source, envelope, event))
        return deliveries

    async def apply(self, deliveries: Sequence[Delivery]) -> dict[int, str]:
        """Apply the decoded events in one unit of work (retried while Postgres is down)."""
        while deliveries:
            try:
                await self._process(deliveries)
                break
            except INFRASTRUCTURE_ERRORS as exc:
                log.warning("event_batch_retry", error=type(exc).__name__, consumer=self._consumer)
                await self._sleep(1.0)
        return self.outcomes

    async def _reject(self, source: SourceMessage, code: str, reason: str) -> None:
        await self._dead_letter.send(source, code=code, reason=reason)
        instruments.dead_lettered.add(1, {"group": self._consumer, "code": code})
        self.outcomes[source.offset] = "dead-lettered"

    async def _process(self, deliveries: Sequence[Delivery]) -> None:
        """Fast path first: the whole batch in one transaction; if any event fails, the batch
        is rolled back and redone with one savepoint per event, isolating the failure."""
        try:
            await self._process_batch(deliveries)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            log.info("event_batch_isolating", error=type(exc).__name__, size=len(deliveries))
            await self._process_isolated(deliveries)

    def _span(self, delivery: Delivery) -> Any:
        parent = context_from_carrier(kafka_headers_to_carrier(delivery.source.headers))
        return _tracer.start_as_current_span(
            f"{delivery.source.topic} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.consumer.group.name": self._consumer},
        )

    async def _call(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        """Per-event handlers: one call and one span (child of the producer's) per event.
        Batch handlers: one call in one span linked to every event's producer context."""
        if self._traced:
            for delivery in deliveries:
                with self._span(delivery):
                    await self._handle_many([Received(delivery.event, delivery.envelope)], uow)
            return
        links = [
            Link(context)
            for d in deliveries[:MAX_LINKS]
            if (context := span_context(d.envelope.trace.traceparent)) is not None
        ]
        with _tracer.start_as_current_span(
            f"{deliveries[0].source.topic} process" if deliveries else "process",
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.consumer.group.name": self._consumer,
                "messaging.batch.message_count": len(deliveries),
            },
        ):
            await self._handle_many([Received(d.event, d.envelope) for d in deliveries], uow)

    async def _process_batch(self, deliveries: Sequence[Delivery]) -> None:
        """Claims the batch with a plain INSERT (the usual case: nothing seen before); on a
        redelivery (or a twin in the batch) the unit of work is redone with the claim that
        skips ids already there."""
        try:
            await self._apply_batch(deliveries, unseen=True)
        except _SeenBefore:
            await self._apply_batch(deliveries, unseen=False)

    async def _apply_batch(self, deliveries: Sequence[Delivery], *, unseen: bool) -> None:
        ids = [(d.envelope.event_id, d.source.topic) for d in deliveries]
        async with self._runtime.uow() as uow:
            if unseen:
                try:
                    fresh = await uow.claim_inbox_unseen(self._consumer, ids)
                except asyncpg.UniqueViolationError:
                    raise _SeenBefore from None
            else:
                fresh = await uow.claim_inbox_many(self._consumer, ids)
            outcomes: dict[int, str] = {}
            todo: list[Delivery] = []
            for delivery in deliveries:
                if delivery.envelope.event_id not in fresh:
                    outcomes[delivery.source.offset] = "duplicate"
                    continue
                fresh.discard(delivery.envelope.event_id)  # a later twin is a duplicate
                todo.append(delivery)
                outcomes[delivery.source.offset] = "processed"
            if todo:
                await self._call(uow, todo)
            await uow.commit()
        self.outcomes.update(outcomes)

    async def _process_isolated(self, deliveries: Sequence[Delivery]) -> None:
        rejected: list[tuple[SourceMessage, str, str]] = []
        outcomes: dict[int, str] = {}
        async with self._runtime.uow() as uow:
            for delivery in deliveries:
                outcome = await self._process_one(uow, delivery, rejected)
                outcomes[delivery.source.offset] = outcome
            await uow.commit()
        for source, code, reason in rejected:
            await self._reject(source, code, reason)
        self.outcomes.update(outcomes)

    async def _process_one(
        self, uow: UnitOfWork, delivery: Delivery, rejected: list[tuple[SourceMessage, str, str]]
    ) -> str:
        env = delivery.envelope
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with uow.savepoint():
                    if not await uow.claim_inbox(
                        self._consumer, env.event_id, delivery.source.topic
                    ):
                        log.debug("event_duplicate_skipped", event_id=str(env.event_id))
                        return "duplicate"
                    await self._call(uow, [delivery])
                log.debug("event_processed", event_type=env.type, event_id=str(env.event_id))
                return "processed"
            except EventRejected as exc:
                code = str(exc.extensions.get("reason", exc.code))
                rejected.append((delivery.source, code, exc.message))
                return "dead-lettered"
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:
                log.warning("event_handler_failed", error=type(exc).__name__, attempt=attempt)
                if attempt == self._max_attempts:
                    rejected.append(
                        (
                            delivery.source,
                            "handler-failed",
                            f"handler failed {attempt} times: {type(exc).__name__}",
                        )
                    )
                    return "dead-lettered"
        return "dead-lettered"
