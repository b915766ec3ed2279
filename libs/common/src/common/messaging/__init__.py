"""Kafka messaging: broker and producer factories, the outbox relay, the idempotent inbox
consumer and the dead-letter topic."""

from common.messaging.consumer import EventHandler, subscribe
from common.messaging.dead_letter import DeadLetterPublisher
from common.messaging.kafka import create_broker, create_producer, ensure_topics
from common.messaging.relay import OutboxRelay

__all__ = [
    "DeadLetterPublisher",
    "EventHandler",
    "OutboxRelay",
    "create_broker",
    "create_producer",
    "ensure_topics",
    "subscribe",
]
