"""Applying one read of an account: minimise, reconcile, store, and record the events.

Rules: a read is applied whole in one transaction that first locks the member's feed (so
concurrent pulls of one member serialise and never duplicate a transaction or an event) and
then the account (gone: erased or unlinked meanwhile, so nothing is written). New transactions
publish `TransactionIngested`, changed ones `TransactionUpdated`, keyed by account; each change
takes the next version of the member's feed. A removed pending keeps no label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from common.events.aggregation import TransactionIngested, TransactionUpdated
from common.logging import get_logger

from aggregation.domain.accounts import LinkedAccount
from aggregation.domain.limits import WINDOW
from aggregation.domain.transactions import (
    Changes,
    MinimalTransaction,
    StoredTransaction,
    reconcile,
)
from aggregation.service.context import Context
from aggregation.service.ports import BankTransaction

log = get_logger(__name__)


def minimise(ctx: Context, account_ref: str, item: BankTransaction) -> MinimalTransaction:
    """Replace the bank's transaction id by its keyed reference; nothing else is kept."""
    return MinimalTransaction(
        transaction_ref=ctx.refs.transaction_ref(account_ref, item.bank_id),
        status=item.status,
        booking_date=item.booking_date,
        amount=item.amount,
        currency=item.currency,
        label=item.label,
    )


async def apply_read(
    ctx: Context,
    account_ref: str,
    incoming: Sequence[MinimalTransaction],
    since: date,
    per_day: int,
) -> Changes:
    """Apply one complete read of an account (from `since`) in one transaction."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        account = await uow.accounts.get(account_ref)
        if account is None:
            return Changes()
        user_id = account.user_id
        version = await uow.transactions.lock_feed(user_id)
        account = await uow.accounts.get(account_ref, for_update=True)
        if account is None:
            return Changes()
        refs = [tx.transaction_ref for tx in incoming]
        held = await uow.transactions.held(account_ref, refs)
        pending = await uow.transactions.pending_from(account_ref, since)
        changes = reconcile(held, incoming, pending_in_window=pending, complete=True)
        rows, events = _rows_and_events(account, changes, version)
        await uow.transactions.put_many(rows)
        if rows:
            await uow.transactions.set_feed(user_id, rows[-1].version)
        for event in events:
            uow.record(event, subject=user_id, key=account_ref)
        account.synced(now, now.date(), now + WINDOW / max(1, per_day))
        await uow.accounts.save(account)
        await uow.commit()
    if changes.count:
        log.info(
            "account_synced",
            account_ref=account_ref,
            added=len(changes.added),
            modified=len(changes.modified),
            removed=len(changes.removed),
        )
    return changes


def _rows_and_events(
    account: LinkedAccount, changes: Changes, version: int
) -> tuple[list[StoredTransaction], list[TransactionIngested | TransactionUpdated]]:
    rows: list[StoredTransaction] = []
    events: list[TransactionIngested | TransactionUpdated] = []
    ref, user = account.account_ref, account.user_id
    for tx in changes.added:
        version += 1
        rows.append(StoredTransaction(tx, ref, user, version, version))
        events.append(TransactionIngested(**_facts(user, ref, tx)))
    for old, tx in changes.modified:
        version += 1
        rows.append(StoredTransaction(tx, ref, user, version, old.created_version))
        events.append(
            TransactionUpdated(**_facts(user, ref, tx), previous_status=old.facts.status.value)
        )
    for gone in changes.removed:
        version += 1
        blank = replace(gone.facts, label="")
        rows.append(replace(gone, facts=blank, version=version, removed=True))
    return rows, events


def _facts(user_id: str, account_ref: str, tx: MinimalTransaction) -> dict[str, str | date]:
    return {
        "user_id": user_id,
        "account_ref": account_ref,
        "transaction_ref": tx.transaction_ref,
        "label": tx.label,
        "booking_date": tx.booking_date,
        "amount": format(tx.amount, "f"),
        "currency": tx.currency,
        "status": tx.status.value,
    }
