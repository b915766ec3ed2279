"""Use cases for the weekly security report: one owner on demand, every active owner on a
schedule.

Rules: one report per owner and week (asking again returns it, unless a fresh one is asked
for); the JSON facts, the PDF and the ``SecurityReportReady`` event are committed together; the
scheduled run covers the last full week and every owner with activity in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from fraud.domain.errors import ReportNotFound
from fraud.domain.report import Week, WeeklyReport, build_report
from fraud.service import events
from fraud.service.engine import Engine
from fraud.service.ports import ReportRenderer, UnitOfWork


async def generate_report(
    owner_ref: str,
    week: Week,
    uow: UnitOfWork,
    engine: Engine,
    renderer: ReportRenderer,
    *,
    fresh: bool = False,
) -> WeeklyReport:
    async with uow:
        if not fresh:
            existing = await uow.reports.find(owner_ref, week)
            if existing is not None:
                return existing
        now = engine.clock()
        facts = await uow.report_source.facts(owner_ref, week, now)
        report = build_report(engine.new_id(), owner_ref, week, facts, now)
        await uow.reports.add(report, renderer.render(report))
        uow.publish(events.report_ready(report), subject=owner_ref)
        await uow.commit()
    return report


async def weekly_run(
    uow_factory: Callable[[], UnitOfWork],
    engine: Engine,
    renderer: ReportRenderer,
    now: datetime | None = None,
) -> list[WeeklyReport]:
    """Generate last week's report for every owner with activity in it."""
    week = Week.before(now or engine.clock())
    async with uow_factory() as uow:
        owners = await uow.report_source.owners_active(week)
    return [await generate_report(o, week, uow_factory(), engine, renderer) for o in owners]


def due_week(now: datetime, weekday: int, hour: int) -> Week | None:
    """Last full week, once its run time (``weekday`` after it, at ``hour`` UTC) has come."""
    week = Week.before(now)
    due_at = datetime.combine(week.end + timedelta(days=1 + weekday), time(hour), tzinfo=UTC)
    return week if now >= due_at else None


async def scheduled_reports(
    uow_factory: Callable[[], UnitOfWork],
    engine: Engine,
    renderer: ReportRenderer,
    *,
    weekday: int,
    hour: int,
) -> list[WeeklyReport]:
    """Run last week's reports once, on one replica, when they are due."""
    now = engine.clock()
    week = due_week(now, weekday, hour)
    if week is None:
        return []
    async with uow_factory() as uow:
        claimed = await uow.report_runs.claim(week, now)
        await uow.commit()
    if not claimed:
        return []
    reports = await weekly_run(uow_factory, engine, renderer, now)
    async with uow_factory() as uow:
        await uow.report_runs.complete(week, engine.clock(), len(reports))
        await uow.commit()
    return reports


async def fetch_report(report_id: str, uow: UnitOfWork) -> tuple[WeeklyReport, bytes]:
    async with uow:
        found = await uow.reports.get(report_id)
    if found is None:
        raise ReportNotFound("no such report")
    return found
