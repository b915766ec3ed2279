"""Helpers for tests that drive the sandbox bank in-process (httpx over ASGI, no network).

Rules: each helper works against any app from `create_app`, so aggregation tests can use the
same sandbox as its own tests; `connect` returns a consent id that is already `valid`.
"""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from sandbox_bank.app import create_app

BASE_URL = "http://sandbox-bank.test"
MEMBER_IP = "192.0.2.10"


def sandbox_client(app: FastAPI | None = None) -> httpx.AsyncClient:
    """An httpx client bound to the app (a fresh sandbox if none is given)."""
    transport = httpx.ASGITransport(app=app or create_app())
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


def bg_headers(consent_id: str | None = None, psu_ip: str | None = None) -> dict[str, str]:
    """Headers of a Berlin Group call: a fresh X-Request-ID, and Consent-ID / PSU-IP-Address."""
    headers = {"X-Request-ID": str(uuid.uuid4())}
    if consent_id is not None:
        headers["Consent-ID"] = consent_id
    if psu_ip is not None:
        headers["PSU-IP-Address"] = psu_ip
    return headers


def consent_request(valid_until: str, frequency_per_day: int = 4) -> dict[str, Any]:
    """A recurring allPsd2 consent request body."""
    return {
        "access": {"allPsd2": "allAccounts"},
        "recurringIndicator": True,
        "validUntil": valid_until,
        "frequencyPerDay": frequency_per_day,
    }


async def connect(
    client: httpx.AsyncClient,
    psu_id: str,
    *,
    valid_until: str = "2999-12-31",
    frequency_per_day: int = 4,
    redirect_uri: str = "https://tpp.test/callback?state=s1",
) -> str:
    """Create and authorise (headless) an allPsd2 consent for the PSU; return its id."""
    headers = {**bg_headers(), "PSU-ID": psu_id, "TPP-Redirect-URI": redirect_uri}
    body = consent_request(valid_until, frequency_per_day)
    created = await client.post("/v1/consents", json=body, headers=headers)
    created.raise_for_status()
    consent_id: str = created.json()["consentId"]
    authorised = await client.post(f"/v1/consents/{consent_id}/authorise", headers=bg_headers())
    authorised.raise_for_status()
    return consent_id


def error_code(response: httpx.Response) -> str:
    """The Berlin Group error code of a response."""
    code: str = response.json()["tppMessages"][0]["code"]
    return code


async def first_account(client: httpx.AsyncClient, consent_id: str) -> str:
    """The resource id of the first account the consent reaches (read as an attended call)."""
    response = await client.get("/v1/accounts", headers=bg_headers(consent_id, MEMBER_IP))
    response.raise_for_status()
    account_id: str = response.json()["accounts"][0]["resourceId"]
    return account_id


async def read_all(
    client: httpx.AsyncClient, consent_id: str, account_id: str, **params: str
) -> tuple[list[dict[str, Any]], int]:
    """Every transaction, following `_links.next` (attended); returns (items, pages read)."""
    url: str | None = f"/v1/accounts/{account_id}/transactions"
    query: dict[str, str] | None = {"bookingStatus": "both", "dateFrom": "2000-01-01", **params}
    items: list[dict[str, Any]] = []
    pages = 0
    while url is not None:
        headers = bg_headers(consent_id, MEMBER_IP)
        response = await client.get(url, params=query, headers=headers)
        response.raise_for_status()
        report = response.json()["transactions"]
        items += report.get("booked", []) + report.get("pending", [])
        pages += 1
        url, query = report["_links"].get("next", {}).get("href"), None
    return items, pages
