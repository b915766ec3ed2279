"""Auth's HTTP API: thin routes that parse, call one use case and shape the answer."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from common.security.stepup import Operation
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from auth.domain.accounts import mask_phone
from auth.domain.challenges import Method
from auth.domain.errors import SessionExpired
from auth.domain.sessions import Scope
from auth.entrypoints.deps_http import Caller, any_session, context, get_deps, member
from auth.entrypoints.schemas import (
    AuthorisationOut,
    CodeIn,
    DeleteAccountIn,
    EmailIn,
    LinkIn,
    LoginIn,
    LoginOut,
    MeOut,
    OptionalProofIn,
    PhoneConfirmIn,
    PhoneIn,
    ProofIn,
    RecoveryCodesOut,
    RefreshIn,
    ResetIn,
    SecondFactorIn,
    StepUpIn,
    StepUpOut,
    TicketIn,
    TokensOut,
    TotpOut,
    VerifyIn,
)
from auth.service import (
    erasure,
    factors,
    login,
    password_reset,
    registration,
    reset_factor,
    sessions,
    stepup,
)
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.sessions import TokenPair

router = APIRouter(prefix="/v1", tags=["auth"])
D = Depends(get_deps)
C = Depends(context)
M = Depends(member)
A = Depends(any_session)


def _tokens(pair: TokenPair) -> TokensOut:
    return TokensOut(
        access_token=pair.access_token,
        expires_at=pair.access_expires_at,
        refresh_token=pair.refresh_token,
        session_id=pair.session_id,
        scope=pair.scope.value,
        idle_expires_at=pair.idle_expires_at,
        absolute_expires_at=pair.absolute_expires_at,
    )


NO_STORE = {"Cache-Control": "no-store"}


@router.post("/accounts", status_code=202)
async def register(body: EmailIn, deps: Deps = D, ctx: RequestContext = C) -> dict[str, str]:
    """Start a registration (address only); the same answer whether or not it is taken."""
    await registration.register(deps, body.email, ctx)
    return {"status": "check-your-email"}


@router.post("/accounts/verify", status_code=201)
async def verify(body: VerifyIn, deps: Deps = D, ctx: RequestContext = C) -> dict[str, str]:
    """Redeem the e-mailed link and choose the password: this creates the account."""
    user_id = await registration.complete(deps, body.token, body.password, ctx)
    return {"user_id": str(user_id)}


@router.post("/password-reset", status_code=202)
async def reset_request(body: EmailIn, deps: Deps = D, ctx: RequestContext = C) -> dict[str, str]:
    """Ask for a reset link; the same answer whether or not the address has an account."""
    await password_reset.request_reset(deps, body.email, ctx)
    return {"status": "check-your-email"}


@router.post("/password-reset/complete")
async def reset_complete(body: ResetIn, deps: Deps = D, ctx: RequestContext = C) -> dict[str, int]:
    """Redeem a reset link with the new password (and a second-factor proof when enrolled)."""
    method = Method(body.method) if body.method else None
    revoked = await password_reset.complete_reset(
        deps, body.token, body.password, body.proof, ctx, method
    )
    return {"sessions_revoked": revoked}


@router.post("/password-reset/sms", status_code=202)
async def reset_sms(body: LinkIn, deps: Deps = D, ctx: RequestContext = C) -> dict[str, str]:
    """Text a code to the enrolled phone, as the reset's second factor."""
    sent_to, expires_at = await reset_factor.send_reset_sms(deps, body.token, ctx)
    return {"sent_to": sent_to, "expires_at": expires_at.isoformat()}


@router.post("/login", response_model=LoginOut)
async def post_login(body: LoginIn, deps: Deps = D, ctx: RequestContext = C) -> Any:
    result = await login.login(deps, body.email, body.password, ctx, Scope(body.scope))
    out = LoginOut(
        second_factor_required=result.tokens is None,
        tokens=_tokens(result.tokens) if result.tokens else None,
        ticket=result.ticket,
        methods=result.methods,
        ticket_expires_at=result.ticket_expires_at,
    )
    return JSONResponse(out.model_dump(mode="json"), headers=NO_STORE)


@router.post("/login/sms", status_code=202)
async def login_sms(body: TicketIn, deps: Deps = D, ctx: RequestContext = C) -> dict[str, str]:
    sent_to, expires_at = await login.send_login_sms(deps, body.ticket, ctx)
    return {"sent_to": sent_to, "expires_at": expires_at.isoformat()}


@router.post("/login/second-factor", response_model=TokensOut)
async def second_factor(body: SecondFactorIn, deps: Deps = D, ctx: RequestContext = C) -> Any:
    pair = await login.complete_login(deps, body.ticket, Method(body.method), body.code, ctx)
    return JSONResponse(_tokens(pair).model_dump(mode="json"), headers=NO_STORE)


@router.post("/token/refresh", response_model=TokensOut)
async def refresh(body: RefreshIn, deps: Deps = D, ctx: RequestContext = C) -> Any:
    pair = await sessions.refresh(deps, body.refresh_token, ctx)
    return JSONResponse(_tokens(pair).model_dump(mode="json"), headers=NO_STORE)


