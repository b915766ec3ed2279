"""The vault's HTTP API (internal only): thin routes over the use cases.

Rule: each route parses its input, calls one use case and shapes the answer; every error is a
problem response from the domain's error tree, and every response carries ``no-store``.
"""

from __future__ import annotations

from datetime import timedelta

from common.errors import CoffreError
from fastapi import APIRouter, Depends, Request, Response

from vault.domain.caller import Caller
from vault.domain.grants import Grant, GrantRequest
from vault.domain.policy import Action
from vault.entrypoints import schemas as s
from vault.entrypoints.answers import unwrap_batch_body
from vault.entrypoints.deps import audit_failure, caller, container
from vault.service import audit, datakeys, grants, reseal, sealing, secrets
from vault.service.context import require_any
from vault.service.secrets import SecretRef, SecretValue

router = APIRouter(prefix="/v1", tags=["vault"])
SECRET_PATH = "/subjects/{subject}/secrets/{purpose}/{secret_id}"


async def _decode(request: Request, text: str | None, field: str) -> bytes | None:
    if text is None:
        return None
    try:
        return s.from_b64u(text, field)
    except CoffreError as exc:
        await audit_failure(request, exc)
        raise


@router.get("/public-keys", response_model=s.PublicKeysOut)
async def public_keys(request: Request, who: Caller = Depends(caller)) -> s.PublicKeysOut:
    """The vault's public sealing keys (JWK) for client-side encryption of credentials."""
    keys = await sealing.public_keys(container(request).ctx)
    return s.PublicKeysOut(keys=[k.to_jwk() for k in keys])


@router.put(SECRET_PATH, response_model=s.StoredOut)
async def put_secret(
    subject: str, purpose: str, secret_id: str, body: s.SecretIn, request: Request,
    who: Caller = Depends(caller),
) -> s.StoredOut:  # fmt: skip
    """Store a secret (in clear over the internal network, or sealed on the client)."""
    value = SecretValue(
        plaintext=await _decode(request, body.value, "value"),
        sealed=await _decode(request, body.sealed, "sealed"),
    )
    ref = SecretRef(subject, purpose, secret_id)
    stored = await secrets.put_secret(container(request).ctx, who, ref, value)
    return s.StoredOut(
        subject=subject, purpose=purpose, secret_id=secret_id,
        key_id=stored.key_id, key_version=stored.key_version,
    )  # fmt: skip


@router.get(SECRET_PATH, response_model=s.ValueOut)
async def read_secret(
    subject: str, purpose: str, secret_id: str, request: Request, who: Caller = Depends(caller)
) -> s.ValueOut:
    """Read a secret's value (audited)."""
    ref = SecretRef(subject, purpose, secret_id)
    return s.ValueOut(value=s.b64u(await secrets.read_secret(container(request).ctx, who, ref)))


@router.delete(SECRET_PATH, status_code=204)
async def delete_secret(
    subject: str, purpose: str, secret_id: str, request: Request, who: Caller = Depends(caller)
) -> Response:
    await secrets.delete_secret(container(request).ctx, who, SecretRef(subject, purpose, secret_id))
    return Response(status_code=204)


@router.post(SECRET_PATH + "/reseal", response_model=s.SealedOut)
async def reseal_secret(
    subject: str, purpose: str, secret_id: str, body: s.ResealIn, request: Request,
    who: Caller = Depends(caller),
) -> s.SealedOut:  # fmt: skip
    """A client-sealed credential sealed again for a pinned PSD2 agent (only it can open it)."""
    c = container(request)
    ref = SecretRef(subject, purpose, secret_id)
    sealed = await reseal.reseal_secret(c.ctx, who, ref, c.agent_keys, body.agent, body.bind)
    return s.SealedOut(sealed=s.b64u(sealed), kid=c.agent_keys[body.agent].kid)


@router.post("/subjects/{subject}/data-keys", response_model=s.DataKeyOut, status_code=201)
async def generate_data_key(
    subject: str, body: s.DataKeyIn, request: Request, who: Caller = Depends(caller)
) -> s.DataKeyOut:
    """A fresh document key: in clear (use once, forget) and wrapped (store beside the document)."""
    key = await datakeys.generate_data_key(container(request).ctx, who, subject, body.purpose)
    return s.DataKeyOut(
        document_key_id=key.document_key_id,
        plaintext=s.b64u(key.plaintext),
        wrapped=s.b64u(key.wrapped),
    )


