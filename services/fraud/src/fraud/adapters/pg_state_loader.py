"""Reads the committed state of many accounts at once, outside any batch (on assignment).

Rules: every read happens in one repeatable-read, read-only transaction, so snapshots and
changes agree with each other (a snapshot written meanwhile cannot show a gap); nothing is
locked: a state read here is only used once its head is found to be the committed one.
"""

from __future__ import annotations

from collections.abc import Callable

from common.db import Database

from fraud.adapters.pg_scoring import committed_states
from fraud.adapters.pg_scoring_sql import ACCOUNTS_WITH_HISTORY
from fraud.service.ports import CommittedState


class PgStateLoader:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def owned(
        self, owns: Callable[[str], bool], chunk: int, limit: int
    ) -> list[CommittedState]:
        loaded: list[CommittedState] = []
        async with (
            self.db.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            accounts = [r["account_ref"] for r in await conn.fetch(ACCOUNTS_WITH_HISTORY)]
            mine = [account for account in accounts if owns(account)][:limit]
            for start in range(0, len(mine), chunk):
                states = await committed_states(conn, mine[start : start + chunk])
                loaded.extend(states.values())
        return loaded
