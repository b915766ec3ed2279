"""The member's bank over HTTP, speaking Berlin Group NextGenPSD2 payment initiation (PIS).

Rules:
- Every call has an ``X-Request-ID`` and ``PSU-ID``; a payment's submission always uses the
  request id derived from the payment, so sending it again returns the payment the bank
  already has (never a second one).
- A call is retried here only when the bank surely did nothing (connection refused, 503/500
  before any work is not knowable, so only connection errors) or when repeating is harmless
  (status reads, deletions). Anything else is ``BankUnavailable`` and the caller decides.
- 401/403 with a consent code is ``BankConsentEnded``; other 4xx ``BankRefused`` with the
  bank's code. The consent id (a bearer secret) is never logged or put in an error.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from payments.domain.errors import BankConsentEnded, BankRefused, BankUnavailable
from payments.service.ports import BankStatus, ConsentRequest, CreatedConsent, PaymentOrder

CONSENT_CODES = frozenset({"CONSENT_INVALID", "CONSENT_EXPIRED", "CONSENT_UNKNOWN"})
STATUSES = frozenset({"RCVD", "ACTC", "ACSC", "RJCT", "ACCP", "ACSP", "PDNG"})
CONSENT_STATUSES = frozenset(
    {"received", "valid", "rejected", "expired", "revokedByPsu", "terminatedByTpp"}
)


class BerlinGroupBank:
    def __init__(self, client: httpx.AsyncClient, timeout: float = 10.0, attempts: int = 3) -> None:
        self._client = client
        self._timeout = timeout
        self._attempts = attempts

    async def create_consent(self, request: ConsentRequest) -> CreatedConsent:
        body = {
            "debtorAccount": {"iban": request.debtor_iban},
            "maxAmountPerPayment": {"currency": request.currency,
                                    "amount": str(request.max_per_payment)},
            "periodicLimit": {"currency": request.currency, "amount": str(request.periodic_limit),
                              "frequency": request.frequency},
            "validUntil": request.valid_until.isoformat(),
        }  # fmt: skip
        headers = {
            "PSU-ID": request.psu_id,
            "TPP-Redirect-URI": request.redirect_uri,
            "TPP-Nok-Redirect-URI": request.nok_redirect_uri,
        }
        data = await self._call("POST", "/v1/payment-consents", headers, body, repeatable=False)
        token, links = data.get("consentId"), data.get("_links")
        sca = links.get("scaRedirect") if isinstance(links, dict) else None
        href = sca.get("href") if isinstance(sca, dict) else None
        if not isinstance(token, str) or not token or not isinstance(href, str):
            raise BankUnavailable("the bank's consent answer is incomplete", reason="malformed")
        return CreatedConsent(token=token, sca_redirect=href)

    async def consent_status(self, token: str, psu_id: str) -> str:
        path = f"/v1/payment-consents/{_seg(token)}/status"
        data = await self._call("GET", path, {"PSU-ID": psu_id})
        status = data.get("consentStatus")
        if status not in CONSENT_STATUSES:
            raise BankUnavailable("the bank sent an unknown consent status", reason="malformed")
        return str(status)

    async def delete_consent(self, token: str, psu_id: str) -> None:
        await self._call("DELETE", f"/v1/payment-consents/{_seg(token)}", {"PSU-ID": psu_id})

    async def submit(self, order: PaymentOrder) -> BankStatus:
        body: dict[str, Any] = {
            "debtorAccount": {"iban": order.debtor_iban},
            "instructedAmount": {"currency": order.currency, "amount": order.amount},
            "creditorName": order.creditor_name,
            "creditorAccount": {"iban": order.creditor_iban},
        }
        if order.remittance:
            body["remittanceInformationUnstructured"] = order.remittance
        headers = {"PSU-ID": order.psu_id, "Consent-ID": order.token}
        data = await self._call(
            "POST", "/v1/payments/sepa-credit-transfers", headers, body,
            request_id=order.request_id,
        )  # fmt: skip
        bank_id = data.get("paymentId")
        if not isinstance(bank_id, str) or not bank_id:
            raise BankUnavailable("the bank's payment answer has no id", reason="malformed")
        return _status(data, bank_id)

    async def status(self, token: str, psu_id: str, bank_payment_id: str) -> BankStatus:
        path = f"/v1/payments/sepa-credit-transfers/{_seg(bank_payment_id)}/status"
        data = await self._call("GET", path, {"PSU-ID": psu_id, "Consent-ID": token})
        return _status(data, bank_payment_id)

    async def _call(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
        *,
        repeatable: bool = True,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        for attempt in range(1, self._attempts + 1):
            rid = request_id or str(uuid.uuid4())
            sent = {"X-Request-ID": rid, "Accept": "application/json", **headers}
            try:
                async with asyncio.timeout(self._timeout):
                    response = await self._client.request(method, path, headers=sent, json=body)
            except httpx.ConnectError:
                if attempt == self._attempts:
                    raise BankUnavailable("the bank is unreachable", before_work=True) from None
                continue
            except (TimeoutError, httpx.HTTPError):
                if repeatable and attempt < self._attempts and method != "POST":
                    continue
                raise BankUnavailable("the bank did not answer in time", reason="timeout") from None
            return _read(response)
        raise AssertionError("unreachable")


def _read(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status == 204 or (200 <= status < 300 and not response.content):
        return {}
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = None
    if 200 <= status < 300:
        if not isinstance(data, dict):
            raise BankUnavailable("the bank sent an unreadable answer", reason="malformed")
        return data
    code = _code(data)
    if status in (401, 403) and code in CONSENT_CODES:
        raise BankConsentEnded("the bank no longer accepts this consent", bank_code=code)
    if 400 <= status < 500 and status not in (408, 429):
        raise BankRefused(f"the bank answered {status}", bank_code=code or f"HTTP_{status}")
    raise BankUnavailable(f"the bank answered {status}", reason=f"status-{status}")


def _code(data: object) -> str:
    if isinstance(data, dict):
        messages = data.get("tppMessages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            code = messages[0].get("code")
            if isinstance(code, str) and code.isascii() and len(code) <= 64:
                return code
    return ""


def _status(data: dict[str, Any], bank_id: str) -> BankStatus:
    status = data.get("transactionStatus")
    if status not in STATUSES:
        raise BankUnavailable("the bank sent an unknown transaction status", reason="malformed")
    code = _code(data) if status == "RJCT" else ""
    settled = {"ACCP": "ACTC", "ACSP": "ACTC", "PDNG": "ACTC"}.get(str(status), str(status))
    return BankStatus(status=settled, code=code, bank_payment_id=bank_id)


def _seg(value: str) -> str:
    return quote(value, safe="")