@router.post("/logout", status_code=204)
async def logout(caller: Caller = A, deps: Deps = D, ctx: RequestContext = C) -> Response:
    await sessions.logout(deps, caller.user_id, caller.session_id, ctx)
    return Response(status_code=204)


@router.post("/sessions/revoke-all")
async def revoke_all(caller: Caller = M, deps: Deps = D, ctx: RequestContext = C) -> dict[str, int]:
    return {"revoked": await sessions.revoke_all(deps, caller.user_id, ctx)}


@router.get("/me", response_model=MeOut)
async def me(caller: Caller = A, deps: Deps = D) -> MeOut:
    async with deps.uow() as uow:
        account = await uow.accounts.get(caller.user_id)
    if account is None:
        raise SessionExpired()
    return MeOut(
        user_id=account.id,
        email=account.email,
        factors=sorted(account.factors),
        phone=mask_phone(account.phone) if account.phone else None,
        session_id=caller.session_id,
        scope=",".join(sorted(caller.scopes)),
    )


@router.post("/factors/totp", status_code=201, response_model=TotpOut)
async def totp_start(
    body: OptionalProofIn | None = None, caller: Caller = A, deps: Deps = D,
    ctx: RequestContext = C,
) -> Any:  # fmt: skip
    proof = body.proof if body else None
    enrolment = await factors.start_totp(deps, caller.user_id, ctx, proof)
    out = TotpOut(
        secret=enrolment.secret,
        otpauth_uri=enrolment.otpauth_uri,
        qr_png_base64=base64.b64encode(enrolment.qr_png).decode(),
    )
    return JSONResponse(out.model_dump(), status_code=201, headers=NO_STORE)


@router.post("/factors/totp/confirm", response_model=RecoveryCodesOut)
async def totp_confirm(
    body: CodeIn, caller: Caller = A, deps: Deps = D, ctx: RequestContext = C
) -> Any:
    codes = await factors.confirm_totp(deps, caller.user_id, body.code, ctx)
    return JSONResponse({"recovery_codes": codes}, headers=NO_STORE)


@router.post("/factors/sms", status_code=202)
async def sms_start(
    body: PhoneIn, caller: Caller = A, deps: Deps = D, ctx: RequestContext = C
) -> dict[str, str]:
    challenge = await factors.start_phone(deps, caller.user_id, body.phone, ctx, body.proof)
    return {"challenge_id": str(challenge.id), "expires_at": challenge.expires_at.isoformat()}


@router.post("/factors/sms/confirm", response_model=RecoveryCodesOut)
async def sms_confirm(
    body: PhoneConfirmIn, caller: Caller = A, deps: Deps = D, ctx: RequestContext = C
) -> Any:
    codes = await factors.confirm_phone(deps, caller.user_id, body.challenge_id, body.code, ctx)
    return JSONResponse({"recovery_codes": codes}, headers=NO_STORE)


@router.post("/factors/{factor}/remove", status_code=204)
async def remove_factor(
    factor: str, body: ProofIn, caller: Caller = M, deps: Deps = D, ctx: RequestContext = C
) -> Response:
    await factors.remove_factor(deps, caller.user_id, caller.session_id, factor, body.proof, ctx)
    return Response(status_code=204)


@router.post("/factors/recovery-codes", response_model=RecoveryCodesOut)
async def recovery_codes(
    body: ProofIn, caller: Caller = M, deps: Deps = D, ctx: RequestContext = C
) -> Any:
    codes = await factors.regenerate_recovery_codes(deps, caller.user_id, body.proof, ctx)
    return JSONResponse({"recovery_codes": codes}, headers=NO_STORE)


@router.post("/step-up/challenges", status_code=201, response_model=StepUpOut)
async def stepup_start(
    body: StepUpIn, caller: Caller = M, deps: Deps = D, ctx: RequestContext = C
) -> StepUpOut:
    op = body.operation
    operation = Operation(op.kind, op.amount, op.currency, op.payee, op.operation_id)
    started = await stepup.start_stepup(deps, caller.user_id, operation, Method(body.method), ctx)
    return StepUpOut(
        challenge_id=started.challenge_id,
        method=started.method.value,
        expires_at=started.expires_at,
        operation_digest=started.operation_digest,
        sent_to=started.sent_to,
    )


@router.post("/step-up/challenges/{challenge_id}/verify", response_model=AuthorisationOut)
async def stepup_verify(
    challenge_id: uuid.UUID, body: CodeIn, caller: Caller = M, deps: Deps = D,
    ctx: RequestContext = C,
) -> Any:  # fmt: skip
    granted = await stepup.verify_stepup(deps, caller.user_id, challenge_id, body.code, ctx)
    out = AuthorisationOut(
        authorisation=granted.authorisation,
        authorisation_id=granted.authorisation_id,
        expires_at=granted.expires_at,
        operation_digest=granted.operation_digest,
    )
    return JSONResponse(out.model_dump(mode="json"), headers=NO_STORE)


@router.post("/accounts/me/delete", status_code=202)
async def delete_me(
    body: DeleteAccountIn, caller: Caller = M, deps: Deps = D, ctx: RequestContext = C
) -> dict[str, str]:
    request_id = await erasure.delete_account(deps, caller.user_id, body.password, ctx)
    return {"erasure_request_id": request_id}
