"""The sandbox's records: PSU accounts, their transactions, and consents.

Rules kept here:
- A transaction's `transaction_id` never changes, also when a pending transaction books.
- A transaction is booked exactly when it has a booking date; until then it is pending.
- `seq` orders an account's transactions by arrival and never changes (pagination relies on it).
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class ConsentStatus(StrEnum):
    """Berlin Group consent statuses."""

    RECEIVED = "received"
    VALID = "valid"
    REJECTED = "rejected"
    REVOKED_BY_PSU = "revokedByPsu"
    EXPIRED = "expired"
    TERMINATED_BY_TPP = "terminatedByTpp"


class BookingStatus(StrEnum):
    """Which transactions a read asks for."""

    BOOKED = "booked"
    PENDING = "pending"
    BOTH = "both"


@dataclass
class Account:
    """A PSU's payment account at the sandbox bank."""

    resource_id: str
    psu_id: str
    iban: str
    currency: str
    name: str
    product: str
    owner_name: str
    cash_account_type: str = "CACC"
    balance: Decimal = Decimal("0.00")
    next_seq: int = 1
    next_entry: int = 1
    volume_batches: int = 0


@dataclass(frozen=True)
class TransactionDraft:
    """A transaction before the ledger files it; `booking_date=None` means pending."""

    amount: Decimal
    counterparty_name: str
    remittance: str
    bank_transaction_code: str
    value_date: date
    booking_date: date | None
    counterparty_iban: str | None = None
    transaction_id: str | None = None
    end_to_end_id: str | None = None
    mandate_id: str | None = None


@dataclass
class Transaction:
    """A transaction filed on an account."""

    seq: int
    transaction_id: str
    account_id: str
    amount: Decimal
    currency: str
    counterparty_name: str
    counterparty_iban: str | None
    remittance: str
    bank_transaction_code: str
    value_date: date
    booking_date: date | None = None
    entry_reference: str | None = None
    balance_after: Decimal | None = None
    books_at: datetime | None = None
    end_to_end_id: str | None = None
    mandate_id: str | None = None

    @property
    def booked(self) -> bool:
        """True once the transaction has a booking date."""
        return self.booking_date is not None


@dataclass(frozen=True)
class ConsentAccess:
    """The scope a consent asked for: `allPsd2`, or account and/or transaction IBAN lists.

    A list is None when not asked for; an empty list is bank-offered: the member picks the
    accounts at the bank (the sandbox grants all of theirs, see `resolved`).
    """

    all_psd2: bool = False
    accounts: frozenset[str] | None = None
    transactions: frozenset[str] | None = None

    def resolved(self, ibans: frozenset[str]) -> "ConsentAccess":
        """The scope after SCA: bank-offered lists hold the accounts the member granted."""
        return ConsentAccess(
            self.all_psd2, _fill(self.accounts, ibans), _fill(self.transactions, ibans)
        )

    @property
    def named(self) -> frozenset[str]:
        """Every IBAN the lists name."""
        return (self.accounts or frozenset()) | (self.transactions or frozenset())

    def lists(self, account: Account) -> bool:
        """The account may appear in the account list."""
        return self.all_psd2 or account.iban in self.named

    def reads_transactions(self, account: Account) -> bool:
        """The account's transactions may be read."""
        return self.all_psd2 or account.iban in (self.transactions or frozenset())


def _fill(listed: frozenset[str] | None, ibans: frozenset[str]) -> frozenset[str] | None:
    return ibans if listed is not None and not listed else listed


@dataclass(frozen=True)
class ConsentTerms:
    """What the TPP asks for besides access: duration, frequency, where to send the member."""

    recurring: bool
    valid_until: date
    frequency_per_day: int
    redirect_uri: str | None
    nok_redirect_uri: str | None = None
    embedded: bool = False


@dataclass
class Consent:
    """An AIS consent; its id is the secret the TPP presents as `Consent-ID`."""

    consent_id: str
    authorisation_id: str
    psu_id: str
    access: ConsentAccess
    recurring: bool
    valid_until: date
    frequency_per_day: int
    redirect_uri: str | None
    nok_redirect_uri: str | None
    created_at: datetime
    status: ConsentStatus = ConsentStatus.RECEIVED
    embedded: bool = False
    credential_failures: int = 0
    last_action_date: date | None = None
    unattended_calls: dict[str, list[datetime]] = field(default_factory=dict)
