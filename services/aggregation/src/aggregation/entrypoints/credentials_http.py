"""Sealed bank credentials in aggregation's member API: the vault's public key, storing the
member's sealed credentials, and connecting a bank by embedded SCA with them.

Rules: every route needs the member's access token; the envelope is checked for shape only
(base64url) and goes to the vault untouched; nothing here logs or echoes it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from aggregation.container import Container
from aggregation.entrypoints import schemas as s
from aggregation.entrypoints.http import CurrentMember, MemberIp, container
from aggregation.service import embedded
from aggregation.service.embedded import CredentialContext

router = APIRouter(prefix="/v1", tags=["aggregation"])
INFO_FORMAT = "coffre-vault/seal/v1|<kid>|<subject>|<purpose>"


class SealingKeysOut(BaseModel):
    keys: list[dict[str, str]] = Field(description="The vault's public sealing keys (JWK).")
    subject: str = Field(description="Bind the seal to this subject (the member's id).")
    purpose: str = Field(description="Bind the seal to this purpose.")
    info: str = Field(INFO_FORMAT, description="HPKE info / AES-GCM AAD to seal with.")


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sealed: str = Field(
        min_length=16,
        max_length=96 * 1024,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The credentials sealed on the device for the vault (base64url envelope, "
        'plaintext JSON {"psuId", "password"}); see the vault README for the format.',
    )


def credentials(request: Request) -> CredentialContext:
    c: Container = container(request)
    return c.credentials


@router.get("/bank-credentials/public-key", response_model=SealingKeysOut)
async def public_key(member: CurrentMember, request: Request) -> SealingKeysOut:
    """The vault's public key(s) to seal bank credentials with, and what to bind them to."""
    keys = await embedded.sealing_keys(credentials(request), member.user_id)
    return SealingKeysOut(keys=keys.keys, subject=keys.subject, purpose=keys.purpose)


@router.put("/bank-credentials", status_code=204)
async def store_credentials(
    body: CredentialsIn, member: CurrentMember, request: Request
) -> Response:
    """Store the member's sealed bank credentials (replacing any); only the agent reads them."""
    await embedded.store_credentials(credentials(request), member.user_id, body.sealed)
    return Response(status_code=204)


@router.delete("/bank-credentials", status_code=204)
async def delete_credentials(member: CurrentMember, request: Request) -> Response:
    await embedded.delete_credentials(credentials(request), member.user_id)
    return Response(status_code=204)


@router.post("/connections/embedded", status_code=201, response_model=s.ConnectionOut)
async def connect_embedded(
    body: s.StartIn, member: CurrentMember, ip: MemberIp, request: Request
) -> s.ConnectionOut:
    """Connect a bank with the stored credentials (embedded SCA): active at once, then a pull."""
    c = container(request)
    view = await embedded.connect_embedded(c.ctx, c.credentials, member.user_id, body.psu_id, ip)
    if c.settings.initial_sync:
        work = embedded.first_pull(c.ctx, view.connection, ip)
        c.spawn(work, name=f"initial-sync-{view.connection.connection_id}")
    return s.ConnectionOut.of(view)
