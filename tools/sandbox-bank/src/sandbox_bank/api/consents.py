"""Consent routes: creation, the member's SCA at the bank, status, authorisation, deletion.

Rules: the scaRedirect link carries an authorisation id, never the consent id; after SCA the
member is sent back to the TPP-Redirect-URI exactly as the TPP gave it (its `state` included),
or to TPP-Nok-Redirect-URI on refusal. The TPP learns the outcome from the consent status.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from sandbox_bank.api import present
from sandbox_bank.api import schemas as wire
from sandbox_bank.api.deps import Bank, RequestId, redirect_uri
from sandbox_bank.domain.errors import FormatError
from sandbox_bank.domain.model import ConsentAccess, ConsentStatus, ConsentTerms

router = APIRouter()
Decision = Annotated[Literal["approve", "deny"], Query()]


@router.post("/v1/consents", status_code=201)
async def create_consent(
    body: wire.ConsentRequest,
    request: Request,
    bank: Bank,
    _: RequestId,
    psu_id: Annotated[str, Header(alias="PSU-ID", min_length=1)],
    tpp_redirect: Annotated[str | None, Header(alias="TPP-Redirect-URI")] = None,
    tpp_nok_redirect: Annotated[str | None, Header(alias="TPP-Nok-Redirect-URI")] = None,
    redirect_preferred: Annotated[
        Literal["true", "false"], Header(alias="TPP-Redirect-Preferred")
    ] = "true",
) -> JSONResponse:
    """Create a consent in status `received`: redirect SCA link, or embedded SCA (credentials)."""
    embedded = redirect_preferred == "false"
    if not embedded and tpp_redirect is None:
        raise FormatError("TPP-Redirect-URI is required for the redirect approach")
    terms = ConsentTerms(
        recurring=body.recurring_indicator,
        valid_until=body.valid_until,
        frequency_per_day=body.frequency_per_day,
        redirect_uri=tpp_redirect and redirect_uri(tpp_redirect, "TPP-Redirect-URI"),
        nok_redirect_uri=tpp_nok_redirect
        and redirect_uri(tpp_nok_redirect, "TPP-Nok-Redirect-URI"),
        embedded=embedded,
    )
    consent = bank.create_consent(psu_id, _access(body.access), terms)
    links = present.consent_links(consent)
    if embedded:
        href = f"{links['self'].href}/authorisations"
        links["startAuthorisationWithEncryptedPsuAuthentication"] = wire.Href(href=href)
    else:
        base = bank.settings.public_base_url or str(request.base_url)
        href = f"{base.rstrip('/')}/sca/{consent.authorisation_id}"
        links["scaRedirect"] = wire.Href(href=href)
    created = wire.ConsentCreated(
        consent_status=consent.status.value,
        consent_id=consent.consent_id,
        authorisation_id=consent.authorisation_id if embedded else None,
        links=links,
    )
    approach = "EMBEDDED" if embedded else "REDIRECT"
    headers = {"Location": links["self"].href, "ASPSP-SCA-Approach": approach}
    return wire.json_response(created, 201, headers)


@router.get("/sca/{authorisation_id}")
async def sca_redirect(
    authorisation_id: str, bank: Bank, decision: Decision = "approve"
) -> Response:
    """The member approves (or denies) at the bank, then goes back to the TPP."""
    outcome = bank.sca(authorisation_id, approve=decision == "approve")
    target = outcome.redirect_uri
    if not outcome.approved:
        target = outcome.nok_redirect_uri or outcome.redirect_uri
    return RedirectResponse(target, status_code=302)


@router.post("/v1/consents/{consent_id}/authorise")
async def authorise(
    consent_id: str, bank: Bank, _: RequestId, decision: Decision = "approve"
) -> JSONResponse:
    """Headless SCA for tests: the consent becomes `valid` (or `rejected`)."""
    consent = bank.authorise(consent_id, approve=decision == "approve")
    body = wire.ConsentStatusBody(consent_status=consent.status.value, sca_status="finalised")
    return wire.json_response(body)


@router.get("/v1/consents/{consent_id}/status")
async def consent_status(consent_id: str, bank: Bank, _: RequestId) -> JSONResponse:
    """The consent's status."""
    consent = bank.consent(consent_id)
    return wire.json_response(wire.ConsentStatusBody(consent_status=consent.status.value))


@router.get("/v1/consents/{consent_id}")
async def get_consent(consent_id: str, bank: Bank, _: RequestId) -> JSONResponse:
    """The consent's terms and status (validUntil as capped by the bank)."""
    return wire.json_response(present.consent_body(bank.consent(consent_id)))


@router.delete("/v1/consents/{consent_id}", status_code=204)
async def delete_consent(consent_id: str, bank: Bank, _: RequestId) -> Response:
    """The TPP ends the consent; later use is CONSENT_INVALID."""
    bank.end_consent(consent_id, ConsentStatus.TERMINATED_BY_TPP)
    return Response(status_code=204)


def _access(access: wire.AccessRequest) -> ConsentAccess:
    """Rules: no balances; allPsd2 excludes lists; an empty list is bank-offered; the scope is
    kept as asked (account access alone does not reach transactions)."""
    if access.balances is not None:
        raise FormatError("balances are not offered by this agent")
    lists = (access.accounts, access.transactions)
    if access.all_psd2 is not None:
        if any(items is not None for items in lists):
            raise FormatError("allPsd2 cannot be combined with account lists")
        return ConsentAccess(all_psd2=True)
    if all(items is None for items in lists):
        raise FormatError("access names no accounts and no allPsd2")
    return ConsentAccess(accounts=_ibans(access.accounts), transactions=_ibans(access.transactions))


def _ibans(refs: list[wire.AccountReference] | None) -> frozenset[str] | None:
    return None if refs is None else frozenset(ref.iban for ref in refs)
