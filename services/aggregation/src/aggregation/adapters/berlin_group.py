"""The PSD2 agent over HTTP, speaking Berlin Group NextGenPSD2 (AIS).

Rules:
- Consents ask for account and transaction access only (empty lists: the accounts the member
  picks at the bank), never balances; reads never ask `withBalance`.
- Every call has its own X-Request-ID and a deadline. A call the agent may have done work for
  (timeout, truncated answer) is retried only when repeating it is harmless: reads the member
  is present for, follow-up pages, status reads and deletions. Consent creation and the first
  page of an unattended read (which the bank counts) are retried only when refused before any
  work (connection refused, 5xx). Retries back off exponentially, honouring Retry-After.
- 429 is `AgentRateLimited` (no retry here: the scheduler reschedules); 401/403 consent codes
  are `ConsentEnded` with a reason; other 4xx are `AgentRefused`.
- `_links.next` is followed only as a path on the agent's own host, so the consent id in the
  headers never goes elsewhere. The consent id is never logged.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from aggregation.adapters import berlin_group_parse as parse
from aggregation.domain.errors import (
    AgentRateLimited,
    AgentRefused,
    AgentUnavailable,
    ConsentEnded,
)
from aggregation.service.ports import BankAccount, BankTransaction, ConsentInfo, CreatedConsent

CONSENT_ENDED = {
    "CONSENT_INVALID": "revoked",
    "CONSENT_EXPIRED": "expired",
    "CONSENT_UNKNOWN": "unknown",
}
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
MAX_PAGES = 5_000


class Retry(Enum):
    ALWAYS = "always"
    BEFORE_WORK = "before-work"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    timeout: float = 10.0


class _Transient(Exception):
    def __init__(self, reason: str, before_work: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.before_work = before_work
        self.retry_after = retry_after


class BerlinGroupAgent:
    def __init__(
        self,
        client: httpx.AsyncClient,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self.calls = 0

    async def create_consent(
        self,
        *,
        psu_id: str,
        redirect_uri: str,
        nok_redirect_uri: str,
        valid_until: date,
        frequency_per_day: int,
    ) -> CreatedConsent:
        body = {
            "access": {"accounts": [], "transactions": []},
            "recurringIndicator": True,
            "validUntil": valid_until.isoformat(),
            "frequencyPerDay": frequency_per_day,
            "combinedServiceIndicator": False,
        }
        headers = {
            "PSU-ID": psu_id,
            "TPP-Redirect-URI": redirect_uri,
            "TPP-Nok-Redirect-URI": nok_redirect_uri,
            "TPP-Redirect-Preferred": "true",
        }
        data = await self._call("POST", "/v1/consents", Retry.BEFORE_WORK, headers, json=body)
        token, sca = parse.created_consent(data)
        return CreatedConsent(token=token, sca_redirect=sca)

    async def consent(self, token: str) -> ConsentInfo:
        data = await self._call("GET", f"/v1/consents/{_segment(token)}", Retry.ALWAYS)
        return parse.consent_info(data)

    async def accounts(self, token: str, member_ip: str | None) -> list[BankAccount]:
        headers = _ais_headers(token, member_ip)
        mode = Retry.ALWAYS if member_ip else Retry.BEFORE_WORK
        return parse.accounts(await self._call("GET", "/v1/accounts", mode, headers))

    async def transactions(
        self, token: str, resource_id: str, date_from: date, member_ip: str | None
    ) -> list[BankTransaction]:
        url: str | None = f"/v1/accounts/{_segment(resource_id)}/transactions"
        params: dict[str, str] | None = {"bookingStatus": "both", "dateFrom": date_from.isoformat()}
        mode = Retry.ALWAYS if member_ip else Retry.BEFORE_WORK
        items: list[BankTransaction] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            headers = _ais_headers(token, member_ip)
            data = await self._call("GET", url, mode, headers, params=params)
            page, href = parse.transaction_page(data)
            items += page
            url, params, mode = self._own_path(href), None, Retry.ALWAYS
        raise AgentUnavailable("the agent's pages never end", reason="too-many-pages")

    async def delete_consent(self, token: str) -> None:
        await self._call("DELETE", f"/v1/consents/{_segment(token)}", Retry.ALWAYS)

    def _own_path(self, href: str | None) -> str | None:
        if href is None:
            return None
        parts = urlsplit(href)
        base = self._client.base_url
        foreign = (parts.scheme, parts.netloc) != (base.scheme, base.netloc.decode())
        if (parts.scheme or parts.netloc) and foreign:
            raise parse.malformed("a next link to another host")
        if not parts.path.startswith("/") or parts.path.startswith("//"):
            raise parse.malformed("a next link that is not a path")
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def _call(
        self,
        method: str,
        url: str,
        mode: Retry,
        headers: dict[str, str] | None = None,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        policy = self._retry
        for attempt in range(1, policy.attempts + 1):
            try:
                return await self._once(method, url, headers or {}, params, json)
            except _Transient as exc:
                retryable = mode is Retry.ALWAYS or exc.before_work
                if not retryable or attempt == policy.attempts:
                    raise AgentUnavailable(
                        f"the agent failed ({exc.reason})", reason=exc.reason
                    ) from None
                await self._sleep(self._backoff(attempt, exc.retry_after))
        raise AssertionError("unreachable")

    async def _once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
    ) -> dict[str, Any]:
        self.calls += 1
        sent = {"X-Request-ID": str(uuid.uuid4()), "Accept": "application/json", **headers}
        try:
            async with asyncio.timeout(self._retry.timeout):
                response = await self._client.request(
                    method, url, headers=sent, params=params, json=body
                )
        except (TimeoutError, httpx.TimeoutException):
            raise _Transient("timeout", before_work=False) from None
        except httpx.ConnectError:
            raise _Transient("unreachable", before_work=True) from None
        except httpx.TransportError:
            raise _Transient("transport", before_work=False) from None
        return _read(response)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        policy = self._retry
        factor: int = 2 ** (attempt - 1)
        delay = min(policy.max_delay, policy.base_delay * factor)
        delay *= 0.5 + random.random() / 2
        if retry_after is not None and retry_after <= policy.max_delay:
            delay = max(delay, retry_after)
        return delay


def _read(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if 200 <= status < 300:
        if status == 204 or not response.content:
            return {}
        try:
            return parse.json_object(response.content)
        except AgentUnavailable:
            raise _Transient("malformed", before_work=False) from None
    code = parse.error_code(response.content)
    retry_after = _retry_after(response)
    if status == 429:
        raise AgentRateLimited(
            "the bank's access limit is reached", retry_after=int(retry_after or 60)
        )
    if status in (401, 403) and code in CONSENT_ENDED:
        raise ConsentEnded("the bank no longer accepts this consent", reason=CONSENT_ENDED[code])
    if status in RETRYABLE_STATUS:
        raise _Transient(f"status-{status}", before_work=True, retry_after=retry_after)
    raise AgentRefused(f"the agent answered {status}", agent_status=status, agent_code=code or "")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _ais_headers(token: str, member_ip: str | None) -> dict[str, str]:
    headers = {"Consent-ID": token}
    if member_ip is not None:
        headers["PSU-IP-Address"] = member_ip
    return headers


def _segment(value: str) -> str:
    return quote(value, safe="")
