"""What a consumer fetched while its previous batch committed joins the next batch.

Real broker and Postgres: the first batch is held open by its handler while two waves of events
arrive, the first polled (and decoded) while the batch is held, the second only fetched into
the client's buffer after that poll; once the first batch commits, both waves are applied as one
batch, in order, and every offset is committed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from coffre_testing.app import running_app
from coffre_testing.example.service import NoteRecorded, count_notes, create_app
from coffre_testing.kafka import collect, header
from coffre_testing.waiting import eventually, patient
from common.db import UnitOfWork
from common.events import DEAD_LETTER_TOPIC
from common.events.base import encode_envelope
from common.messaging import Received
from devstack.backbone_bench import place_group_at_end
from fastapi import FastAPI

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _note(owner: str, seq: int) -> bytes:
    _, _, data = encode_envelope(
        NoteRecorded(note_id=seq, owner=owner, seq=seq, text="t"), producer="test", subject=owner
    )
    return data


def _kafka_consumer(app: FastAPI, group: str) -> AIOKafkaConsumer:
    [subscriber] = [s for s in app.state.runtime.broker.subscribers if s.group_id == group]
    consumer: AIOKafkaConsumer = subscriber.consumer
    return consumer


async def test_events_fetched_while_a_batch_commits_join_the_next_batch(
    infra, example_settings, owner
):
    group = f"top-up-{uuid.uuid4().hex[:8]}"
    topic = NoteRecorded.topic()
    await place_group_at_end(infra.bootstrap_servers, group, topic)
    batches: list[list[int]] = []
    holding, release = asyncio.Event(), asyncio.Event()

    async def handle(events: Sequence[Received], uow: UnitOfWork) -> None:
        seqs = [
            r.event.seq
            for r in events
            if isinstance(r.event, NoteRecorded) and r.event.owner == owner
        ]
        if seqs:
            batches.append(seqs)
        if 0 in seqs and not release.is_set():
            holding.set()
            await release.wait()
        await count_notes(events, uow)

    app = create_app(example_settings, consumer_group=group, batch=True, handle_many=handle)
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    async with running_app(app):
        await producer.start()
        try:
            key = owner.encode()  # one key: one partition, in order
            first = await producer.send_and_wait(topic, _note(owner, 0), key=key)
            await asyncio.wait_for(holding.wait(), patient(20))
            # wave 1, ending with a message no decoder accepts: it is dead-lettered when its
            # poll is decoded, which shows the poll happened while the first batch is held
            for seq in (1, 2, 3):
                await producer.send_and_wait(topic, _note(owner, seq), key=key)
            await producer.send_and_wait(topic, b"not an envelope", key=key)
            dead = await collect(
                infra.bootstrap_servers,
                DEAD_LETTER_TOPIC,
                count=1,
                where=lambda r: header(r, "x-dlq-consumer") == group,
            )
            assert dead, "the poll after the held batch was never decoded"
            # wave 2: sent after that poll, so it can only join through the top-up
            for seq in (4, 5, 6):
                last = await producer.send_and_wait(topic, _note(owner, seq), key=key)
            kafka = _kafka_consumer(app, group)
            partition = TopicPartition(topic, first.partition)

            async def fetched() -> bool:
                return (kafka.highwater(partition) or 0) > last.offset

            await eventually(fetched, timeout=20)
            release.set()

            async def applied() -> bool:
                return sum(len(b) for b in batches) >= 7

            await eventually(applied, timeout=20)

            async def committed() -> bool:
                return (await kafka.committed(partition) or 0) > last.offset

            await eventually(committed, timeout=20)
            counted = await app.state.runtime.db.fetch(
                "SELECT seq FROM note_effects WHERE owner = $1 ORDER BY id", owner
            )
        finally:
            await producer.stop()
    assert batches == [[0], [1, 2, 3, 4, 5, 6]]
    assert [r["seq"] for r in counted] == [0, 1, 2, 3, 4, 5, 6]
