"""The dead-letter topic: where a message goes when it cannot be processed.

Rules: the original bytes, key and headers are kept unchanged; the reason, its machine code, the
consumer and the source topic/partition/offset are added as ``x-dlq-*`` headers; the reason never
contains the message's content. The consumer's offset moves on only after the dead-letter write
is acknowledged, so nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer

from common.events.base import DEAD_LETTER_TOPIC
from common.logging import get_logger

log = get_logger(__name__)


class SourceMessage(Protocol):
    """A consumed message as the broker delivered it (an aiokafka ``ConsumerRecord`` is one:
    consumers pass the client's records through, nothing is copied per message)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class DeadLetterPublisher:
    def __init__(
        self, producer: AIOKafkaProducer, consumer: str, *, retry_delay: float = 1.0
    ) -> None:
        self._producer = producer
        self._consumer = consumer
        self._retry_delay = retry_delay

    async def send(self, message: SourceMessage, *, code: str, reason: str) -> None:
        headers = [h for h in message.headers if not h[0].startswith("x-dlq-")] + [
            ("x-dlq-reason", reason[:1000].encode()),
            ("x-dlq-code", code.encode()),
            ("x-dlq-consumer", self._consumer.encode()),
            ("x-dlq-source-topic", message.topic.encode()),
            ("x-dlq-source-partition", str(message.partition).encode()),
            ("x-dlq-source-offset", str(message.offset).encode()),
        ]
        while True:
            try:
                await self._producer.send_and_wait(
                    DEAD_LETTER_TOPIC, value=message.value, key=message.key, headers=headers
                )
                break
            except Exception as exc:  # broker unreachable: keep the offset, retry
                log.warning("dead_letter_retry", error=type(exc).__name__)
                await asyncio.sleep(self._retry_delay)
        log.warning(
            "event_dead_lettered",
            code=code,
            reason=reason,
            source_topic=message.topic,
            source_offset=message.offset,
            consumer=self._consumer,
        )
