"""Postgres CPU per statement of fraud's batch path (bench only, Linux, local Postgres).

Runs what the activity consumer does to 500-event batches — inbox claim, scoring (locks, reads,
set-based writes), outbox rows and commit — in process against a private embedded Postgres, and
reads the backend's CPU time (``/proc/<backend pid>/stat``) around each statement; prints, per
statement, the backend's CPU per event over the second half of the run (the tables then hold
what the first half stored). ``FRAUD_PG_EVENTS`` (20,000) sets the number of events. The clock
tick is 10 ms, so a figure is exact only summed over many calls.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from common.db import Database
from common.db.migrations import migrate
from common.db.uow import UnitOfWork
from common.events.aggregation import TransactionIngested
from common.events.payments import PaymentInitiated
from common.messaging.decoding import EventDecoder
from common.messaging.handlers import Received
from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from fraud.adapters.pg_uow import PgUnitOfWork
from fraud.bootstrap import MIGRATIONS
from fraud.entrypoints.consumers import _activity
from fraud.service.engine import Engine
from fraud.service.scoring import score_in
from proc_cpu import process_cpu_seconds
from run import prepare

BATCH = 500
METHODS = ("execute", "fetch", "fetchrow", "fetchval", "copy_records_to_table")


class MeteredConnection:
    """A connection whose statements add the backend's CPU time to ``spent``."""

    def __init__(self, conn: Any, spent: Counter[str], calls: Counter[str]) -> None:
        self._conn, self._backend = conn, conn.get_server_pid()
        for name in METHODS:
            setattr(self, name, self._metered(name, getattr(conn, name), spent, calls))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def _metered(
        self,
        kind: str,
        call: Callable[..., Awaitable[Any]],
        spent: Counter[str],
        calls: Counter[str],
    ) -> Callable[..., Awaitable[Any]]:
        async def metered(query: str, *args: Any, **kwargs: Any) -> Any:
            label = f"{kind}: {' '.join(str(query).split())[:80]}"
            started = process_cpu_seconds(self._backend)
            try:
                return await call(query, *args, **kwargs)
            finally:
                spent[label] += process_cpu_seconds(self._backend) - started
                calls[label] += 1

        return metered


async def run(database_url: str, count: int) -> tuple[Counter[str], Counter[str]]:
    db = await Database.connect(database_url, "fraud_pg_statements", max_size=2)
    spent: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    try:
        await migrate(db, MIGRATIONS)
        decoder = EventDecoder("bench", [PaymentInitiated, TransactionIngested], 1_000_000)
        messages = [m[1] for m in prepare("pg", 101, count).messages]
        received = [Received(e, v) for v, e in (decoder.decode(m) for m in messages)]
        engine = Engine(auto_register_accounts=True)
        container: Any = SimpleNamespace(engine=engine)
        for start in range(0, count, BATCH):
            if start == count // 2:
                spent.clear()
                calls.clear()
            async with UnitOfWork(db, producer="fraud") as uow:
                conn = uow._conn
                uow._conn = MeteredConnection(conn, spent, calls)  # type: ignore[assignment]
                try:
                    await _batch(uow, received[start : start + BATCH], container, engine)
                finally:
                    uow._conn = conn  # the pool takes back its own connection
    finally:
        await db.close()
    return spent, calls


async def _batch(uow: UnitOfWork, chunk: list[Received], container: Any, engine: Engine) -> None:
    """What the activity consumer does to one batch: claim, score, write, commit."""
    await uow.claim_inbox_unseen("fraud.activity", [(r.envelope.event_id, "a") for r in chunk])
    async with PgUnitOfWork.borrow(uow) as borrowed:
        activities = [_activity(container, r) for r in chunk]
        await score_in(activities, borrowed, engine, park=True)
    await uow.commit()


def main() -> None:
    count = int(os.environ.get("FRAUD_PG_EVENTS", "20000"))
    base = Path(tempfile.mkdtemp(prefix="fraud-pg-"))
    postgres = EmbeddedPostgres(base / "pg", free_port())
    postgres.start()
    try:
        spent, calls = asyncio.run(run(postgres.url, count))
    finally:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)
    measured = count - count // 2
    for label, seconds in spent.most_common():
        print(f"{seconds / measured * 1e6:7.1f} µs/event {calls[label]:5,} calls  {label}")
    print(f"backend CPU per event: {sum(spent.values()) / measured * 1e6:.1f} µs", flush=True)


if __name__ == "__main__":
    main()
