"""The vault's document data keys over HTTP, with this service's identity.

Rules: each receipt has its own vault subject, so its key can be destroyed alone; calls carry
a short-lived service token for the audience `vault`; transport failures and 5xx are
`VaultUnavailable` (the receipt waits and is retried); 410 (the subject's keys destroyed) is
`ReceiptShredded`; a wrapped key the vault rejects is an `IntegrityMismatch`. Plain keys are
never logged or put in an error.

Contract (services/vault/README.md):
    POST /v1/subjects/{s}/data-keys          {"purpose":"document"}
                                             -> {document_key_id, plaintext, wrapped}
    POST /v1/subjects/{s}/data-keys/unwrap   {"purpose":"document","wrapped"} -> {plaintext}
    POST /v1/subjects/{s}/data-keys/destroy  {"purpose":"document"} -> 200
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import quote

import httpx
from common.http.peers import Refusal, call_peer

from archive.domain.errors import IntegrityMismatch, ReceiptShredded, VaultUnavailable
from archive.service.ports import DocumentKey

PURPOSE = "document"

REFUSALS: dict[int, Refusal] = {
    410: lambda _: ReceiptShredded("this receipt's key was destroyed"),
    422: lambda _: IntegrityMismatch("the vault rejected this receipt's wrapped key"),
}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64u(text: object) -> bytes:
    if not isinstance(text, str):
        raise VaultUnavailable("the vault sent an unreadable answer")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raise VaultUnavailable("the vault sent an unreadable answer") from None


class HttpDocumentKeys:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def generate(self, subject: str) -> DocumentKey:
        data = await self._post(subject, "", {"purpose": PURPOSE})
        key = from_b64u(data.get("plaintext"))
        if len(key) != 32:
            raise VaultUnavailable("the vault sent an unreadable answer")
        return DocumentKey(str(data.get("document_key_id")), key, from_b64u(data.get("wrapped")))

    async def unwrap(self, subject: str, wrapped: bytes) -> bytes:
        data = await self._post(subject, "/unwrap", {"purpose": PURPOSE, "wrapped": b64u(wrapped)})
        return from_b64u(data.get("plaintext"))

    async def destroy(self, subject: str) -> None:
        await self._post(subject, "/destroy", {"purpose": PURPOSE})

    async def _post(self, subject: str, suffix: str, body: dict[str, str]) -> dict[str, Any]:
        path = f"/v1/subjects/{quote(subject, safe='')}/data-keys{suffix}"
        return await call_peer(
            self._client, "POST", path, body=body, peer="vault", unavailable=VaultUnavailable,
            refusals=REFUSALS,
        )  # fmt: skip
