"""Decryption keys never leave the vault: after every route has been called, no answer, audit
row or outbox event holds the master key, a member's data key or a private sealing key — the
only key that ever leaves is a document key, to the archive, for its own document."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import asyncpg
import httpx
import pytest
from coffre_testing.app import running_app
from common.security import client_encryption as ce
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa, x25519
from vault.entrypoints.app import create_app
from vault.service import sealing
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Headers = Callable[..., dict[str, str]]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forms(key: bytes) -> set[str]:
    return {b64(key), base64.b64encode(key).decode().rstrip("="), key.hex()}


def _raw_private(key: ce.PrivateKey) -> bytes:
    if isinstance(key, x25519.X25519PrivateKey):
        return key.private_bytes_raw()
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


async def _every_route(client: httpx.AsyncClient, headers: Headers, member: str) -> list[str]:
    seen: list[httpx.Response] = []
    consent = f"/v1/subjects/{member}/secrets/psd2-consent/c1"
    seen.append(
        await client.put(consent, json={"value": b64(b"t")}, headers=headers("aggregation"))
    )
    seen.append(await client.get(consent, headers=headers("payments")))
    keys = await client.get("/v1/public-keys", headers=headers("archive"))
    seen.append(keys)
    recipient = ce.RecipientKey.from_jwk(next(k for k in keys.json()["keys"] if k["kty"] == "RSA"))
    sealed = ce.seal_b64(b"login", recipient, subject=member, purpose="bank-credentials")
    creds = f"/v1/subjects/{member}/secrets/bank-credentials/b1"
    seen.append(await client.put(creds, json={"sealed": sealed}, headers=headers("aggregation")))
    seen.append(await client.get(creds, headers=headers("aggregation")))
    made = await client.post(
        f"/v1/subjects/{member}/data-keys", json={"purpose": "document"}, headers=headers("archive")
    )
    seen.append(made)
    seen.append(
        await client.post(
            f"/v1/subjects/{member}/data-keys/unwrap",
            json={"purpose": "document", "wrapped": made.json()["wrapped"]},
            headers=headers("archive"),
        )
    )
    grant = await client.post(
        "/v1/grants",
        json={"operator": "alice", "subject": member, "purpose": "bank-credentials",
              "secret_id": "b1", "reason": "member asked for help, ticket 9",
              "consent_ref": "consent-9", "ttl_seconds": 600, "max_uses": 2},
        headers=headers("backoffice"),
    )  # fmt: skip
    seen.append(grant)
    grant_id = grant.json()["grant_id"]
    seen.append(
        await client.post(f"/v1/grants/{grant_id}/use", headers=headers("backoffice", "alice"))
    )
    seen.append(await client.post(f"/v1/grants/{grant_id}/revoke", headers=headers("backoffice")))
    seen.append(await client.get("/v1/audit/head", headers=headers("fraud")))
    seen.append(await client.delete(consent, headers=headers("aggregation")))
    assert [r.status_code for r in seen] == [200, 200, 200, 200, 403, 201, 200, 201, 200, 200,
                                             200, 204]  # fmt: skip
    return [r.text for r in seen] + [str(dict(r.headers)) for r in seen]


async def test_no_decryption_key_leaves_the_vault(
    vault_settings: VaultSettings, headers: Headers, member: str
) -> None:
    app = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as client:
        texts = await _every_route(client, headers, member)
        ctx = app.state.container.ctx
        secret: set[str] = set()
        async with ctx.uow() as uow:
            secret |= _forms(await ctx.keyring.master_plaintext(uow, 1))
            for key in await uow.data_keys.for_subject(member):
                secret |= _forms(await ctx.keyring.open(uow, key))
            for sealing_key in await uow.sealing_keys.all():
                private = await sealing._private_key(ctx, uow, sealing_key.kid)
                secret |= _forms(_raw_private(private))
    conn = await asyncpg.connect(vault_settings.database_url.get_secret_value())
    try:
        schema = vault_settings.schema_name
        audit = await conn.fetch(f'SELECT a::text AS line FROM "{schema}".audit_log a')
        outbox = await conn.fetch(
            f"SELECT encode(envelope, 'escape') AS line FROM \"{schema}\".outbox"
        )
    finally:
        await conn.close()
    texts += [r["line"] for r in audit] + [r["line"] for r in outbox]
    leaked = [form for form in secret for text in texts if form in text]
    assert leaked == []
