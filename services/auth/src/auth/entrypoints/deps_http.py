"""FastAPI dependencies: the container, the request context and the authenticated member."""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from dataclasses import dataclass

from common.errors import CoffreError
from common.logging import get_logger
from common.security.access_tokens import bearer_token
from fastapi import Header, Request

from auth.bootstrap import Container
from auth.domain.errors import InvalidToken, SecondFactorRequired
from auth.service import sessions
from auth.service.context import RequestContext
from auth.service.deps import Deps

log = get_logger(__name__)


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    session_id: uuid.UUID
    scopes: frozenset[str]


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def get_deps(request: Request) -> Deps:
    deps = container(request).deps
    assert deps is not None
    return deps


def client_ip(request: Request, trust_forwarded_for: bool) -> str | None:
    """The client's address: the socket peer, or (behind a trusted proxy) the last
    ``X-Forwarded-For`` entry — the one that proxy appended; earlier entries are the client's
    own claims and would let it pick its address (and dodge per-IP limits)."""
    ip = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if trust_forwarded_for and forwarded:
        with contextlib.suppress(ValueError):
            ip = str(ipaddress.ip_address(forwarded.split(",")[-1].strip()))
    return ip


def context(request: Request) -> RequestContext:
    settings = container(request).settings
    agent = request.headers.get("user-agent")
    if agent is not None:
        agent = "".join(ch for ch in agent if ch.isprintable())
    return RequestContext(ip=client_ip(request, settings.trust_forwarded_for), user_agent=agent)


async def any_session(request: Request, authorization: str | None = Header(None)) -> Caller:
    """A member with a live session of any scope (including enrolment-only)."""
    c = container(request)
    assert c.verifier is not None
    assert c.deps is not None
    try:
        claims = await c.verifier.verify(bearer_token(authorization))
    except CoffreError as exc:
        ip = client_ip(request, c.settings.trust_forwarded_for)
        log.warning("access_token_refused", error_code=exc.code, path=request.url.path, ip=ip)
        raise
    try:
        user_id, session_id = uuid.UUID(claims.subject), uuid.UUID(claims.session_id)
    except ValueError:
        raise InvalidToken() from None
    await sessions.active_session(c.deps, user_id, session_id)
    return Caller(user_id, session_id, claims.scopes)


async def member(request: Request, authorization: str | None = Header(None)) -> Caller:
    """A member with a full session (member or payment scope)."""
    caller = await any_session(request, authorization)
    if not caller.scopes & {"member", "payment"}:
        raise SecondFactorRequired("enrol a second factor first")
    return caller
