"""The desktop client's HTTP side: log in against auth like any client, upload to archive.

Rules: the password and codes are sent to auth only and never printed or stored; the access
token lives in memory and is refreshed with the refresh token when archive says it expired;
an upload that meets a temporary failure (503, 429, connection lost) is retried with back-off,
every attempt under the same Idempotency-Key (one per file upload), so an attempt whose answer
was lost but which archive stored is not archived a second time by the next; a refusal (4xx) is
final and reported with the server's problem detail.
"""

from __future__ import annotations

import asyncio
import mimetypes
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

Prompt = Callable[[str, bool], str]
"""Ask the user something: (question, secret) -> answer."""


class ClientError(Exception):
    """A final failure, with a message fit for the user."""


@dataclass
class Outcome:
    path: Path
    ok: bool
    detail: str
    receipt_id: str | None = None


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("title") or response.status_code)
    except ValueError:
        return f"HTTP {response.status_code}"


class ReceiptsClient:
    def __init__(
        self, auth: httpx.AsyncClient, archive: httpx.AsyncClient, *, attempts: int = 5,
        backoff: float = 1.0,
    ) -> None:  # fmt: skip
        self._auth, self._archive = auth, archive
        self._attempts, self._backoff = attempts, backoff
        self._access: str | None = None
        self._refresh: str | None = None

    def use_token(self, access_token: str) -> None:
        self._access = access_token

    async def login(self, email: str, password: str, prompt: Prompt) -> None:
        answer = await self._auth.post("/v1/login", json={"email": email, "password": password})
        if answer.status_code != 200:
            raise ClientError(f"login refused: {_problem(answer)}")
        body = answer.json()
        if body.get("second_factor_required"):
            body = {"tokens": await self._second_factor(body, prompt)}
        self._keep(body["tokens"])

    async def _second_factor(self, login: dict[str, Any], prompt: Prompt) -> dict[str, Any]:
        methods = login.get("methods") or ["totp"]
        method = methods[0]
        if len(methods) > 1:
            method = await asyncio.to_thread(prompt, f"second factor {methods}: ", False)
        if method == "sms":
            await self._auth.post("/v1/login/sms", json={"ticket": login["ticket"]})
        code = await asyncio.to_thread(prompt, f"{method} code: ", True)
        answer = await self._auth.post(
            "/v1/login/second-factor",
            json={"ticket": login["ticket"], "method": method, "code": code},
        )
        if answer.status_code != 200:
            raise ClientError(f"second factor refused: {_problem(answer)}")
        tokens: dict[str, Any] = answer.json()
        return tokens

    def _keep(self, tokens: dict[str, Any]) -> None:
        self._access, self._refresh = tokens["access_token"], tokens.get("refresh_token")

    async def _refreshed(self) -> bool:
        if not self._refresh:
            return False
        answer = await self._auth.post("/v1/token/refresh", json={"refresh_token": self._refresh})
        if answer.status_code != 200:
            return False
        self._keep(answer.json())
        return True

    async def upload(self, path: Path, fields: dict[str, str] | None = None) -> Outcome:
        content = await asyncio.to_thread(path.read_bytes)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        key = str(uuid.uuid4())
        for attempt in range(1, self._attempts + 1):
            try:
                answer = await self._post(path.name, content, ctype, fields or {}, key)
            except httpx.TransportError as exc:
                answer = None
                reason = f"connection failed ({type(exc).__name__})"
            if answer is not None and answer.status_code == 401 and await self._refreshed():
                answer = await self._post(path.name, content, ctype, fields or {}, key)
            if answer is not None and answer.status_code in (201, 202):
                body = answer.json()
                return Outcome(path, True, body["status"], body["receipt_id"])
            if answer is not None and answer.status_code not in (429, 502, 503, 504):
                return Outcome(path, False, _problem(answer))
            reason = _problem(answer) if answer is not None else reason
            if attempt < self._attempts:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        return Outcome(path, False, f"gave up after {self._attempts} attempts: {reason}")

    def _post(
        self, name: str, content: bytes, ctype: str, fields: dict[str, str], key: str
    ) -> Awaitable[httpx.Response]:
        headers = {"Idempotency-Key": key}
        if self._access:
            headers["Authorization"] = f"Bearer {self._access}"
        return self._archive.post(
            "/v1/receipts", files={"file": (name, content, ctype)}, data=fields, headers=headers
        )
