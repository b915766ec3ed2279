"""One stretch of an outbox relay's leadership with one producer (see ``common.messaging.relay``).

Rules: select ahead with a cursor while batches wait for acknowledgement; rescan below the
cursor for rows committed late; after a commit's wake-up, linger a few milliseconds so one
select takes the rows of the commits around it; one UPDATE per round marks every acknowledged
row, fenced by the lease; a failed batch drains the others and fails the round.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import asyncpg
from aiokafka import AIOKafkaProducer

from common.logging import get_logger
from common.messaging import instruments
from common.messaging.lanes import Lane, OutboxRow
from common.messaging.lease import LeadershipLost, Lease

if TYPE_CHECKING:
    from common.messaging.relay import OutboxRelay

log = get_logger(__name__)
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
_SELECT = (
    "SELECT id, topic, message_key, envelope, headers->>'traceparent' AS tp, "
    "headers->>'tracestate' AS ts FROM outbox WHERE sent_at IS NULL AND id > $1 "
    "ORDER BY id LIMIT $2"
)
_SELECT_IDS_BELOW = "SELECT id FROM outbox WHERE sent_at IS NULL AND id <= $1"
_SELECT_BY_IDS = (
    "SELECT id, topic, message_key, envelope, headers->>'traceparent' AS tp, "
    "headers->>'tracestate' AS ts FROM outbox WHERE id = ANY($1::bigint[]) AND sent_at IS NULL "
    "ORDER BY id"
)
_MARK_FAILED = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])"
)


class PublishRound:
    """One stretch of leadership with one producer: runs until stop, or raises on a failure."""

    def __init__(
        self, relay: OutboxRelay, conn: asyncpg.Connection, lease: Lease, producer: AIOKafkaProducer
    ) -> None:
        self.relay = relay
        self.conn = conn
        self.lease = lease
        self.producer = producer
        self.lanes: dict[tuple[str, int], Lane] = {}
        self.pending: set[int] = set()
        self.cursor = 0
        self.gap_checked = 0.0
        self.error: BaseException | None = None

    async def run(self) -> None:
        relay = self.relay
        while not relay._stopping.is_set():
            await self.lease.keep(self.conn)
            fetched = await self._select() if len(self.pending) < relay._max_pending else 0
            self.lease.check()
            for lane in self.lanes.values():
                await lane.launch(self.producer)
            if fetched < relay._batch_size or len(self.pending) >= relay._max_pending:
                await self._wait()
            await self._settle()
            if self.error is not None:
                await self._drain_and_raise()
            relay.broker_reachable = True
            await self._purge_if_due()
        await self._finish()

    async def _select(self) -> int:
        rows = await self.conn.fetch(_SELECT, self.cursor, self.relay._batch_size)
        if rows:
            self.cursor = rows[-1]["id"]
        for row in rows:
            await self._enqueue(row)
        count = len(rows)
        now = time.monotonic()
        idle = count == 0 and len(self.pending) == 0
        if idle or now - self.gap_checked > self.relay._gap_interval:
            self.gap_checked = now
            for row in await self._late_rows():
                await self._enqueue(row)
        return count

    async def _late_rows(self) -> list[asyncpg.Record]:
        """Unsent rows below the cursor that are not in flight: committed after later ids."""
        below = await self.conn.fetch(_SELECT_IDS_BELOW, self.cursor)
        late = [r["id"] for r in below if r["id"] not in self.pending]
        if not late:
            return []
        log.info("outbox_late_rows", count=len(late))
        return list(await self.conn.fetch(_SELECT_BY_IDS, late))

    async def _enqueue(self, record: asyncpg.Record) -> None:
        row = OutboxRow(
            record["id"],
            record["topic"],
            record["message_key"].encode(),
            bytes(record["envelope"]),
            record["tp"],
            record["ts"],
        )
        partition = await self.relay._partitioner.partition(self.producer, row.topic, row.key)
        lane = self.lanes.get((row.topic, partition))
        if lane is None:
            lane = self.lanes[(row.topic, partition)] = Lane(row.topic, partition)
        lane.queue.append(row)
        self.pending.add(row.id)

    async def _wait(self) -> None:
        """Until a chunk is acknowledged, a commit wakes us, or the poll interval passes."""
        futures: list[asyncio.Future[Any]] = [
            lane.in_flight.future for lane in self.lanes.values() if lane.in_flight is not None
        ]
        waker = asyncio.ensure_future(self.relay._wake.wait())
        try:
            timeout = min(self.relay._poll_interval, self.lease.renew_at - time.monotonic())
            await asyncio.wait(
                [*futures, waker], timeout=max(timeout, 0.0), return_when="FIRST_COMPLETED"
            )
        finally:
            waker.cancel()
        if self.relay._wake.is_set() and self.relay.linger > 0:
            await asyncio.sleep(self.relay.linger)  # let the commits around this one land too
        self.relay._wake.clear()

    async def _settle(self) -> None:
        acked: list[int] = []
        failed: list[int] = []
        for lane in self.lanes.values():
            if lane.in_flight is not None and lane.in_flight.future.done():
                ids, error = lane.settle()
                (failed if error else acked).extend(ids)
                if error is not None:
                    self.error = self.error or error
                else:
                    instruments.published.add(len(ids), {"topic": lane.topic})
        if acked:
            await self.lease.mark_sent(self.conn, acked)
            self.relay.published += len(acked)
        self.pending.difference_update(acked)
        if failed:
            await self.conn.execute(_MARK_FAILED, failed, type(self.error).__name__)
            self.pending.difference_update(failed)

    async def _drain_and_raise(self) -> None:
        """Let chunks already in flight finish (their rows are marked), then fail the round."""
        futures = [lane.in_flight.future for lane in self.lanes.values() if lane.in_flight]
        if futures:
            await asyncio.wait(futures, timeout=max(self.lease.valid_until - time.monotonic(), 0))
        await self._settle()
        assert self.error is not None
        raise self.error

    async def _finish(self) -> None:
        """On stop: give chunks in flight a moment, and mark those acknowledged."""
        futures = [lane.in_flight.future for lane in self.lanes.values() if lane.in_flight]
        if futures:
            await asyncio.wait(futures, timeout=2.0)
        with contextlib.suppress(LeadershipLost, *DB_ERRORS):
            await self._settle()

    async def _purge_if_due(self) -> None:
        """Purge in the background, on a connection of its own: the publishing loop never
        waits for it."""
        relay = self.relay
        if relay._horizon is None or time.monotonic() < relay.purge_at:
            return
        if relay.purge_task is not None and not relay.purge_task.done():
            return
        relay.purge_at = time.monotonic() + relay.purge_interval
        relay.purge_task = asyncio.get_running_loop().create_task(relay.purge_once())
