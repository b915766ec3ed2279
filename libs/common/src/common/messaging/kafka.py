"""Factories for Kafka clients, configured the same way in every service.

Rules: producers wait for every in-sync replica (acks=all); producer idempotence is a setting
(on for Apache Kafka, off for the embedded broker, which lacks it) because correctness comes from
the outbox and the inbox, not from the client; consumers commit offsets only when told to.
"""

from __future__ import annotations

import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from common.settings import ServiceSettings

PRODUCER_LINGER_MS = 5
"""How long a producer holds a record batch open for more records of its partition."""


def create_producer(
    settings: ServiceSettings, *, client_suffix: str = "producer", max_batch_size: int = 16_384
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-{client_suffix}",
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=PRODUCER_LINGER_MS,
        max_batch_size=max_batch_size,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
        max_request_size=max(settings.max_event_bytes * 2, 1_048_576),
    )


def create_broker(settings: ServiceSettings) -> KafkaBroker:
    """The FastStream broker a service's consumers subscribe on (``common.messaging.subscribe``).

    It has no telemetry middleware: the consumer traces each event itself (a span per event,
    child of the producer's context from the headers, or one span per batch linked to every
    event's), and FastStream's middleware would only add a span pair per polled batch and parse
    every message's baggage header again."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-consumer",
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: list[str], *, partitions: int = 3, replication: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; return those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="coffre-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t, num_partitions=partitions, replication_factor=replication)
                        for t in missing
                    ]
                )
        return missing
    finally:
        await admin.close()
