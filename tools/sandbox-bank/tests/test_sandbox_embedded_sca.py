"""Embedded SCA: the PSU's credentials, sealed for the agent, authorise an AIS consent."""

import base64
import json
from typing import Any

import httpx
import pytest
from common.security.client_encryption import RecipientKey, seal_b64
from cryptography.hazmat.primitives.asymmetric import x25519
from sandbox_bank import SandboxSettings, create_app
from sandbox_bank.testing import bg_headers, consent_request, error_code, sandbox_client

PSU = "member-1"


async def create_embedded(client: httpx.AsyncClient, psu_id: str = PSU) -> dict[str, Any]:
    headers = {**bg_headers(), "PSU-ID": psu_id, "TPP-Redirect-Preferred": "false"}
    body = {**consent_request("2999-01-01"), "access": {"accounts": [], "transactions": []}}
    created = await client.post("/v1/consents", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["ASPSP-SCA-Approach"] == "EMBEDDED"
    answer: dict[str, Any] = created.json()
    return answer


async def sealed(
    client: httpx.AsyncClient, bind: str, psu_id: str = PSU, password: str | None = None
) -> str:
    jwk = (await client.get("/v1/psu-credentials/keys")).json()["keys"][0]
    if password is None:
        password = (await client.get(f"/sandbox/psus/{psu_id}/credentials")).json()["password"]
    plaintext = json.dumps({"psuId": psu_id, "password": password}).encode()
    return seal_b64(plaintext, RecipientKey.from_jwk(jwk), subject=bind, purpose="bank-credentials")


async def authorise(client: httpx.AsyncClient, consent_id: str, envelope: str) -> httpx.Response:
    body = {"psuData": {"encryptedPassword": envelope}}
    return await client.post(
        f"/v1/consents/{consent_id}/authorisations", json=body, headers=bg_headers()
    )


@pytest.mark.unit
@pytest.mark.asyncio
async def test_embedded_consent_is_authorised_by_the_psus_sealed_credentials(
    client: httpx.AsyncClient,
) -> None:
    created = await create_embedded(client)
    consent_id, authorisation_id = created["consentId"], created["authorisationId"]

    done = await authorise(client, consent_id, await sealed(client, authorisation_id))

    assert "scaRedirect" not in created["_links"]
    assert created["_links"]["startAuthorisationWithEncryptedPsuAuthentication"]["href"] == (
        f"/v1/consents/{consent_id}/authorisations"
    )
    assert done.status_code == 201
    assert (done.json()["scaStatus"], done.json()["consentStatus"]) == ("finalised", "valid")
    accounts = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert accounts.status_code == 200
    assert accounts.json()["accounts"]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_wrong_credentials_are_refused_and_reject_the_consent_after_three_attempts(
    client: httpx.AsyncClient,
) -> None:
    created = await create_embedded(client)
    consent_id, authorisation_id = created["consentId"], created["authorisationId"]
    wrong = await sealed(client, authorisation_id, password="not-the-password")

    attempts = [await authorise(client, consent_id, wrong) for _ in range(3)]
    right = await authorise(client, consent_id, await sealed(client, authorisation_id))

    assert [(r.status_code, error_code(r)) for r in attempts] == [
        (401, "PSU_CREDENTIALS_INVALID")
    ] * 3
    assert "not-the-password" not in "".join(r.text for r in attempts)
    assert (right.status_code, error_code(right)) == (401, "CONSENT_INVALID")
    status = await client.get(f"/v1/consents/{consent_id}/status", headers=bg_headers())
    assert status.json()["consentStatus"] == "rejected"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_credentials_of_another_psu_do_not_authorise_the_consent(
    client: httpx.AsyncClient,
) -> None:
    created = await create_embedded(client)

    other = await sealed(client, created["authorisationId"], psu_id="member-2")
    refused = await authorise(client, created["consentId"], other)

    assert (refused.status_code, error_code(refused)) == (401, "PSU_CREDENTIALS_INVALID")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_credentials_sealed_for_another_authorisation_do_not_open_and_do_not_count(
    client: httpx.AsyncClient,
) -> None:
    first, second = await create_embedded(client), await create_embedded(client)
    for_first = await sealed(client, first["authorisationId"])

    misdirected = [await authorise(client, second["consentId"], for_first) for _ in range(3)]
    garbage = await authorise(client, second["consentId"], "AAAA")
    right = await authorise(
        client, second["consentId"], await sealed(client, second["authorisationId"])
    )

    assert {(r.status_code, error_code(r)) for r in [*misdirected, garbage]} == {
        (400, "FORMAT_ERROR")
    }
    assert right.status_code == 201


@pytest.mark.unit
@pytest.mark.asyncio
async def test_credentials_in_clear_are_refused(client: httpx.AsyncClient) -> None:
    created = await create_embedded(client)
    body = {"psuData": {"password": "whatever"}}

    refused = await client.post(
        f"/v1/consents/{created['consentId']}/authorisations", json=body, headers=bg_headers()
    )

    assert (refused.status_code, error_code(refused)) == (400, "FORMAT_ERROR")
    assert "whatever" not in refused.text


@pytest.mark.unit
@pytest.mark.asyncio
async def test_embedded_consent_is_not_authorised_without_credentials(
    client: httpx.AsyncClient,
) -> None:
    created = await create_embedded(client)

    headless = await client.post(
        f"/v1/consents/{created['consentId']}/authorise", headers=bg_headers()
    )
    page = await client.get(f"/sca/{created['authorisationId']}")

    assert (headless.status_code, error_code(headless)) == (400, "FORMAT_ERROR")
    assert (page.status_code, error_code(page)) == (404, "RESOURCE_UNKNOWN")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_redirect_consent_is_not_authorised_with_credentials(
    client: httpx.AsyncClient,
) -> None:
    headers = {**bg_headers(), "PSU-ID": PSU, "TPP-Redirect-URI": "https://tpp.test/cb"}
    created = await client.post("/v1/consents", json=consent_request("2999-01-01"), headers=headers)

    refused = await authorise(client, created.json()["consentId"], "AAAA")

    assert created.headers["ASPSP-SCA-Approach"] == "REDIRECT"
    assert (refused.status_code, error_code(refused)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_a_configured_agent_key_is_the_one_published() -> None:
    private = x25519.X25519PrivateKey.generate()
    raw = base64.urlsafe_b64encode(private.private_bytes_raw()).rstrip(b"=").decode()
    public = base64.urlsafe_b64encode(private.public_key().public_bytes_raw()).rstrip(b"=")

    async with sandbox_client(create_app(SandboxSettings(credential_key=raw))) as client:
        keys = (await client.get("/v1/psu-credentials/keys")).json()["keys"]

    assert [k["x"] for k in keys] == [public.decode()]
    assert keys[0]["kid"].startswith("agent-x25519-")
    assert "d" not in keys[0]
