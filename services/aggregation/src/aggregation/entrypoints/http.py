"""Aggregation's member API: thin routes over the use cases.

Rule: each route authenticates the member, parses input, calls one use case and shapes the
answer; every error is an RFC 9457 problem with a stable code.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from aggregation.container import Container
from aggregation.entrypoints import schemas as s
from aggregation.entrypoints.members import Member, client_ip
from aggregation.service import connections, feed, sync

router = APIRouter(prefix="/v1", tags=["aggregation"])


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def current_member(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Member:
    return await container(request).members.authenticate(authorization)


def member_ip(request: Request) -> str:
    return client_ip(request, container(request).settings.member_ip_header)


CurrentMember = Annotated[Member, Depends(current_member)]
MemberIp = Annotated[str, Depends(member_ip)]


@router.post("/connections", status_code=201, response_model=s.StartOut)
async def start_connection(body: s.StartIn, member: CurrentMember, request: Request) -> s.StartOut:
    """Ask the bank for a consent; send the member to `redirect_url` to approve it."""
    started = await connections.start_connection(
        container(request).ctx, member.user_id, psu_id=body.psu_id
    )
    return s.StartOut(
        connection_id=started.connection_id,
        redirect_url=started.redirect_url,
        expires_at=started.state_expires_at,
    )


@router.post("/connections/callback", response_model=s.ConnectionOut)
async def connection_callback(
    body: s.CallbackIn, member: CurrentMember, ip: MemberIp, request: Request
) -> s.ConnectionOut:
    """The member is back from the bank with `state`: complete the connection."""
    c = container(request)
    view = await connections.complete_callback(c.ctx, member.user_id, body.state, ip)
    if view.connection.is_active and c.settings.initial_sync:
        work = sync.sync_connection(c.ctx, view.connection, member_ip=ip)
        c.spawn(work, name=f"initial-sync-{view.connection.connection_id}")
    return s.ConnectionOut.of(view)


@router.get("/connections", response_model=s.ConnectionsOut)
async def list_connections(member: CurrentMember, request: Request) -> s.ConnectionsOut:
    views = await connections.list_connections(container(request).ctx, member.user_id)
    return s.ConnectionsOut(connections=[s.ConnectionOut.of(v) for v in views])


@router.get("/connections/{connection_id}", response_model=s.ConnectionOut)
async def get_connection(
    connection_id: uuid.UUID, member: CurrentMember, request: Request
) -> s.ConnectionOut:
    view = await connections.get_connection(container(request).ctx, member.user_id, connection_id)
    return s.ConnectionOut.of(view)


@router.delete("/connections/{connection_id}", status_code=204)
async def revoke_connection(
    connection_id: uuid.UUID, member: CurrentMember, request: Request
) -> Response:
    """Disconnect: the consent ends at the bank and its token is deleted."""
    await connections.revoke_connection(container(request).ctx, member.user_id, connection_id)
    return Response(status_code=204)


@router.post("/connections/{connection_id}/refresh", response_model=s.RefreshOut)
async def refresh_connection(
    connection_id: uuid.UUID, member: CurrentMember, ip: MemberIp, request: Request
) -> s.RefreshOut:
    """Pull now, with the member present (not counted against the daily unattended limit)."""
    report = await sync.refresh_connection(
        container(request).ctx, member.user_id, connection_id, ip
    )
    return s.RefreshOut(
        accounts=report.accounts,
        added=report.added,
        modified=report.modified,
        removed=report.removed,
    )


@router.get("/transactions/sync", response_model=s.FeedOut)
async def transactions_sync(
    member: CurrentMember,
    request: Request,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]*$",
            description="next_cursor of the previous page (URL-safe base64).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=feed.MAX_PAGE)] = 100,
) -> s.FeedOut:
    """What was added, modified and removed since `cursor` (from the beginning without one)."""
    page = await feed.changes_since(container(request).ctx, member.user_id, cursor, limit)
    return s.FeedOut(
        added=[s.TransactionOut.of(r) for r in page.added],
        modified=[s.TransactionOut.of(r) for r in page.modified],
        removed=[
            s.RemovedOut(transaction_ref=r.transaction_ref, account_ref=r.account_ref)
            for r in page.removed
        ],
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )
