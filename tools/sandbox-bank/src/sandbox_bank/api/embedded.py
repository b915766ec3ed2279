"""Embedded SCA routes: the agent's public key for sealed credentials, and consent
authorisation with the PSU's sealed credentials.

Rules: the key is public (no X-Request-ID needed); an authorisation needs X-Request-ID and
`psuData.encryptedPassword` (credentials are never taken in clear); wrong credentials are
401 PSU_CREDENTIALS_INVALID, an envelope the agent cannot open is 400 FORMAT_ERROR. Nothing
about the credentials is ever logged or echoed.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from sandbox_bank.api import schemas as wire
from sandbox_bank.api.deps import Bank, RequestId
from sandbox_bank.domain.errors import ResourceUnknown
from sandbox_bank.domain.model import ConsentStatus

router = APIRouter()
SCA_STATUS = {ConsentStatus.RECEIVED: "received", ConsentStatus.VALID: "finalised"}


class PsuData(wire.WireModel):
    """The PSU's credentials, sealed for the agent (base64url envelope)."""

    encrypted_password: str = Field(min_length=1, max_length=8192)


class AuthorisationRequest(wire.WireModel):
    """Body of POST /v1/consents/{id}/authorisations."""

    psu_data: PsuData


class AuthorisationBody(wire.WireModel):
    """An authorisation's SCA status, and the consent's."""

    sca_status: str
    authorisation_id: str
    consent_status: str
    links: dict[str, wire.Href] = Field(alias="_links")


@router.get("/v1/psu-credentials/keys")
async def credential_keys(bank: Bank) -> dict[str, Any]:
    """The agent's public key(s) for sealing PSU credentials (JWK set)."""
    return {"keys": [bank.agent_key.jwk()]}


@router.post("/v1/consents/{consent_id}/authorisations", status_code=201)
async def authorise_with_credentials(
    consent_id: str, body: AuthorisationRequest, bank: Bank, _: RequestId
) -> JSONResponse:
    """Embedded SCA: the sealed credentials authorise the consent (`finalised`, `valid`)."""
    consent = bank.authorise_with_credentials(consent_id, body.psu_data.encrypted_password)
    return wire.json_response(_body(consent_id, consent.authorisation_id, consent.status), 201)


@router.get("/v1/consents/{consent_id}/authorisations/{authorisation_id}")
async def authorisation_status(
    consent_id: str, authorisation_id: str, bank: Bank, _: RequestId
) -> JSONResponse:
    """Where the consent's embedded authorisation stands."""
    consent = bank.consent(consent_id)
    if not consent.embedded or consent.authorisation_id != authorisation_id:
        raise ResourceUnknown("no authorisation with this id for this consent")
    return wire.json_response(_body(consent_id, authorisation_id, consent.status))


def _body(consent_id: str, authorisation_id: str, status: ConsentStatus) -> AuthorisationBody:
    href = f"/v1/consents/{consent_id}/authorisations/{authorisation_id}"
    return AuthorisationBody(
        sca_status=SCA_STATUS.get(status, "failed"),
        authorisation_id=authorisation_id,
        consent_status=status.value,
        links={"scaStatus": wire.Href(href=href)},
    )
