"""SEPA credit transfer routes: submission, status, the payment, headless SCA.

Rules: every call needs X-Request-ID and PSU-ID; a payment is only visible to its PSU (others
get RESOURCE_UNKNOWN). With a Consent-ID the payment needs no redirect; without one the
TPP-Redirect-URI is required and the member approves at `_links.scaRedirect`. The same
X-Request-ID with the same request answers the first payment's 201 again (the bank never
pays twice); with another request it is FORMAT_ERROR. A rejected payment carries its reason
in `tppMessages`.
"""

import hashlib
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from sandbox_bank.api import pis_schemas as pis
from sandbox_bank.api import schemas as wire
from sandbox_bank.api.deps import Bank, PsuId, RequestId, redirect_uri
from sandbox_bank.api.present import amount
from sandbox_bank.domain.pis import Submission
from sandbox_bank.domain.pis_model import Payment, PaymentOrder, TransactionStatus

router = APIRouter(prefix="/v1/payments/sepa-credit-transfers")
Decision = Annotated[Literal["approve", "deny"], Query()]
OptionalHeader = Annotated[str | None, Header()]


@router.post("", status_code=201)
async def submit_payment(
    body: pis.PaymentRequest,
    request: Request,
    bank: Bank,
    request_id: RequestId,
    psu_id: PsuId,
    consent_id: Annotated[str | None, Header(alias="Consent-ID", min_length=1)] = None,
    tpp_redirect: Annotated[str | None, Header(alias="TPP-Redirect-URI")] = None,
    tpp_nok_redirect: Annotated[str | None, Header(alias="TPP-Nok-Redirect-URI")] = None,
) -> JSONResponse:
    """Submit a credit transfer: 201 RCVD, or the first answer again for a repeated request."""
    submission = Submission(
        request_id=request_id,
        fingerprint=_fingerprint(body, psu_id, consent_id, tpp_redirect, tpp_nok_redirect),
        psu_id=psu_id,
        order=_order(body),
        consent_id=consent_id,
        redirect_uri=tpp_redirect and redirect_uri(tpp_redirect, "TPP-Redirect-URI"),
        nok_redirect_uri=tpp_nok_redirect
        and redirect_uri(tpp_nok_redirect, "TPP-Nok-Redirect-URI"),
    )
    payment = bank.pis.submit(submission)
    links = _links(payment.payment_id)
    headers = {"Location": links["self"].href}
    if payment.authorisation_id is not None:
        base = bank.settings.public_base_url or str(request.base_url)
        href = f"{base.rstrip('/')}/sca/{payment.authorisation_id}"
        links["scaRedirect"] = wire.Href(href=href)
        headers["ASPSP-SCA-Approach"] = "REDIRECT"
    created = pis.PaymentCreated(
        transaction_status=TransactionStatus.RECEIVED.value,
        payment_id=payment.payment_id,
        links=links,
    )
    return wire.json_response(created, 201, headers)


@router.get("/{payment_id}/status")
async def payment_status(payment_id: str, bank: Bank, _: RequestId, psu_id: PsuId) -> JSONResponse:
    """Where the payment is: RCVD, ACTC, ACSC, or RJCT with its reason."""
    payment = bank.pis.payment(psu_id, payment_id)
    body = pis.PaymentStatusBody(
        transaction_status=payment.status.value, tpp_messages=_messages(payment)
    )
    return wire.json_response(body)


@router.get("/{payment_id}")
async def get_payment(payment_id: str, bank: Bank, _: RequestId, psu_id: PsuId) -> JSONResponse:
    """The payment as submitted, and its status."""
    return wire.json_response(_body(bank.pis.payment(psu_id, payment_id)))


@router.post("/{payment_id}/authorise")
async def authorise_payment(
    payment_id: str, bank: Bank, _: RequestId, psu_id: PsuId, decision: Decision = "approve"
) -> JSONResponse:
    """Headless SCA of a payment submitted without a payment consent."""
    payment = bank.pis.authorise_payment(psu_id, payment_id, approve=decision == "approve")
    body = pis.PaymentStatusBody(
        transaction_status=payment.status.value, tpp_messages=_messages(payment)
    )
    return wire.json_response(body)


def _order(body: pis.PaymentRequest) -> PaymentOrder:
    return PaymentOrder(
        debtor_iban=body.debtor_account.iban,
        currency=body.instructed_amount.currency,
        amount=body.instructed_amount.value,
        creditor_name=body.creditor_name,
        creditor_iban=body.creditor_account.iban,
        remittance=body.remittance_information_unstructured,
        end_to_end_id=body.end_to_end_identification,
    )


def _fingerprint(body: pis.PaymentRequest, *headers: str | None) -> str:
    """What makes two submissions the same request: the body and the headers that matter."""
    content = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    canonical = json.dumps([content, list(headers)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _links(payment_id: str) -> dict[str, wire.Href]:
    path = f"{router.prefix}/{payment_id}"
    return {"self": wire.Href(href=path), "status": wire.Href(href=f"{path}/status")}


def _messages(payment: Payment) -> list[pis.TppMessage] | None:
    if payment.reason is None:
        return None
    return [pis.TppMessage(code=payment.reason.value, text=payment.reason_text or "")]


def _body(payment: Payment) -> pis.PaymentBody:
    order = payment.order
    return pis.PaymentBody(
        payment_id=payment.payment_id,
        debtor_account=wire.AccountReference(iban=order.debtor_iban, currency=order.currency),
        instructed_amount=amount(order.amount, order.currency),
        creditor_name=order.creditor_name,
        creditor_account=pis.CreditorAccount(iban=order.creditor_iban),
        remittance_information_unstructured=order.remittance,
        end_to_end_identification=order.end_to_end_id,
        transaction_status=payment.status.value,
        tpp_messages=_messages(payment),
        links=_links(payment.payment_id),
    )
