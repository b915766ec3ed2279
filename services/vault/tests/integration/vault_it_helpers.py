"""Helpers shared by the vault's integration tests over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI
from vault.service.context import VaultContext

Headers = Callable[..., dict[str, str]]


def app_context(app: FastAPI) -> VaultContext:
    """The running app's use-case context (its container is started)."""
    ctx: VaultContext = app.state.container.ctx
    return ctx


async def document_key(client: httpx.AsyncClient, headers: Headers, member: str) -> dict[str, str]:
    """A new document data key for ``member``, made by archive: its id, plaintext and wrapped."""
    made = await client.post(
        f"/v1/subjects/{member}/data-keys", json={"purpose": "document"}, headers=headers("archive")
    )
    assert made.status_code == 201, made.text
    body: dict[str, str] = made.json()
    return body
