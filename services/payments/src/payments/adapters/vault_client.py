"""The vault over HTTP, with this service's identity.

Rules: a payment consent (the bank's consent id, the debtor IBAN and the PSU id) is stored
under ``psd2-payment-consent`` with the reference payments keeps; a payment's creditor IBAN
under ``payment-payee`` with the payment id, until the payment is settled. 404 and 410 are
``SecretMissing``; transport failures and other statuses ``VaultUnavailable`` (never a value).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

import httpx
from common.http.peers import Refusal, call_peer

from payments.domain.errors import SecretMissing, VaultUnavailable
from payments.service.ports import ConsentSecret

CONSENT_PURPOSE = "psd2-payment-consent"
PAYEE_PURPOSE = "payment-payee"
GONE: dict[int, Refusal] = {404: lambda _: SecretMissing(), 410: lambda _: SecretMissing()}


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class HttpVaultClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def put_consent(self, user_id: str, ref: str, secret: ConsentSecret) -> None:
        value = {"token": secret.token, "debtor_iban": secret.debtor_iban, "psu_id": secret.psu_id}
        await self._put(user_id, CONSENT_PURPOSE, ref, json.dumps(value))

    async def get_consent(self, user_id: str, ref: str) -> ConsentSecret:
        text = await self._get(user_id, CONSENT_PURPOSE, ref)
        try:
            value = json.loads(text)
            return ConsentSecret(value["token"], value["debtor_iban"], value["psu_id"])
        except (ValueError, KeyError, TypeError):
            raise VaultUnavailable("the vault sent an unreadable consent") from None

    async def delete_consent(self, user_id: str, ref: str) -> None:
        await self._request("DELETE", _path(user_id, CONSENT_PURPOSE, ref))

    async def put_payee(self, user_id: str, payment_id: str, iban: str) -> None:
        await self._put(user_id, PAYEE_PURPOSE, payment_id, iban)

    async def get_payee(self, user_id: str, payment_id: str) -> str:
        return await self._get(user_id, PAYEE_PURPOSE, payment_id)

    async def delete_payee(self, user_id: str, payment_id: str) -> None:
        await self._request("DELETE", _path(user_id, PAYEE_PURPOSE, payment_id))

    async def _put(self, user_id: str, purpose: str, ref: str, text: str) -> None:
        body = {"value": _b64u(text.encode())}
        await self._request("PUT", _path(user_id, purpose, ref), body)

    async def _get(self, user_id: str, purpose: str, ref: str) -> str:
        data = await self._request("GET", _path(user_id, purpose, ref))
        value = data.get("value")
        try:
            if not isinstance(value, str):
                raise ValueError("no value")
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise VaultUnavailable("the vault sent an unreadable answer") from None

    async def _request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return await call_peer(
            self._client, method, path, body=body, peer="vault", unavailable=VaultUnavailable,
            refusals=GONE,
        )  # fmt: skip


def _path(user_id: str, purpose: str, ref: str) -> str:
    return f"/v1/subjects/{quote(user_id, safe='')}/secrets/{purpose}/{quote(ref, safe='')}"
