"""Postgres repository for tenants' OIDC clients and logins in flight.

All SQL for these tables lives here. The client credential (secret or private JWK) is sealed,
bound to its tenant; a login's PKCE verifier is sealed, bound to its state digest.
"""

# ruff: noqa: S608 -- column lists are module constants, every value is a bound parameter

from __future__ import annotations

import json
import uuid

import asyncpg

from auth.adapters.sealing import SecretBox
from auth.domain.oidc import OidcClient, PendingLogin

CLIENT_COLUMNS = (
    "tenant_id, issuer, client_id, client_auth, redirect_uri, scopes, algorithms, "
    "link_verified_email, credential_sealed, created_at"
)


class PgOidc:
    def __init__(self, conn: asyncpg.Connection, box: SecretBox) -> None:
        self.conn = conn
        self.box = box

    async def client(self, tenant_id: uuid.UUID) -> OidcClient | None:
        row = await self.conn.fetchrow(
            f"SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE tenant_id = $1", tenant_id
        )
        if row is None:
            return None
        credential = json.loads(self.box.open(row["credential_sealed"], f"oidc-client:{tenant_id}"))
        return OidcClient(
            tenant_id=row["tenant_id"],
            issuer=row["issuer"],
            client_id=row["client_id"],
            client_auth=row["client_auth"],
            redirect_uri=row["redirect_uri"],
            created_at=row["created_at"],
            scopes=tuple(row["scopes"]),
            algorithms=tuple(row["algorithms"]),
            link_verified_email=row["link_verified_email"],
            client_secret=credential.get("secret"),
            private_jwk=credential.get("jwk"),
        )

    async def save_client(self, c: OidcClient) -> None:
        credential = {"secret": c.client_secret} if c.client_secret else {"jwk": c.private_jwk}
        sealed = self.box.seal(json.dumps(credential).encode(), f"oidc-client:{c.tenant_id}")
        await self.conn.execute(
            f"INSERT INTO oidc_clients ({CLIENT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
            "ON CONFLICT (tenant_id) DO UPDATE SET issuer = EXCLUDED.issuer, "
            "client_id = EXCLUDED.client_id, client_auth = EXCLUDED.client_auth, "
            "redirect_uri = EXCLUDED.redirect_uri, scopes = EXCLUDED.scopes, "
            "algorithms = EXCLUDED.algorithms, link_verified_email = EXCLUDED.link_verified_email, "
            "credential_sealed = EXCLUDED.credential_sealed",
            c.tenant_id, c.issuer, c.client_id, c.client_auth, c.redirect_uri, list(c.scopes),
            list(c.algorithms), c.link_verified_email, sealed, c.created_at,
        )  # fmt: skip

    async def add_login(self, login: PendingLogin) -> None:
        sealed = self.box.seal(login.code_verifier.encode(), f"oidc-login:{login.state_digest}")
        await self.conn.execute(
            "INSERT INTO oidc_logins (state_digest, tenant_id, nonce_digest, browser_digest, "
            "verifier_sealed, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            login.state_digest, login.tenant_id, login.nonce_digest, login.browser_digest,
            sealed, login.expires_at,
        )  # fmt: skip

    async def take_login(self, state_digest: str) -> PendingLogin | None:
        row = await self.conn.fetchrow(
            "DELETE FROM oidc_logins WHERE state_digest = $1 RETURNING tenant_id, nonce_digest, "
            "browser_digest, verifier_sealed, expires_at",
            state_digest,
        )
        if row is None:
            return None
        verifier = self.box.open(row["verifier_sealed"], f"oidc-login:{state_digest}")
        return PendingLogin(
            state_digest=state_digest,
            tenant_id=row["tenant_id"],
            nonce_digest=row["nonce_digest"],
            browser_digest=row["browser_digest"],
            code_verifier=verifier.decode(),
            expires_at=row["expires_at"],
        )
