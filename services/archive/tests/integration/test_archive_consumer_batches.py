"""Archive's consumer takes a polled batch at once (set-based writes, one transaction) and
gives the same effects as its events one by one, in order — real Postgres, the real app."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from archive.adapters.pg_journal import PgJournal
from archive.domain.journal import verify_chain
from archive.entrypoints.consumers import handle_batch
from archive_it_helpers import jpeg
from common.events import Envelope, Event
from common.events.aggregation import TransactionIngested
from common.events.auth import UserRegistered
from common.events.erasure import ErasureRequested
from common.messaging.handlers import Received

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]
Stack = Any


def received(event: Event, subject: str, producer: str = "aggregation") -> Received:
    return Received(event, Envelope.wrap(event, producer=producer, subject=subject))


def tx(user: str, ref: str, amount: str) -> Received:
    event = TransactionIngested(
        user_id=user, account_ref="acct-ref-0001", transaction_ref=ref, label="CAFE DU COIN",
        booking_date=date(2026, 12, 1), amount=amount, currency="EUR", status="booked",
    )  # fmt: skip
    return received(event, user)


def registered(user: str, email: str) -> Received:
    event = UserRegistered(user_id=uuid.UUID(user), method="password", verified_email=email)
    return received(event, user, producer="auth")


async def run_batch(stack: Stack, batch: list[Received]) -> None:
    async with stack.app.state.runtime.uow() as uow:
        await handle_batch(stack.container, batch, uow)
        await uow.commit()


async def test_a_batch_with_several_events_for_one_receipt_and_member_matches_once_in_order(
    stack: Stack, member: str
) -> None:
    receipt = (await stack.upload(member, jpeg(), amount="12.50", date="2026-11-30")).json()
    await run_batch(
        stack,
        [
            registered(member, "Member@Example.org"),
            tx(member, "tx-ref-first", "-12.50"),
            tx(member, "tx-ref-second", "-12.50"),  # same amount: the receipt is taken already
            tx(member, "tx-ref-first", "-12.50"),  # the same movement again counts once
            registered(member, "member@example.org"),  # the same member again keeps one address
        ],
    )
    pool = stack.db.pool
    row = await pool.fetchrow(
        "SELECT matched_kind, matched_ref FROM receipts WHERE receipt_id = $1",
        uuid.UUID(receipt["receipt_id"]),
    )
    assert (row["matched_kind"], row["matched_ref"]) == ("transaction", "tx-ref-first")
    movements = await pool.fetch(
        "SELECT ref, matched_receipt FROM movements WHERE user_id = $1 ORDER BY ref", member
    )
    assert [(m["ref"], m["matched_receipt"]) for m in movements] == [
        ("tx-ref-first", receipt["receipt_id"]),
        ("tx-ref-second", None),
    ]
    matched = await pool.fetchval(
        "SELECT count(*) FROM journal WHERE receipt_id = $1 AND action = 'matched'",
        receipt["receipt_id"],
    )
    assert matched == 1
    assert (
        await pool.fetchval("SELECT count(*) FROM mail_addresses WHERE user_id = $1", member) == 1
    )
    senders = await pool.fetch("SELECT address FROM mail_senders WHERE user_id = $1", member)
    assert [s["address"] for s in senders] == ["member@example.org"]
    async with pool.acquire() as conn:
        assert verify_chain(await PgJournal(conn).entries()) is None


async def test_an_erasure_between_two_movements_of_a_member_keeps_the_batch_order(
    stack: Stack, member: str
) -> None:
    erasure = ErasureRequested(user_id=member, requested_at=datetime.now(UTC), request_id="er-1")
    await run_batch(
        stack,
        [
            tx(member, "tx-ref-before", "-5.00"),
            received(erasure, member, "auth"),
            tx(member, "tx-ref-after", "-7.00"),
        ],
    )
    refs = await stack.db.pool.fetch("SELECT ref FROM movements WHERE user_id = $1", member)
    assert [r["ref"] for r in refs] == ["tx-ref-after"]
