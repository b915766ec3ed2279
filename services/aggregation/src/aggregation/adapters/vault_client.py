"""The vault over HTTP, with this service's identity, for consent tokens (`psd2-consent`).

Rules: a token is stored under the member (the vault's subject) with a fresh random secret id,
which is the only reference aggregation keeps. Calls carry a short-lived service token for the
audience `vault`. 404 and 410 (unknown secret, erased member) are `ConsentSecretMissing`;
transport failures and 5xx are `VaultUnavailable`; anything else is a programming or policy
error and is reported as unavailable too, with its status, never with a value.

Contract (services/vault/src/vault/entrypoints/http.py):
    PUT    /v1/subjects/{subject}/secrets/{purpose}/{secret_id}  {"value": base64url}
    GET    /v1/subjects/{subject}/secrets/{purpose}/{secret_id}  -> {"value": base64url}
    DELETE /v1/subjects/{subject}/secrets/{purpose}/{secret_id}  -> 204
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any
from urllib.parse import quote

import httpx
from common.http.peers import Refusal, call_peer

from aggregation.domain.errors import ConsentSecretMissing, VaultUnavailable

PURPOSE = "psd2-consent"
GONE: dict[int, Refusal] = {
    404: lambda _: ConsentSecretMissing(),
    410: lambda _: ConsentSecretMissing(),
}


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _from_b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class HttpVaultClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def _path(self, user_id: str, ref: str) -> str:
        return f"/v1/subjects/{quote(user_id, safe='')}/secrets/{PURPOSE}/{quote(ref, safe='')}"

    async def store(self, user_id: str, token: str) -> str:
        ref = "psd2c-" + secrets.token_hex(16)
        await self._request("PUT", self._path(user_id, ref), {"value": _b64u(token.encode())})
        return ref

    async def read(self, user_id: str, ref: str) -> str:
        data = await self._request("GET", self._path(user_id, ref))
        value = data.get("value")
        try:
            if not isinstance(value, str):
                raise ValueError("no value")
            return _from_b64u(value).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise VaultUnavailable("the vault sent an unreadable answer") from None

    async def delete(self, user_id: str, ref: str) -> None:
        await self._request("DELETE", self._path(user_id, ref))

    async def _request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return await call_peer(
            self._client, method, path, body=body, peer="vault", unavailable=VaultUnavailable,
            refusals=GONE,
        )  # fmt: skip
