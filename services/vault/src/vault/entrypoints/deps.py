"""FastAPI dependencies: the container and the calling service (refused, audited, without one).

Rules: every vault route needs a verified service identity (``Authorization: Bearer`` service
token); a call without one is audited with actor ``anonymous`` and refused with 401. The
operator named in ``X-Coffre-Operator`` is recorded with the caller; only grant use relies on it.
"""

from __future__ import annotations

from common.errors import CoffreError, Unauthenticated
from fastapi import Header, Request

from vault.container import Container
from vault.domain.audit import AuditDraft, Outcome
from vault.domain.caller import ANONYMOUS, Caller
from vault.service import audit
from vault.service.context import audit_now


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def route_name(request: Request) -> str:
    """``METHOD /path/{template}``: never the values in the path."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', 'unknown')}"


async def caller(
    request: Request,
    authorization: str | None = Header(None),
    x_coffre_operator: str | None = Header(None, max_length=128),
) -> Caller:
    c = container(request)
    try:
        verified = c.verifier.verify(authorization)
    except Unauthenticated as exc:
        reason = str(exc.extensions.get("reason") or exc.code)
        await audit.refuse_unidentified(c.ctx, route_name(request), reason)
        raise  # pragma: no cover - refuse_unidentified always raises
    service = Caller(verified.name)
    request.state.vault_caller = service
    if x_coffre_operator is None:
        return service
    try:
        return Caller(service.service, x_coffre_operator)
    except CoffreError as exc:
        await audit_failure(request, exc)
        raise


async def audit_failure(request: Request, exc: CoffreError) -> None:
    """Audit a request refused at the edge (bad body, bad header) before any use case ran."""
    who: Caller | None = getattr(request.state, "vault_caller", None)
    await audit_now(
        container(request).ctx,
        AuditDraft(
            actor=who.service if who else ANONYMOUS,
            action=route_name(request),
            outcome=Outcome.FAILED,
            detail={"error": exc.code},
        ),
    )
