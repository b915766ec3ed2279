"""The ledger: PSUs' accounts and their transactions, in memory (callers hold the lock).

Rules:
- Transaction ids are unique per account; a pending transaction keeps its id when it books.
- A pending transaction books once sandbox time passes its `books_at`, or on demand.
- An account's transactions are kept in `seq` order: list index i holds seq i + 1, so a page
  that resumes "after seq n" starts at index n and never repeats or skips an earlier item.
- Booking moves the account's running balance and stamps the transaction's balance after it.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sandbox_bank.domain.errors import FormatError, ResourceUnknown
from sandbox_bank.domain.model import Account, BookingStatus, Transaction, TransactionDraft


@dataclass(frozen=True)
class Page:
    """One page of transactions and the seq to resume after (None on the last page)."""

    items: list[Transaction]
    next_after: int | None


class Ledger:
    """Accounts by PSU and id; transactions by account."""

    def __init__(self) -> None:
        self._psus: dict[str, list[Account]] = {}
        self._accounts: dict[str, Account] = {}
        self._transactions: dict[str, list[Transaction]] = {}
        self._ids: dict[str, set[str]] = {}
        self._pending: dict[str, dict[str, Transaction]] = {}

    def has_psu(self, psu_id: str) -> bool:
        """The PSU's accounts exist already."""
        return psu_id in self._psus

    def add_psu(self, psu_id: str, accounts: list[Account]) -> None:
        """Register a PSU with its (empty) accounts."""
        self._psus[psu_id] = accounts
        for account in accounts:
            self._accounts[account.resource_id] = account
            self._transactions[account.resource_id] = []
            self._ids[account.resource_id] = set()
            self._pending[account.resource_id] = {}

    def accounts_of(self, psu_id: str) -> list[Account]:
        """The PSU's accounts, in opening order."""
        return list(self._psus.get(psu_id, []))

    def account(self, account_id: str) -> Account:
        """The account with this resource id, or RESOURCE_UNKNOWN."""
        account = self._accounts.get(account_id)
        if account is None:
            raise ResourceUnknown("no account with this resource id")
        return account

    def count(self, account: Account) -> int:
        """How many transactions the account holds."""
        return len(self._transactions[account.resource_id])

    def file(
        self, account: Account, draft: TransactionDraft, now: datetime, booking_delay: timedelta
    ) -> Transaction:
        """File a draft; a pending one is due to book `booking_delay` from now."""
        seq = account.next_seq
        tx_id = draft.transaction_id or _transaction_id(account, seq)
        if tx_id in self._ids[account.resource_id]:
            raise FormatError("transactionId already exists on this account")
        tx = Transaction(
            seq=seq,
            transaction_id=tx_id,
            account_id=account.resource_id,
            amount=draft.amount,
            currency=account.currency,
            counterparty_name=draft.counterparty_name,
            counterparty_iban=draft.counterparty_iban,
            remittance=draft.remittance,
            bank_transaction_code=draft.bank_transaction_code,
            value_date=draft.value_date,
            end_to_end_id=draft.end_to_end_id,
            mandate_id=draft.mandate_id,
        )
        account.next_seq += 1
        self._transactions[account.resource_id].append(tx)
        self._ids[account.resource_id].add(tx_id)
        if draft.booking_date is not None:
            self._book(account, tx, draft.booking_date)
        else:
            tx.books_at = now + booking_delay
            self._pending[account.resource_id][tx_id] = tx
        return tx

    def book_due(self, account: Account, now: datetime) -> list[Transaction]:
        """Book every pending transaction whose `books_at` has passed."""
        due = [tx for tx in self._pending[account.resource_id].values() if _due(tx, now)]
        for tx in due:
            assert tx.books_at is not None
            self._book(account, tx, max(tx.books_at.date(), tx.value_date))
        return due

    def book_pending(self, account: Account, tx_id: str | None, on: date) -> list[Transaction]:
        """Book one pending transaction (or all of them) today; booking twice is a no-op."""
        pending = self._pending[account.resource_id]
        if tx_id is None:
            chosen = list(pending.values())
        elif tx_id in pending:
            chosen = [pending[tx_id]]
        elif tx_id in self._ids[account.resource_id]:
            chosen = []
        else:
            raise ResourceUnknown("no transaction with this id on this account")
        for tx in chosen:
            self._book(account, tx, max(on, tx.value_date))
        return chosen

    def page(
        self,
        account: Account,
        status: BookingStatus,
        window: tuple[date, date],
        after: int,
        limit: int,
    ) -> Page:
        """Up to `limit` matching transactions with seq > `after`, in seq order."""
        selected: list[Transaction] = []
        for tx in self._transactions[account.resource_id][after:]:
            if not _matches(tx, status, window):
                continue
            if len(selected) == limit:
                return Page(selected, selected[-1].seq)
            selected.append(tx)
        return Page(selected, None)

    def _book(self, account: Account, tx: Transaction, on: date) -> None:
        account.balance += tx.amount
        tx.booking_date = on
        tx.balance_after = account.balance
        tx.entry_reference = f"{on:%Y%m%d}{account.next_entry:07d}"
        tx.books_at = None
        account.next_entry += 1
        self._pending[account.resource_id].pop(tx.transaction_id, None)


def _transaction_id(account: Account, seq: int) -> str:
    return hashlib.sha256(f"{account.resource_id}:{seq}".encode()).hexdigest()[:24]


def _due(tx: Transaction, now: datetime) -> bool:
    return tx.books_at is not None and tx.books_at <= now


def _matches(tx: Transaction, status: BookingStatus, window: tuple[date, date]) -> bool:
    if tx.booking_date is not None:
        return status != BookingStatus.PENDING and window[0] <= tx.booking_date <= window[1]
    return status != BookingStatus.BOOKED and window[0] <= tx.value_date <= window[1]
