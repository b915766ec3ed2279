"""Berlin Group NextGenPSD2 v1 request and response bodies (camelCase on the wire).

Rules: requests forbid unknown fields (a FORMAT_ERROR, like a strict ASPSP); responses leave
out absent fields. A transaction carries more than a minimising client may keep (counterparty
IBAN, balance after it, bank codes); an account never carries a balance.
"""

from datetime import date
from decimal import Decimal
from typing import Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """camelCase aliases, accepted by name too."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def json_response(
    body: WireModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The body as Berlin Group JSON: aliases, no nulls."""
    content = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    return JSONResponse(content, status_code=status_code, headers=headers)


class AccountReference(WireModel):
    """An account named by IBAN."""

    iban: str = Field(min_length=15, max_length=34)
    currency: str | None = Field(None, pattern="^[A-Z]{3}$")


class AccessRequest(WireModel):
    """What the consent reaches: listed accounts, or `allPsd2: allAccounts`."""

    accounts: list[AccountReference] | None = None
    transactions: list[AccountReference] | None = None
    balances: list[AccountReference] | None = None
    all_psd2: Literal["allAccounts"] | None = None


class ConsentRequest(WireModel):
    """Body of POST /v1/consents."""

    access: AccessRequest
    recurring_indicator: bool
    valid_until: date
    frequency_per_day: int = Field(ge=1)
    combined_service_indicator: bool = False


class Href(WireModel):
    """A link."""

    href: str


class ConsentCreated(WireModel):
    """Answer to POST /v1/consents."""

    consent_status: str
    consent_id: str
    authorisation_id: str | None = None
    links: dict[str, Href] = Field(alias="_links")


class ConsentStatusBody(WireModel):
    """Answer to GET /v1/consents/{id}/status and to an authorisation."""

    consent_status: str
    sca_status: str | None = None


class ConsentBody(WireModel):
    """Answer to GET /v1/consents/{id}."""

    access: AccessRequest
    recurring_indicator: bool
    valid_until: date
    frequency_per_day: int
    last_action_date: date | None = None
    consent_status: str
    links: dict[str, Href] = Field(alias="_links")


class Amount(WireModel):
    """An amount as a decimal string (negative for debits) and its currency."""

    currency: str
    amount: str


class Iban(WireModel):
    """An account reference in a transaction."""

    iban: str


class BalanceAfter(WireModel):
    """The account balance right after a booking."""

    balance_amount: Amount
    balance_type: str = "interimBooked"


class TransactionBody(WireModel):
    """One transaction, as the bank reports it."""

    transaction_id: str
    entry_reference: str | None = None
    end_to_end_id: str | None = None
    mandate_id: str | None = None
    booking_date: date | None = None
    value_date: date
    transaction_amount: Amount
    creditor_name: str | None = None
    creditor_account: Iban | None = None
    debtor_name: str | None = None
    debtor_account: Iban | None = None
    remittance_information_unstructured: str
    bank_transaction_code: str
    proprietary_bank_transaction_code: str
    balance_after_transaction: BalanceAfter | None = None


class AccountBody(WireModel):
    """One account: identification only, never a balance."""

    resource_id: str
    iban: str
    currency: str
    name: str
    product: str
    owner_name: str
    cash_account_type: str
    links: dict[str, Href] = Field(alias="_links")


class AccountList(WireModel):
    """Answer to GET /v1/accounts."""

    accounts: list[AccountBody]


class TransactionReport(WireModel):
    """The `transactions` object: booked and/or pending, and the links to page on."""

    booked: list[TransactionBody] | None = None
    pending: list[TransactionBody] | None = None
    links: dict[str, Href] = Field(alias="_links")


class TransactionsBody(WireModel):
    """Answer to GET /v1/accounts/{id}/transactions."""

    account: AccountReference
    transactions: TransactionReport


class AppendTransaction(WireModel):
    """Body of POST /sandbox/accounts/{id}/transactions."""

    amount: Decimal = Field(decimal_places=2, description="Negative for a debit.")
    counterparty_name: str = Field(min_length=1, max_length=140)
    remittance_information_unstructured: str | None = Field(None, max_length=140)
    counterparty_iban: str | None = None
    booking_status: Literal["booked", "pending"] = "booked"
    value_date: date | None = Field(None, description="Default: sandbox today.")
    transaction_id: str | None = Field(None, min_length=1, max_length=64)