@router.post("/subjects/{subject}/data-keys/unwrap", response_model=s.DataKeyOut)
async def unwrap_data_key(
    subject: str, body: s.UnwrapIn, request: Request, who: Caller = Depends(caller)
) -> s.DataKeyOut:
    wrapped = await _decode(request, body.wrapped, "wrapped") or b""
    key = await datakeys.unwrap_data_key(
        container(request).ctx, who, subject, body.purpose, wrapped
    )
    return s.DataKeyOut(document_key_id=key.document_key_id, plaintext=s.b64u(key.plaintext))


async def unwrapper(request: Request, who: Caller = Depends(caller)) -> Caller:
    """The caller, refused with 403 before its body is read unless it may unwrap keys."""
    await require_any(container(request).ctx, who, Action.UNWRAP_DATA_KEY)
    return who


@router.post(
    "/data-keys/unwrap-batch",
    response_model=s.UnwrapBatchOut,
    openapi_extra=s.json_request_body(s.UnwrapBatchIn),
)
async def unwrap_batch(request: Request, who: Caller = Depends(unwrapper)) -> Response:
    """Open many wrapped keys in one call (each audited); an item that fails carries its error
    in its place and the others are still answered. The body (``UnwrapBatchIn``) is validated
    straight from its bytes."""
    body = s.parse_body(s.UnwrapBatchIn, await request.body())  # 422, audited by the app
    items = [
        datakeys.UnwrapItem(i.subject, i.purpose, s.from_b64u_or_empty(i.wrapped))
        for i in body.batch_input
    ]
    results = await datakeys.unwrap_many(container(request).ctx, who, items)
    return Response(unwrap_batch_body(results), media_type="application/json")


@router.post("/subjects/{subject}/data-keys/destroy", response_model=s.DestroyedOut)
async def destroy_data_keys(
    subject: str, body: s.DataKeyIn, request: Request, who: Caller = Depends(caller)
) -> s.DestroyedOut:
    """Crypto-shred one of the caller's own document subjects (`<service>-…`)."""
    count = await datakeys.destroy_data_keys(container(request).ctx, who, subject, body.purpose)
    return s.DestroyedOut(destroyed=count)


def _grant_out(grant: Grant) -> s.GrantOut:
    return s.GrantOut(
        grant_id=grant.grant_id, operator=grant.operator, subject=grant.subject,
        purpose=grant.purpose, secret_id=grant.secret_id, consent_ref=grant.consent_ref,
        expires_at=grant.expires_at, max_uses=grant.max_uses, uses=grant.uses,
        ended_at=grant.ended_at, end_reason=str(grant.end_reason) if grant.end_reason else None,
    )  # fmt: skip


async def grant_requester(request: Request, who: Caller = Depends(caller)) -> Caller:
    """The caller, refused with 403 before its body is read unless it may request grants."""
    await grants.may_request_grants(container(request).ctx, who)
    return who


@router.post("/grants", response_model=s.GrantOut, status_code=201)
async def request_grant(
    body: s.GrantIn, request: Request, who: Caller = Depends(grant_requester)
) -> s.GrantOut:
    """Time-boxed access to one secret for one named operator, with the member's consent."""
    grant_request = GrantRequest(
        operator=body.operator, subject=body.subject, purpose=body.purpose,
        secret_id=body.secret_id, reason=body.reason, consent_ref=body.consent_ref,
        ttl=timedelta(seconds=body.ttl_seconds), max_uses=body.max_uses,
    )  # fmt: skip
    return _grant_out(await grants.request_grant(container(request).ctx, who, grant_request))


@router.post("/grants/{grant_id}/use", response_model=s.ValueOut)
async def use_grant(grant_id: str, request: Request, who: Caller = Depends(caller)) -> s.ValueOut:
    """The secret's value for the grant's operator (``X-Coffre-Operator``); each use counts."""
    return s.ValueOut(value=s.b64u(await grants.use_grant(container(request).ctx, who, grant_id)))


@router.post("/grants/{grant_id}/revoke", response_model=s.GrantOut)
async def revoke_grant(
    grant_id: str, request: Request, who: Caller = Depends(caller)
) -> s.GrantOut:
    return _grant_out(await grants.revoke_grant(container(request).ctx, who, grant_id))


@router.get("/audit/head", response_model=s.HeadOut | None)
async def audit_head(request: Request, who: Caller = Depends(caller)) -> s.HeadOut | None:
    """The audit chain's head: keep it outside the vault to catch a rewritten log later."""
    head = await audit.head(container(request).ctx)
    return s.HeadOut(seq=head.seq, hash=head.hash) if head else None
