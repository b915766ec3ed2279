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


# --- payment initiation -----------------------------------------------------------------------

CREDITOR_IBAN = "FR7630006000011234567890189"
PAYMENTS = "/v1/payments/sepa-credit-transfers"


def pis_headers(psu_id: str, consent_id: str | None = None) -> dict[str, str]:
    """Headers of a payment initiation call: a fresh X-Request-ID, PSU-ID and Consent-ID."""
    headers = {**bg_headers(consent_id), "PSU-ID": psu_id}
    return headers


async def own_iban(client: httpx.AsyncClient, psu_id: str) -> str:
    """The IBAN of the PSU's first account (read through the sandbox controls)."""
    response = await client.get(f"/sandbox/psus/{psu_id}/accounts")
    response.raise_for_status()
    iban: str = response.json()["accounts"][0]["iban"]
    return iban


def mandate_request(
    debtor_iban: str,
    *,
    max_per_payment: str = "500.00",
    period_limit: str = "1000.00",
    frequency: str = "month",
    valid_until: str = "2999-12-31",
) -> dict[str, Any]:
    """A payment consent request body in EUR."""
    return {
        "debtorAccount": {"iban": debtor_iban},
        "maxAmountPerPayment": {"currency": "EUR", "amount": max_per_payment},
        "periodicLimit": {"currency": "EUR", "amount": period_limit, "frequency": frequency},
        "validUntil": valid_until,
    }


async def grant_payment_consent(
    client: httpx.AsyncClient,
    psu_id: str,
    *,
    redirect_uri: str = "https://tpp.test/payments/callback?state=p1",
    **terms: str,
) -> tuple[str, str]:
    """Create and authorise (headless) a payment consent on the PSU's first account.

    Returns (consent id, debtor IBAN); `terms` are passed to `mandate_request`.
    """
    iban = await own_iban(client, psu_id)
    headers = {**pis_headers(psu_id), "TPP-Redirect-URI": redirect_uri}
    created = await client.post(
        "/v1/payment-consents", json=mandate_request(iban, **terms), headers=headers
    )
    created.raise_for_status()
    consent_id: str = created.json()["consentId"]
    path = f"/v1/payment-consents/{consent_id}/authorise"
    (await client.post(path, headers=pis_headers(psu_id))).raise_for_status()
    return consent_id, iban


def payment_request(
    debtor_iban: str,
    amount: str,
    *,
    creditor_iban: str = CREDITOR_IBAN,
    creditor_name: str = "Camille Laurent",
    remittance: str = "Coffre payment",
) -> dict[str, Any]:
    """A SEPA credit transfer body in EUR."""
    return {
        "debtorAccount": {"iban": debtor_iban},
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "creditorName": creditor_name,
        "creditorAccount": {"iban": creditor_iban},
        "remittanceInformationUnstructured": remittance,
    }


async def payment_status(client: httpx.AsyncClient, psu_id: str, payment_id: str) -> str:
    """The payment's transactionStatus."""
    response = await client.get(f"{PAYMENTS}/{payment_id}/status", headers=pis_headers(psu_id))
    response.raise_for_status()
    status: str = response.json()["transactionStatus"]
    return status
