"""Postgres side of scoring, a batch at a time: lock, read, then one set-based write.

Rules: the batch's accounts are held by transaction-scoped advisory locks taken in one global
order (the key of migration 0002, so the decision endpoint and the consumer of any replica
exclude each other); every read after the lock sees what the lock's previous holder committed
(read committed: each statement takes a fresh snapshot); the owners' read also tells which
subjects are erased members (``erased_subjects``, by digest); an account's head is its newest
change, or its snapshot when no change follows it; its state is read (snapshot + changes after
it) only when the caller's head differs; every write is one statement per table (a binary COPY
for a batch, ``unnest`` for a few rows); a duplicate score or change raises ``StaleState``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from common.db.erasure import digest

from fraud.adapters.pg_records import (
    alert_values,
    decision_from_row,
    json_text,
    reasons_json,
    score_from_row,
)
from fraud.adapters.pg_scoring_sql import (
    ALERT_COLUMNS,
    CHANGE_COLUMNS,
    CHANGES,
    COPY_FROM_ROWS,
    DECISION_COLUMNS,
    DECISIONS,
    DROP_CHANGES,
    HEADS,
    INSERT_ALERTS,
    INSERT_CHANGES,
    INSERT_DECISIONS,
    INSERT_SCORES,
    LOCK,
    OWNERS,
    REGISTER,
    SCORE_COLUMNS,
    SCORES,
    SNAPSHOT,
    STATES,
)
from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.errors import StaleState
from fraud.domain.state import AccountState, Observation, OwnerSecurityState
from fraud.service.ports import (
    AccountHead,
    BatchContext,
    CommittedState,
    ScoringOutcome,
    Snapshot,
)


class PgScoring:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def load_many(
        self, activities: Sequence[Activity], known: Mapping[str, AccountHead]
    ) -> BatchContext:
        accounts = list(dict.fromkeys(a.account_ref for a in activities))
        await self.conn.execute(LOCK, accounts)
        context = BatchContext()
        for row in await self.conn.fetch(HEADS, accounts):
            if row["owner"] is not None:
                context.owners[row["account_ref"]] = row["owner"]
            if row["revision"] is not None:
                context.heads[row["account_ref"]] = AccountHead(row["revision"], row["token"])
        owners = {context.owners.get(a.account_ref) or a.owner_ref for a in activities}
        await self._owners(context, [o for o in owners if o], activities)
        await self._existing(context, activities)
        stale = [a for a, head in context.heads.items() if known.get(a) != head]
        if stale:
            await self._states(context, stale)
        return context

    async def _owners(
        self, context: BatchContext, owners: list[str], activities: Sequence[Activity]
    ) -> None:
        candidates = list({a.owner_ref for a in activities if a.owner_ref} | set(owners))
        digests = [digest(owner) for owner in candidates]
        for row in await self.conn.fetch(OWNERS, candidates, digests):
            if row["member"]:
                context.members.add(row["owner_ref"])
            if row["erased"]:
                context.erased.add(row["owner_ref"])
            if row["state"] is not None and row["owner_ref"] in owners:
                state = OwnerSecurityState.from_row(json.loads(row["state"]))
                context.security[row["owner_ref"]] = state

    async def _existing(self, context: BatchContext, activities: Sequence[Activity]) -> None:
        kinds = [a.kind.value for a in activities]
        refs = [a.ref for a in activities]
        for row in await self.conn.fetch(SCORES, kinds, refs):
            record = score_from_row(row)
            context.scores[(record.kind, record.activity_ref)] = record
        payments = [a.ref for a in activities if a.kind is ActivityKind.PAYMENT]
        if payments:
            for row in await self.conn.fetch(DECISIONS, payments):
                context.decisions[row["payment_id"]] = decision_from_row(row)

    async def _states(self, context: BatchContext, accounts: list[str]) -> None:
        for account, committed in (await committed_states(self.conn, accounts)).items():
            context.states[account] = (committed.state, committed.snapshot_revision)

    async def record_many(
        self, outcomes: Sequence[ScoringOutcome], snapshots: Sequence[Snapshot]
    ) -> None:
        try:
            await self._write(outcomes, snapshots)
        except asyncpg.UniqueViolationError:
            raise StaleState("activity was scored concurrently") from None

    async def _write(
        self, outcomes: Sequence[ScoringOutcome], snapshots: Sequence[Snapshot]
    ) -> None:
        conn = self.conn
        registered = [(o.score.account_ref, o.register_owner) for o in outcomes if o.register_owner]
        if registered:
            await conn.execute(REGISTER, *_columns(registered, 2))
        changes = [_change(o) for o in outcomes if o.change is not None]
        await _insert(conn, "account_changes", CHANGE_COLUMNS, INSERT_CHANGES, changes)
        await _insert(conn, "scores", SCORE_COLUMNS, INSERT_SCORES, [_score(o) for o in outcomes])
        alerts = [alert_values(o.alert) for o in outcomes if o.alert is not None]
        await _insert(conn, "alerts", ALERT_COLUMNS, INSERT_ALERTS, alerts)
        decisions = [_decision(o) for o in outcomes if o.decision is not None]
        await _insert(conn, "payment_decisions", DECISION_COLUMNS, INSERT_DECISIONS, decisions)
        if snapshots:
            rows = [_snapshot(s) for s in snapshots]
            await conn.execute(SNAPSHOT, *_columns(rows, 4))
            await conn.execute(DROP_CHANGES, [r[0] for r in rows], [r[2] for r in rows])


async def committed_states(
    conn: asyncpg.Connection, accounts: Sequence[str]
) -> dict[str, CommittedState]:
    """Each account's snapshot + the changes after it, replayed in order, with its head (read
    them in one database snapshot, under the accounts' locks or in a repeatable-read
    transaction, or a concurrent snapshot write may show a gap, which raises ``StaleState``)."""
    states: dict[str, CommittedState] = {}
    for row in await conn.fetch(STATES, accounts):
        state = AccountState.from_row(json.loads(row["state"]))
        states[row["account_ref"]] = CommittedState(state, state.revision, row["last_change"])
    for row in await conn.fetch(CHANGES, accounts):
        account = row["account_ref"]
        committed = states.setdefault(account, CommittedState(AccountState(account), 0, None))
        if row["revision"] != committed.state.revision + 1:
            raise StaleState("account change log has a gap")
        committed.state.apply(
            Observation(row["ts"], row["amount"], row["precise"], row["payee_ref"], row["hour"])
        )
        committed.token = row["score_id"]
    return states


async def _insert(
    conn: asyncpg.Connection,
    table: str,
    columns: tuple[str, ...],
    statement: str,
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert rows: a batch of ``COPY_FROM_ROWS`` or more by one binary COPY (about a third of
    the client's CPU of ``unnest`` arrays, which check every element, and less of the
    server's), fewer by one ``INSERT … unnest`` (a COPY waits for the server once more)."""
    if len(rows) >= COPY_FROM_ROWS:
        await conn.copy_records_to_table(table, records=rows, columns=columns)
    elif rows:
        await conn.execute(statement, *_columns(rows, len(columns)))


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as one list per column (``unnest``'s arguments)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


def _change(o: ScoringOutcome) -> tuple[Any, ...]:
    c = o.change
    assert c is not None
    return (o.score.account_ref, o.revision, o.score.score_id, c.ts, c.amount, c.precise,
            c.payee_ref, c.hour)  # fmt: skip


def _score(o: ScoringOutcome) -> tuple[Any, ...]:
    s = o.score
    return (s.score_id, s.kind.value, s.activity_ref, s.account_ref, s.owner_ref, s.value,
            s.decision.value, reasons_json(s.reasons), json_text(s.features), s.model_version,
            s.scored_at, s.source_event_id)  # fmt: skip


def _decision(o: ScoringOutcome) -> tuple[Any, ...]:
    d = o.decision
    assert d is not None
    return (d.payment_id, d.account_ref, d.owner_ref, d.amount, d.currency, d.payee_ref,
            d.score_id, d.decision.value, d.status.value, d.alert_id, d.decided_at)  # fmt: skip


def _snapshot(s: Snapshot) -> tuple[Any, ...]:
    document = json.dumps(s.state.to_row(), separators=(",", ":"))
    return (s.state.account_ref, document, s.state.revision, s.token)
