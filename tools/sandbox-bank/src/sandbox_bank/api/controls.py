"""Sandbox-only controls under /sandbox: time, consent outcomes, data volume, faults.

Rules: these routes exist for tests and benchmarks and are not part of Berlin Group; they need
no X-Request-ID and can be switched off (`SANDBOX_BANK_ENABLE_CONTROLS=false`).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox_bank.api import present
from sandbox_bank.api import schemas as wire
from sandbox_bank.api.deps import Bank, Faults
from sandbox_bank.domain.credentials import test_password
from sandbox_bank.domain.faults import Fault, FaultKind
from sandbox_bank.domain.merchants import CREDIT_IN_CODE, DIRECT_DEBIT_CODE
from sandbox_bank.domain.model import ConsentStatus, TransactionDraft

router = APIRouter(prefix="/sandbox")


class ClockAdvance(wire.WireModel):
    """Body of POST /sandbox/clock."""

    advance_seconds: float = Field(ge=0, le=10 * 366 * 24 * 3600)


class FaultRequest(wire.WireModel):
    """Body of POST /sandbox/faults."""

    kind: FaultKind
    count: int = Field(1, ge=1, le=10_000)
    path_prefix: str = Field("/v1/", min_length=1)
    delay_seconds: float | None = Field(None, ge=0, le=3600)
    retry_after_seconds: int | None = Field(None, ge=0)


@router.get("/clock")
async def clock(bank: Bank) -> dict[str, str]:
    """Current sandbox time."""
    return {"now": bank.clock.now().isoformat()}


@router.post("/clock")
async def advance_clock(body: ClockAdvance, bank: Bank) -> dict[str, str]:
    """Move sandbox time forward (expiry, booking of pending transactions, 24 h windows)."""
    return {"now": bank.clock.advance(body.advance_seconds).isoformat()}


@router.post("/consents/{consent_id}/expire")
async def expire_consent(consent_id: str, bank: Bank) -> dict[str, str]:
    """The consent expires now; AIS calls then get CONSENT_EXPIRED."""
    return {"consentStatus": bank.end_consent(consent_id, ConsentStatus.EXPIRED).status.value}


@router.post("/consents/{consent_id}/revoke")
async def revoke_consent(consent_id: str, bank: Bank) -> dict[str, str]:
    """The member revokes the consent at the bank; AIS calls then get CONSENT_INVALID."""
    consent = bank.end_consent(consent_id, ConsentStatus.REVOKED_BY_PSU)
    return {"consentStatus": consent.status.value}


@router.get("/consents/{consent_id}/usage")
async def consent_usage(consent_id: str, bank: Bank) -> dict[str, Any]:
    """Unattended reads counted in the last 24 h, by account id (`accounts` for the list)."""
    consent = bank.consent(consent_id)
    return {"frequencyPerDay": consent.frequency_per_day, "unattended": bank.usage(consent_id)}


@router.get("/psus/{psu_id}/accounts")
async def psu_accounts(psu_id: str, bank: Bank) -> dict[str, Any]:
    """The PSU's accounts (generated on first sight) with their transaction counts."""
    listed = bank.psu_accounts(psu_id)
    return {"accounts": [_with_count(account, count) for account, count in listed]}


@router.get("/psus/{psu_id}/credentials")
async def psu_credentials(psu_id: str, bank: Bank) -> dict[str, str]:
    """The sandbox PSU's test credentials for embedded SCA (deterministic, see the README)."""
    return {"psuId": psu_id, "password": test_password(bank.settings.seed, psu_id)}


@router.post("/psus/{psu_id}/generate")
async def generate(
    psu_id: str,
    bank: Bank,
    count: Annotated[int, Query(ge=1, le=50_000)] = 3000,
    seed: Annotated[int | None, Query()] = None,
    days: Annotated[int, Query(ge=1, le=730)] = 90,
) -> dict[str, Any]:
    """Add `count` booked transactions to each of the PSU's accounts, over the last `days`."""
    chosen_seed = bank.settings.seed if seed is None else seed
    totals = bank.generate(psu_id, count, chosen_seed, days)
    return {"added": count, "totals": totals}


@router.post("/accounts/{account_id}/transactions", status_code=201)
async def append_transaction(
    account_id: str, body: wire.AppendTransaction, bank: Bank
) -> JSONResponse:
    """File one specific transaction (booked, or pending until its delay or book-pending)."""
    day = body.value_date or bank.clock.today()
    code = DIRECT_DEBIT_CODE if body.amount < 0 else CREDIT_IN_CODE
    draft = TransactionDraft(
        amount=body.amount,
        counterparty_name=body.counterparty_name,
        counterparty_iban=body.counterparty_iban,
        remittance=body.remittance_information_unstructured or body.counterparty_name.upper(),
        bank_transaction_code=code,
        value_date=day,
        booking_date=day if body.booking_status == "booked" else None,
        transaction_id=body.transaction_id,
    )
    tx = bank.append(account_id, draft)
    return wire.json_response(present.transaction_body(tx), 201)


@router.post("/accounts/{account_id}/book-pending")
async def book_pending(
    account_id: str,
    bank: Bank,
    transaction_id: Annotated[str | None, Query(alias="transactionId")] = None,
) -> dict[str, list[str]]:
    """Book one pending transaction (or all), keeping its transactionId."""
    booked = bank.book_pending(account_id, transaction_id)
    return {"booked": [tx.transaction_id for tx in booked]}


@router.post("/faults", status_code=201)
async def plan_fault(body: FaultRequest, bank: Bank, faults: Faults) -> dict[str, Any]:
    """Plan a fault for the next `count` requests under `pathPrefix`."""
    delay = bank.settings.fault_delay_seconds if body.delay_seconds is None else body.delay_seconds
    fault = Fault(body.kind, body.count, body.path_prefix, delay, body.retry_after_seconds)
    faults.add(fault)
    return _fault_body(fault)


@router.get("/faults")
async def planned_faults(faults: Faults) -> dict[str, Any]:
    """Faults still planned."""
    return {"faults": [_fault_body(f) for f in faults.planned()]}


@router.delete("/faults", status_code=204)
async def clear_faults(faults: Faults) -> Response:
    """Drop every planned fault."""
    faults.clear()
    return Response(status_code=204)


def _with_count(account: Any, count: int) -> dict[str, Any]:
    body = present.account_body(account).model_dump(mode="json", by_alias=True)
    return {**body, "transactionCount": count}


def _fault_body(fault: Fault) -> dict[str, Any]:
    return {
        "kind": fault.kind.value,
        "remaining": fault.remaining,
        "pathPrefix": fault.path_prefix,
        "delaySeconds": fault.delay_seconds,
        "retryAfterSeconds": fault.retry_after_seconds,
    }
