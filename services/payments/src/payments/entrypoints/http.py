"""Payments' member API: thin routes over the use cases.

Rule: each route authenticates the member (payment scope, live session), parses input, calls
one use case and shapes the answer; every error is an RFC 9457 problem with a stable code.
"""

from __future__ import annotations

from typing import Annotated, Any

from common.http.problems import problem_response
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from payments.container import Container
from payments.entrypoints import schemas as s
from payments.service import consents, create, payments
from payments.service.create import Requester
from payments.service.drafts import PaymentInput
from payments.service.views import audit_view, consent_view, payment_view

router = APIRouter(prefix="/v1", tags=["payments"])
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
REPLAYED = "Idempotent-Replayed"


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def current_member(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_device_id: Annotated[str | None, Header()] = None,
) -> Requester:
    return await container(request).members.authenticate(authorization, x_device_id)


Member = Annotated[Requester, Depends(current_member)]


@router.post("/payment-consents", status_code=201)
async def start_consent(body: s.ConsentIn, who: Member, request: Request) -> dict[str, Any]:
    """Ask the bank for a standing payment consent; send the member to `redirect_url`."""
    terms = consents.ConsentTerms(
        body.debtor_iban, body.currency, body.max_amount_per_payment, body.periodic_limit,
        body.frequency, body.valid_until, body.psu_id,
    )  # fmt: skip
    started = await consents.start_consent(container(request).ctx, who.user_id, terms)
    return consent_view(started.consent) | {
        "redirect_url": started.redirect_url,
        "state_expires_at": started.consent.state_expires_at,
    }


@router.post("/payment-consents/callback")
async def consent_callback(body: s.CallbackIn, who: Member, request: Request) -> dict[str, Any]:
    """The member is back from the bank with `state`: the consent is active (or refused)."""
    done = await consents.complete_callback(container(request).ctx, who.user_id, body.state)
    return consent_view(done)


@router.get("/payment-consents")
async def list_consents(who: Member, request: Request) -> dict[str, Any]:
    found = await consents.list_consents(container(request).ctx, who.user_id)
    return {"consents": [consent_view(c) for c in found]}


@router.get("/payment-consents/{consent_id}")
async def get_consent(consent_id: Id, who: Member, request: Request) -> dict[str, Any]:
    found = await consents.get_consent(container(request).ctx, who.user_id, consent_id)
    return consent_view(found)


@router.delete("/payment-consents/{consent_id}", status_code=204)
async def revoke_consent(consent_id: Id, who: Member, request: Request) -> Response:
    """Revoke: no payment may use it any more; it ends at the bank and leaves the vault."""
    await consents.revoke_consent(container(request).ctx, who.user_id, consent_id)
    return Response(status_code=204)


@router.post("/payments", status_code=201)
async def create_payment(
    body: s.PaymentIn,
    who: Member,
    request: Request,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    """Create a payment; authorise `operation` with a step-up code, then call /authorise."""
    given = PaymentInput(
        body.kind, body.account_ref, body.amount, body.currency,
        body.creditor.name if body.creditor else None,
        body.creditor.iban if body.creditor else None, body.remittance,
    )  # fmt: skip
    raw = body.model_dump(mode="json")
    answer = await create.create_payment(container(request).ctx, who, idempotency_key, raw, given)
    headers = {REPLAYED: "true"} if answer.replayed else None
    if "error" in answer.body:
        e = dict(answer.body["error"])
        status, code, title = e.pop("status"), e.pop("code"), e.pop("title")
        detail = e.pop("detail", None)
        return problem_response(status, code, title, detail, headers=headers,
                                instance=request.url.path, **e)  # fmt: skip
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get("/payments")
async def list_payments(
    who: Member,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=payments.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    page = await payments.list_payments(container(request).ctx, who.user_id, cursor, limit)
    return {"payments": [payment_view(p) for p in page.payments], "next_cursor": page.next_cursor}


@router.get("/payments/{payment_id}")
async def get_payment(payment_id: Id, who: Member, request: Request) -> dict[str, Any]:
    return payment_view(await payments.get_payment(container(request).ctx, who.user_id, payment_id))


@router.get("/payments/{payment_id}/audit")
async def payment_audit(payment_id: Id, who: Member, request: Request) -> dict[str, Any]:
    """Who did what, when: every step of the payment with its author."""
    entries = await payments.payment_audit(container(request).ctx, who.user_id, payment_id)
    return {"payment_id": payment_id, "entries": [audit_view(e) for e in entries]}


@router.post("/payments/{payment_id}/authorise")
async def authorise_payment(
    payment_id: Id, body: s.AuthoriseIn, who: Member, request: Request
) -> dict[str, Any]:
    """Authorise with the step-up authorisation auth gave for exactly this operation."""
    c = container(request)
    done = await payments.authorise_payment(c.ctx, who, payment_id, body.stepup_token)
    c.kick()
    return payment_view(done)


@router.post("/payments/{payment_id}/cancel")
async def cancel_payment(payment_id: Id, who: Member, request: Request) -> dict[str, Any]:
    """Cancel a payment that has not been sent to the bank."""
    done = await payments.cancel_payment(container(request).ctx, who, payment_id)
    return payment_view(done)
