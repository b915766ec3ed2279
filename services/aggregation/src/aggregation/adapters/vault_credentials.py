"""The vault over HTTP for sealed bank credentials (`bank-credentials`), with this service's
identity.

Rules:
- One credential set per member at the PSD2 agent, under secret id `psd2-agent`.
- The member's envelope is passed on as it came (`{"sealed"}`); aggregation's vault policy
  lets it write and re-seal, never read: it cannot open what it stores.
- The vault's public keys are cached for `cache_seconds` (one fetch at a time).
- 422 seal problems are `CredentialsSealInvalid`; 404/410 on use are `CredentialsMissing`;
  transport failures and other statuses are `VaultUnavailable`, never with a value.

Contract (services/vault/src/vault/entrypoints/http.py):
    GET  /v1/public-keys -> {"keys": [JWK]}
    PUT  /v1/subjects/{s}/secrets/bank-credentials/psd2-agent {"sealed"}
    POST /v1/subjects/{s}/secrets/bank-credentials/psd2-agent/reseal {"agent","bind"} -> {"sealed"}
    DELETE /v1/subjects/{s}/secrets/bank-credentials/psd2-agent -> 204
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from common.http.peers import Refusal, call_peer

from aggregation.domain.credential_errors import CredentialsMissing, CredentialsSealInvalid
from aggregation.domain.errors import VaultUnavailable

PURPOSE = "bank-credentials"
SECRET_ID = "psd2-agent"
SEAL_PROBLEMS = frozenset(
    {"vault.ciphertext-invalid", "vault.sealing-key-unknown", "vault.seal-required"}
)


def _seal_invalid(response: httpx.Response) -> Exception | None:
    if _problem_code(response) not in SEAL_PROBLEMS:
        return None  # any other 422 is the vault's own failure: unavailable
    return CredentialsSealInvalid(
        "the credentials are not sealed with a current vault key for this member"
    )


REFUSALS: dict[int, Refusal] = {
    404: lambda _: CredentialsMissing(),
    410: lambda _: CredentialsMissing(),
    422: _seal_invalid,
}


class HttpCredentialVault:
    def __init__(
        self,
        client: httpx.AsyncClient,
        agent: str,
        cache_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._agent = agent
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._keys: list[dict[str, str]] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def public_keys(self) -> list[dict[str, str]]:
        async with self._lock:
            fresh = self._monotonic() - self._fetched_at < self._cache_seconds
            if self._keys is None or not fresh:
                data = await self._request("GET", "/v1/public-keys")
                keys = data.get("keys")
                if not isinstance(keys, list) or not keys:
                    raise VaultUnavailable("the vault sent no sealing key")
                self._keys, self._fetched_at = keys, self._monotonic()
                self.fetches += 1
            return list(self._keys)

    async def store_sealed(self, user_id: str, sealed: str) -> None:
        await self._request("PUT", self._path(user_id), {"sealed": sealed})

    async def reseal_for_agent(self, user_id: str, bind: str) -> str:
        body = {"agent": self._agent, "bind": bind}
        data = await self._request("POST", self._path(user_id) + "/reseal", body)
        sealed = data.get("sealed")
        if not isinstance(sealed, str) or not sealed:
            raise VaultUnavailable("the vault sent an unreadable answer")
        return sealed

    async def delete(self, user_id: str) -> None:
        await self._request("DELETE", self._path(user_id))

    def _path(self, user_id: str) -> str:
        return f"/v1/subjects/{quote(user_id, safe='')}/secrets/{PURPOSE}/{SECRET_ID}"

    async def _request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return await call_peer(
            self._client, method, path, body=body, peer="vault", unavailable=VaultUnavailable,
            refusals=REFUSALS,
        )  # fmt: skip


class NoCredentialVault:
    """Without a vault identity (the in-memory development mode) there are no credentials."""

    async def public_keys(self) -> list[dict[str, str]]:
        raise _unavailable()

    async def store_sealed(self, user_id: str, sealed: str) -> None:
        raise _unavailable()

    async def reseal_for_agent(self, user_id: str, bind: str) -> str:
        raise _unavailable()

    async def delete(self, user_id: str) -> None:
        raise _unavailable()


def _unavailable() -> VaultUnavailable:
    return VaultUnavailable("sealed bank credentials need the vault (no service identity set)")


def _problem_code(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else ""
