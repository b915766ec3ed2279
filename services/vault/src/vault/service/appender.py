"""The group-commit audit appender: many callers' entries chained in memory, one commit each batch.

Rules:
- One appender task per process takes whatever has queued (at most ``max_batch``), chains it with
  the same per-entry hash as ever, and commits it in one write; the chain and ``verify`` are
  unchanged. A caller is answered only after its batch committed: nothing a caller is given
  leaves the vault before its audit entry is durable.
- A request decided on a cached subject state carries that state's epoch; if the epoch moved
  before the commit (an erasure, a hold, a release — on any replica) the entry is not written and
  the caller gets ``StaleSubject`` and decides again from fresh state.
- A caller's drafts are queued as one group (one future) and never split across commits.
- A failed write fails every caller of the batch with ``AuditUnavailable`` (the batch may or may
  not have committed: the entry may exist, the answer never left) and the head is re-read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from common.logging import get_logger
from common.worker import LoopWorker

from vault.domain.audit import AuditDraft, AuditEntry, AuditRequest, Head, Link, stale_requests
from vault.domain.errors import AuditUnavailable
from vault.service import metrics
from vault.service.ports import AuditBatchWriter, Clock, UnitOfWorkFactory

log = get_logger(__name__)
_ROUNDS_TO_REJOIN = 3


class StaleSubject(Exception):
    """The subject's state changed after the caller read it; decide again from fresh state."""


Group = tuple[list[AuditRequest], "asyncio.Future[list[Link | None]]"]


class AuditAppender:
    def __init__(self, writer: AuditBatchWriter, clock: Clock, *, max_batch: int = 1000) -> None:
        self.writer = writer
        self.clock = clock
        self.max_batch = max_batch
        self._queue: list[Group] = []
        self._worker = LoopWorker(self._run, name="vault-audit-appender")
        self._head: Head | None = None
        self._trusted = False
        self.batches = 0
        self.entries = 0

    async def append(
        self, draft: AuditDraft, *, subject_epoch: tuple[str, int] | None = None
    ) -> AuditEntry:
        """The durable entry for ``draft``; ``StaleSubject`` if its subject state moved."""
        request = AuditRequest(draft, self.clock.now(), subject_epoch)
        [link] = await self._queued([request])
        if link is None:
            raise StaleSubject()
        return link.entry(draft, request.at)

    def submit(
        self, drafts: Sequence[AuditDraft], epochs: Sequence[tuple[str, int] | None]
    ) -> asyncio.Future[list[Link | None]]:
        """Queue a caller's drafts as one group: they land in the same commit, in this order.
        The future gives each draft's durable link (seq, hashes), or None where its subject
        state moved."""
        now = self.clock.now()
        return self._queued([AuditRequest(d, now, e) for d, e in zip(drafts, epochs, strict=True)])

    def _queued(self, requests: list[AuditRequest]) -> asyncio.Future[list[Link | None]]:
        future: asyncio.Future[list[Link | None]] = asyncio.get_running_loop().create_future()
        self._queue.append((requests, future))
        self._worker.kick()
        return future

    async def close(self) -> None:
        """Write what is queued (every caller is answered), stop the task, close the writer."""
        await self._worker.close()
        await self.writer.close()

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while self._queue:
                await self._write_one_batch()
                for _ in range(_ROUNDS_TO_REJOIN):  # let the callers just answered ask again
                    await asyncio.sleep(0)
            if self._worker.closing:
                return

    def _take(self) -> list[Group]:
        """Whole groups, oldest first, up to ``max_batch`` entries (always at least one)."""
        taken, count = 0, 0
        for requests, _ in self._queue:
            if taken and count + len(requests) > self.max_batch:
                break
            taken, count = taken + 1, count + len(requests)
        groups, self._queue = self._queue[:taken], self._queue[taken:]
        return groups

    async def _write_one_batch(self) -> None:
        groups = self._take()
        requests = [r for group, _ in groups for r in group] if len(groups) > 1 else groups[0][0]
        started = time.perf_counter()
        try:
            links, head = await self.writer.write(requests, self._head, self._trusted)
        except Exception as exc:  # every caller of the batch is refused; nothing was disclosed
            self._trusted = False
            log.warning("audit_batch_failed", error=type(exc).__name__, entries=len(requests))
            for _, future in groups:
                if not future.done():
                    future.set_exception(AuditUnavailable())
            return
        self._head, self._trusted = head, True
        metrics.appended(len(requests), time.perf_counter() - started)
        self.batches += 1
        self.entries += len(requests)
        start = 0
        for group, future in groups:
            end = start + len(group)
            if not future.done():
                future.set_result(links[start:end])
            start = end


class UowAuditBatches:
    """The batch writer over the unit of work, for stores whose transactions run one at a time
    (the in-memory store): it reads the epochs, then appends entry by entry in one commit."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    async def write(
        self, requests: Sequence[AuditRequest], head: Head | None, trusted: bool
    ) -> tuple[list[Link | None], Head | None]:
        async with self.uow() as uow:
            subjects = {r.subject_epoch[0] for r in requests if r.subject_epoch is not None}
            epochs = {s: await uow.subject_epochs.get(s) for s in subjects}
            stale = stale_requests(requests, epochs)
            links: list[Link | None] = []
            for index, request in enumerate(requests):
                if index in stale:
                    links.append(None)
                    continue
                e = await uow.audit.append(request.draft, request.at)
                links.append(Link(e.seq, e.prev_hash, e.hash, e.canonical))
            new_head = await uow.audit.head()
            await uow.commit()
        return links, new_head

    async def close(self) -> None:
        return None
