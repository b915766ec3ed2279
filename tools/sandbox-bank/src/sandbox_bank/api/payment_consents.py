"""Payment consent routes: a standing mandate the member grants once at the bank.

Rules: creation needs PSU-ID and TPP-Redirect-URI; the member approves at the same
`/sca/{authorisationId}` page as for AIS consents (or headless `…/authorise`); a consent is
only visible to its own PSU (another PSU-ID gets CONSENT_UNKNOWN); DELETE ends it
`terminatedByTpp`. The consent id is the bearer secret and never reaches the browser.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from sandbox_bank.api import pis_schemas as pis
from sandbox_bank.api import schemas as wire
from sandbox_bank.api.deps import Bank, PsuId, RequestId, redirect_uri
from sandbox_bank.api.present import amount
from sandbox_bank.domain.errors import FormatError
from sandbox_bank.domain.model import ConsentStatus
from sandbox_bank.domain.pis import MandateView
from sandbox_bank.domain.pis_model import Frequency, MandateTerms

router = APIRouter(prefix="/v1/payment-consents")
Decision = Annotated[Literal["approve", "deny"], Query()]


@router.post("", status_code=201)
async def create_payment_consent(
    body: pis.PaymentConsentRequest,
    request: Request,
    bank: Bank,
    _: RequestId,
    psu_id: PsuId,
    tpp_redirect: Annotated[str, Header(alias="TPP-Redirect-URI")],
    tpp_nok_redirect: Annotated[str | None, Header(alias="TPP-Nok-Redirect-URI")] = None,
) -> JSONResponse:
    """Create a payment consent in status `received` and hand back the member's SCA link."""
    limit = body.periodic_limit
    terms = MandateTerms(
        debtor_iban=body.debtor_account.iban,
        currency=body.max_amount_per_payment.currency,
        max_per_payment=body.max_amount_per_payment.value,
        period_limit=limit.value,
        frequency=Frequency(limit.frequency),
        valid_until=body.valid_until,
        redirect_uri=redirect_uri(tpp_redirect, "TPP-Redirect-URI"),
        nok_redirect_uri=tpp_nok_redirect
        and redirect_uri(tpp_nok_redirect, "TPP-Nok-Redirect-URI"),
    )
    if limit.currency != terms.currency:
        raise FormatError("maxAmountPerPayment and periodicLimit must share one currency")
    consent = bank.pis.create_consent(psu_id, terms)
    base = bank.settings.public_base_url or str(request.base_url)
    links = _links(consent.consent_id)
    links["scaRedirect"] = wire.Href(href=f"{base.rstrip('/')}/sca/{consent.authorisation_id}")
    created = pis.PaymentConsentCreated(
        consent_status=consent.status.value, consent_id=consent.consent_id, links=links
    )
    headers = {"Location": links["self"].href, "ASPSP-SCA-Approach": "REDIRECT"}
    return wire.json_response(created, 201, headers)


@router.post("/{consent_id}/authorise")
async def authorise_payment_consent(
    consent_id: str, bank: Bank, _: RequestId, psu_id: PsuId, decision: Decision = "approve"
) -> JSONResponse:
    """Headless SCA for tests: the consent becomes `valid` (or `rejected`)."""
    consent = bank.pis.authorise_consent(psu_id, consent_id, approve=decision == "approve")
    return wire.json_response(pis.PaymentConsentStatus(consent_status=consent.status.value))


@router.get("/{consent_id}/status")
async def payment_consent_status(
    consent_id: str, bank: Bank, _: RequestId, psu_id: PsuId
) -> JSONResponse:
    """The payment consent's status."""
    view = bank.pis.consent(psu_id, consent_id)
    return wire.json_response(pis.PaymentConsentStatus(consent_status=view.consent.status.value))


@router.get("/{consent_id}")
async def get_payment_consent(
    consent_id: str, bank: Bank, _: RequestId, psu_id: PsuId
) -> JSONResponse:
    """The consent's terms (validUntil as capped), status, and use in the current period."""
    return wire.json_response(_body(bank.pis.consent(psu_id, consent_id)))


@router.delete("/{consent_id}", status_code=204)
async def delete_payment_consent(
    consent_id: str, bank: Bank, _: RequestId, psu_id: PsuId
) -> Response:
    """The TPP ends the consent; payments under it are then rejected CONSENT_INVALID."""
    bank.pis.end_consent(psu_id, consent_id, ConsentStatus.TERMINATED_BY_TPP)
    return Response(status_code=204)


def _links(consent_id: str) -> dict[str, wire.Href]:
    path = f"/v1/payment-consents/{consent_id}"
    return {"self": wire.Href(href=path), "status": wire.Href(href=f"{path}/status")}


def _body(view: MandateView) -> pis.PaymentConsentBody:
    terms = view.consent.terms
    limit = amount(terms.period_limit, terms.currency)
    return pis.PaymentConsentBody(
        debtor_account=wire.AccountReference(iban=terms.debtor_iban, currency=terms.currency),
        max_amount_per_payment=amount(terms.max_per_payment, terms.currency),
        periodic_limit=pis.LimitBody(
            currency=limit.currency, amount=limit.amount, frequency=terms.frequency.value
        ),
        valid_until=terms.valid_until,
        consent_status=view.consent.status.value,
        used_in_current_period=amount(view.used, terms.currency),
        current_period=pis.Period(date_from=view.period[0], date_to=view.period[1]),
        links=_links(view.consent.consent_id),
    )
