"""Group commit: concurrent small units of work share one Postgres transaction and one commit.

Rules:
- Members of a group take turns on the group's connection; each runs in its own savepoint, so a
  member that fails or leaves without committing undoes only its own changes and events.
- A member's ``commit`` releases its savepoint, hands the connection to the next member, and
  returns only after the whole group committed: nothing is acknowledged before it is durable.
  If the group's commit fails, every member's ``commit`` raises.
- A group commits as soon as no member is waiting for its turn, or when it is full; the next
  group starts on another connection while the previous one commits.
- Round trips: a member costs one (its savepoint, sent together with the release of the
  previous member's, or with the group's BEGIN for the first member) plus its own statements;
  its events wait in memory and the group writes every member's outbox rows with one
  statement and commits (``commit_with_outbox``).
- Members see the changes of earlier members of their group (as if those had committed just
  before them). Use it for short database-only units of work: a member that awaits anything else
  (an HTTP call, a slow hash) holds up its whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

import asyncpg

from common.db.database import Database
from common.db.uow import PendingEvent, UnitOfWork, commit_with_outbox
from common.events.base import DEFAULT_MAX_EVENT_BYTES


@dataclass(eq=False)
class CommitGroup:
    conn: asyncpg.Connection
    done: asyncio.Future[None]
    lane: _Lane
    begun: bool = False
    members: int = 0
    savepoints: int = 0
    to_release: str | None = None
    events: list[PendingEvent] = field(default_factory=list)

    async def open_savepoint(self) -> str:
        """A savepoint for the next member, sent with the previous member's release (or with
        the group's BEGIN) in the same round trip."""
        self.savepoints += 1
        name = f"coffre_member_{self.savepoints}"
        released, self.to_release = self.to_release, None
        if not self.begun:
            before = "BEGIN; "
        else:
            before = f"RELEASE SAVEPOINT {released}; " if released else ""
        await self.conn.execute(f"{before}SAVEPOINT {name}")
        self.begun = True
        return name


class _Lane:
    """One connection's worth of groups: members take turns on it, one group at a time."""

    def __init__(self) -> None:
        self.turn = asyncio.Lock()
        self.waiting = 0
        self.group: CommitGroup | None = None


class GroupCommitter:
    """Forms commit groups for one database; one per process. ``lanes`` groups fill at once
    (on as many connections), so members are not all serialised on one connection."""

    def __init__(self, db: Database, *, lanes: int = 4, max_group: int = 32) -> None:
        self._db = db
        self._max_group = max_group
        self._lanes = [_Lane() for _ in range(lanes)]
        self._committing: set[asyncio.Task[None]] = set()
        self.groups_committed = 0
        self.members_committed = 0

    async def join(self) -> CommitGroup:
        """Wait for this member's turn on a group of the least busy lane (opening one)."""
        lane = min(self._lanes, key=lambda ln: ln.waiting + ln.turn.locked())
        lane.waiting += 1
        try:
            await lane.turn.acquire()
        finally:
            lane.waiting -= 1
        if lane.group is None:
            try:
                lane.group = await self._open(lane)
            except BaseException:
                lane.turn.release()
                raise
        return lane.group

    async def _open(self, lane: _Lane) -> CommitGroup:
        """A group on a pooled connection; its BEGIN goes with its first member's savepoint."""
        conn = await self._db.pool.acquire()
        return CommitGroup(conn, asyncio.get_running_loop().create_future(), lane=lane)

    def leave(self, group: CommitGroup, *, committed: bool) -> asyncio.Future[None]:
        """A member is done with the connection; close the group when nobody waits."""
        lane = group.lane
        if committed:
            group.members += 1
        if lane.waiting == 0 or group.members >= self._max_group:
            lane.group = None
            task = asyncio.get_running_loop().create_task(self._finish(group))
            self._committing.add(task)
            task.add_done_callback(self._committing.discard)
        lane.turn.release()
        return group.done

    async def _finish(self, group: CommitGroup) -> None:
        ended = False
        try:
            if group.members:
                await commit_with_outbox(group.conn, group.events)
                self.groups_committed += 1
                self.members_committed += group.members
            else:
                await group.conn.execute("ROLLBACK")
            ended = True
            group.done.set_result(None)
        except BaseException as exc:
            group.done.set_exception(exc)
            group.done.exception()  # retrieved: members that left without committing don't wait
        finally:
            release = self._db.release_clean if ended else self._db.pool.release
            with contextlib.suppress(Exception):
                await release(group.conn)

    async def close(self) -> None:
        if self._committing:
            await asyncio.wait(set(self._committing), timeout=5)


class SharedCommitUnitOfWork(UnitOfWork):
    """A unit of work whose commit is shared with concurrent ones (see the module's rules)."""

    def __init__(
        self,
        db: Database,
        committer: GroupCommitter,
        *,
        producer: str,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            db, producer=producer, max_event_bytes=max_event_bytes, on_commit=on_commit
        )
        self._committer = committer
        self._group: CommitGroup | None = None
        self._savepoint = ""

    async def __aenter__(self) -> SharedCommitUnitOfWork:
        group = await self._committer.join()
        self._conn = group.conn
        try:
            self._savepoint = await group.open_savepoint()
        except BaseException:
            self._conn = None
            self._committer.leave(group, committed=False)
            raise
        self._group = group
        return self

    async def commit(self) -> None:
        """Hand the member's events to its group and wait for the group's commit (no round
        trip of its own: its savepoint is released by the next member or by the commit)."""
        assert self._group is not None
        events = len(self._pending)
        group, self._group = self._group, None
        group.events.extend(self._pending)
        group.to_release = self._savepoint
        self._pending.clear()
        done = self._committer.leave(group, committed=True)
        self._conn = None
        await asyncio.shield(done)
        self.committed = True
        if self._on_commit is not None and (events or self._flushed):
            self._on_commit()
        self._run_after_commit()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group, self._group = self._group, None
        try:
            if group is not None:
                name = self._savepoint
                await group.conn.execute(f"ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")
        finally:
            if group is not None:
                self._committer.leave(group, committed=False)
            self._conn = None
            self._pending.clear()
            self._after_commit.clear()
