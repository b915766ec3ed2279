"""Account-information routes: accounts and transactions, never balances.

Rules: every call needs X-Request-ID and Consent-ID; `withBalance=true` and the balances
endpoint are refused; transaction pages follow `_links.next`, whose `page` token only this
bank issues; `bookingStatus` and `dateFrom` are required (dateTo defaults to today).
"""

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from sandbox_bank.api import present
from sandbox_bank.api import schemas as wire
from sandbox_bank.api.deps import Attended, Bank, ConsentId, RequestId
from sandbox_bank.domain.bank import TransactionPage, TransactionQuery
from sandbox_bank.domain.errors import FormatError, ServiceInvalid
from sandbox_bank.domain.model import BookingStatus

router = APIRouter(prefix="/v1/accounts")
WithBalance = Annotated[bool, Query(alias="withBalance")]
NO_BALANCES = "balances are not offered by this agent"


@router.get("")
async def list_accounts(
    bank: Bank,
    _: RequestId,
    consent_id: ConsentId,
    attended: Attended,
    with_balance: WithBalance = False,
) -> JSONResponse:
    """The accounts the consent reaches."""
    _refuse_balances(with_balance)
    accounts = bank.list_accounts(consent_id, attended)
    return wire.json_response(
        wire.AccountList(accounts=[present.account_body(a) for a in accounts])
    )


@router.get("/{account_id}")
async def account_details(
    account_id: str,
    bank: Bank,
    _: RequestId,
    consent_id: ConsentId,
    attended: Attended,
    with_balance: WithBalance = False,
) -> JSONResponse:
    """One account's identification."""
    _refuse_balances(with_balance)
    account = bank.account(consent_id, account_id, attended)
    return wire.json_response(present.account_body(account))


@router.get("/{account_id}/balances")
async def balances(account_id: str) -> JSONResponse:
    """Refused, always: this agent never serves balances."""
    raise ServiceInvalid(NO_BALANCES)


@router.get("/{account_id}/transactions")
async def transactions(
    account_id: str,
    bank: Bank,
    _: RequestId,
    consent_id: ConsentId,
    attended: Attended,
    booking_status: Annotated[BookingStatus, Query(alias="bookingStatus")],
    date_from: Annotated[date, Query(alias="dateFrom")],
    date_to: Annotated[date | None, Query(alias="dateTo")] = None,
    page: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    with_balance: WithBalance = False,
) -> JSONResponse:
    """One page of the account's transactions, booked and/or pending."""
    _refuse_balances(with_balance)
    query = TransactionQuery(booking_status, date_from, date_to, page)
    result = bank.transactions(consent_id, account_id, query, attended)
    return wire.json_response(_report(result, query))


def _report(result: TransactionPage, query: TransactionQuery) -> wire.TransactionsBody:
    path = f"/v1/accounts/{result.account.resource_id}"
    links = {"account": wire.Href(href=path)}
    if result.next_page is not None:
        params = {
            "bookingStatus": query.status.value,
            "dateFrom": query.date_from.isoformat(),
            "dateTo": result.date_to.isoformat(),
            "page": result.next_page,
        }
        links["next"] = wire.Href(href=f"{path}/transactions?{urlencode(params)}")
    items = [(t.booked, present.transaction_body(t)) for t in result.items]
    wants_booked = query.status != BookingStatus.PENDING
    wants_pending = query.status != BookingStatus.BOOKED
    report = wire.TransactionReport(
        booked=[body for booked, body in items if booked] if wants_booked else None,
        pending=[body for booked, body in items if not booked] if wants_pending else None,
        links=links,
    )
    account = wire.AccountReference(iban=result.account.iban, currency=result.account.currency)
    return wire.TransactionsBody(account=account, transactions=report)


def _refuse_balances(with_balance: bool) -> None:
    if with_balance:
        raise FormatError(NO_BALANCES)
