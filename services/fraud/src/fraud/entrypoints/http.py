"""HTTP edge: payment decisions (for payments), the analyst API and security reports.

Rule: each route parses input, checks who calls, calls one use case and maps the result; every
error is a problem response from ``common``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from common.errors import Forbidden
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from fraud.domain.errors import InvalidWeek, ReportNotFound, StaleState
from fraud.domain.records import AlertStatus, Verdict
from fraud.domain.report import Week
from fraud.domain.validation import parse_payment
from fraud.entrypoints.schemas import (
    AlertOut,
    AlertPage,
    DecisionOut,
    DecisionRequest,
    ReportRequest,
    VerdictIn,
)
from fraud.entrypoints.security import Member, analyst, container_of, member, payments_caller
from fraud.service.analyst import Analyst, get_alert, list_alerts, resolve_alert, settle_payment
from fraud.service.decisions import decide_consistently
from fraud.service.reports import fetch_report, generate_report
from fraud.service.scoring import payment_decision

router = APIRouter(prefix="/v1")
Ref = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]
T = TypeVar("T")
RETRIES = 3


async def retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    """Run a use case again when a concurrent transaction changed the same rows first."""
    for _ in range(RETRIES - 1):
        try:
            return await attempt()
        except StaleState:
            continue
    return await attempt()


@router.post("/decisions", response_model=DecisionOut, tags=["decisions"])
async def decide(
    body: DecisionRequest, request: Request, _caller: str = Depends(payments_caller)
) -> DecisionOut:
    """Decide on a payment: execute, hold for an analyst, or refuse (idempotent). The decision
    its account's partition owner makes from the payment's event when it comes within
    ``FRAUD_DECISION_WAIT_SECONDS``, else one made here against the committed state."""
    c = container_of(request)
    activity = parse_payment(
        body.model_dump(),
        owner_ref=body.owner_ref,
        event_id=None,
        now=c.engine.clock(),
        limits=c.engine.limits,
    )
    wait = c.settings.decision_wait_seconds
    decided = await retrying(lambda: decide_consistently(activity, c.uow, c.engine, wait=wait))
    return DecisionOut.of(decided)


@router.get("/decisions/{payment_id}", response_model=DecisionOut, tags=["decisions"])
async def get_decision(
    payment_id: Ref, request: Request, _caller: str = Depends(payments_caller)
) -> DecisionOut:
    """The decision for a payment, as it stands now (held payments change when settled)."""
    return DecisionOut.of(await payment_decision(payment_id, container_of(request).uow()))


@router.post("/decisions/{payment_id}/{action}", response_model=DecisionOut, tags=["analysts"])
async def settle(
    payment_id: Ref,
    action: Literal["release", "cancel"],
    request: Request,
    who: Analyst = Depends(analyst),
) -> DecisionOut:
    """Release (legitimate) or cancel (fraud) a held payment; audited, and teaches the model."""
    c = container_of(request)
    verdict = Verdict.LEGITIMATE if action == "release" else Verdict.FRAUD
    await settle_payment(payment_id, verdict, who, c.uow(), c.engine)
    return DecisionOut.of(await payment_decision(payment_id, c.uow()))


@router.get("/alerts", response_model=AlertPage, tags=["analysts"])
async def alerts(
    request: Request,
    status: Literal["open", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: datetime | None = None,
    _who: Analyst = Depends(analyst),
) -> AlertPage:
    """Alerts, newest first; page with ``before``."""
    found = await list_alerts(
        container_of(request).uow(),
        status=AlertStatus(status) if status else None,
        limit=limit,
        before=before,
    )
    next_before = found[-1].raised_at if len(found) == limit else None
    return AlertPage(alerts=[AlertOut.of(a) for a in found], next_before=next_before)


@router.get("/alerts/{alert_id}", response_model=AlertOut, tags=["analysts"])
async def alert(alert_id: Ref, request: Request, _who: Analyst = Depends(analyst)) -> AlertOut:
    return AlertOut.of(await get_alert(alert_id, container_of(request).uow()))


@router.post("/alerts/{alert_id}/verdict", response_model=AlertOut, tags=["analysts"])
async def verdict(
    alert_id: Ref, body: VerdictIn, request: Request, who: Analyst = Depends(analyst)
) -> AlertOut:
    """Mark an alert fraud or legitimate: audited, teaches the model, settles a held payment."""
    c = container_of(request)
    resolved = await resolve_alert(alert_id, Verdict(body.verdict), who, c.uow(), c.engine)
    return AlertOut.of(resolved)


@router.post("/reports", tags=["reports"])
async def create_report(
    body: ReportRequest, request: Request, caller: Member = Depends(member)
) -> dict[str, Any]:
    """Build (or return) the weekly security report of the caller, or of anyone for analysts."""
    c = container_of(request)
    owner = body.owner_ref or caller.member_id
    if owner != caller.member_id and caller.analyst is None:
        raise Forbidden("only analysts may build another member's report")
    week = _week(body.week, c.engine.clock())
    report = await generate_report(owner, week, c.uow(), c.engine, c.renderer, fresh=body.fresh)
    return report.to_json()


@router.get("/reports/{report_id}", tags=["reports"])
async def get_report(
    report_id: Ref, request: Request, caller: Member = Depends(member)
) -> dict[str, Any]:
    report, _ = await _readable(report_id, request, caller)
    return report


@router.get("/reports/{report_id}/pdf", tags=["reports"], response_class=Response)
async def get_report_pdf(
    report_id: Ref, request: Request, caller: Member = Depends(member)
) -> Response:
    body, pdf = await _readable(report_id, request, caller)
    name = f"security-report-{body['week']}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _readable(
    report_id: str, request: Request, caller: Member
) -> tuple[dict[str, Any], bytes]:
    report, pdf = await fetch_report(report_id, container_of(request).uow())
    if report.owner_ref != caller.member_id and caller.analyst is None:
        raise ReportNotFound("no such report")
    return report.to_json(), pdf


def _week(label: str | None, now: datetime) -> Week:
    if label is None:
        return Week.before(now)
    try:
        week = Week.parse(label)
    except ValueError:
        raise InvalidWeek("not an ISO week") from None
    if week.start > now.date():
        raise InvalidWeek("that week has not started")
    return week
