"""Sandbox-only controls for payment initiation: payment consent outcomes, available funds.

Rules: like every /sandbox control, no X-Request-ID and off with ENABLE_CONTROLS=false. The
amount available for payments is only ever read here, never in an AIS answer.
"""

from decimal import Decimal

from fastapi.routing import APIRouter
from pydantic import Field

from sandbox_bank.api import schemas as wire
from sandbox_bank.api.deps import Bank
from sandbox_bank.domain.model import ConsentStatus

router = APIRouter(prefix="/sandbox")


class AvailableFunds(wire.WireModel):
    """Body of PUT /sandbox/accounts/{id}/available-funds."""

    amount: Decimal = Field(ge=0, le=10**12, decimal_places=2)


@router.post("/payment-consents/{consent_id}/expire")
async def expire_payment_consent(consent_id: str, bank: Bank) -> dict[str, str]:
    """The payment consent expires now; payments under it are rejected CONSENT_INVALID."""
    return {"consentStatus": bank.pis.end_consent(None, consent_id, ConsentStatus.EXPIRED).value}


@router.post("/payment-consents/{consent_id}/revoke")
async def revoke_payment_consent(consent_id: str, bank: Bank) -> dict[str, str]:
    """The member revokes the payment consent at the bank: `revokedByPsu`."""
    status = bank.pis.end_consent(None, consent_id, ConsentStatus.REVOKED_BY_PSU)
    return {"consentStatus": status.value}


@router.get("/accounts/{account_id}/available-funds")
async def available_funds(account_id: str, bank: Bank) -> dict[str, str]:
    """The account's amount available for payments."""
    return {"amount": f"{bank.pis.available(account_id):.2f}"}


@router.put("/accounts/{account_id}/available-funds")
async def set_available_funds(account_id: str, body: AvailableFunds, bank: Bank) -> dict[str, str]:
    """Set the account's amount available for payments."""
    return {"amount": f"{bank.pis.set_available(account_id, body.amount):.2f}"}
