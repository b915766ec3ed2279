"""Kafka messaging: broker and producer factories, the outbox relay, the idempotent inbox
consumer and the dead-letter topic."""

from common.messaging.consumer import BatchHandler, EventHandler, Received, subscribe
from common.messaging.dead_letter import DeadLetterPublisher
from common.messaging.kafka import create_broker, create_producer, ensure_topics
from common.messaging.relay import OutboxRelay

__all__ = [
    "BatchHandler",
    "DeadLetterPublisher",
    "EventHandler",
    "OutboxRelay",
    "Received",
    "create_broker",
    "create_producer",
    "ensure_topics",
    "subscribe",
]
