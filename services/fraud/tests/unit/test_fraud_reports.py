from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from common.events.erasure import ErasureCompleted
from common.events.fraud import SecurityReportReady
from fraud.adapters.memory import MemoryStore, MemoryUnitOfWork
from fraud.adapters.pdf import ReportlabRenderer
from fraud.domain.activity import SecuritySignal, SignalKind
from fraud.domain.errors import ReportNotFound
from fraud.domain.report import ReportFacts, Week, build_report, report_from_json
from fraud.service.engine import Engine
from fraud.service.erasure import erase_member
from fraud.service.reports import (
    due_week,
    fetch_report,
    generate_report,
    scheduled_reports,
    weekly_run,
)
from fraud.service.scoring import decide_payment
from fraud.service.signals import record_signal
from fraud_builders import T0, StepClock, payment

pytestmark = pytest.mark.unit
Uow = Callable[[], MemoryUnitOfWork]
WEEK = Week.containing(T0.date())


def test_week_runs_monday_to_sunday_and_has_an_iso_label() -> None:
    week = Week.containing(date(2026, 11, 5))
    assert (week.start, week.end, week.label) == (date(2026, 11, 2), date(2026, 11, 8), "2026-W45")
    assert Week.parse("2026-W45") == week
    assert Week.before(datetime(2026, 11, 9, 3)) == week
    assert Week.containing(date(2027, 1, 1)).label == "2026-W53"


def test_report_lists_every_day_of_the_week() -> None:
    report = build_report("r1", "user-1", WEEK, ReportFacts(), T0)
    assert [d.day for d in report.facts.daily] == WEEK.days()
    assert report.advice == ("Nothing unusual this week.",)


def test_advice_follows_from_the_facts() -> None:
    facts = ReportFacts(new_devices=2, failed_logins=6, factor_changes=1, blocked_payments=1)
    advice = " ".join(build_report("r1", "user-1", WEEK, facts, T0).advice)
    for words in ("new device", "failed", "factor", "blocked"):
        assert words in advice


async def _activity(store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock) -> None:
    for kind, device in [
        (SignalKind.LOGIN, "device-home"),
        (SignalKind.LOGIN, "device-new"),
        (SignalKind.STEP_UP, "device-new"),
        (SignalKind.LOGIN_FAILED, None),
    ]:
        signal = SecuritySignal(kind, "user-1", clock.advance(minutes=1), device_id=device)
        await record_signal(signal, uow())
    consent = SecuritySignal(
        SignalKind.CONSENT_GRANTED,
        "user-1",
        T0,
        consent_ref="consent-77",
        expires_at=T0 + timedelta(days=20),
    )
    await record_signal(consent, uow())
    for i in range(6):
        at = clock.advance(seconds=20)
        await decide_payment(payment(f"ct-{i}", amount="1.00", at=at), uow(), engine)


@pytest.mark.asyncio
async def test_report_counts_the_week_and_is_published(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _activity(store, uow, engine, clock)
    clock.now = T0 + timedelta(days=10)
    report = await generate_report("user-1", WEEK, uow(), engine, ReportlabRenderer())
    facts = report.facts
    assert (facts.logins, facts.new_devices, facts.step_ups, facts.failed_logins) == (2, 1, 1, 1)
    assert facts.blocked_payments >= 1
    assert facts.alerts
    assert facts.daily[0].scored == 6
    assert facts.daily[0].blocked >= 1
    assert [c.consent_ref for c in facts.expiring_consents] == ["consent-77"]
    event, subject = store.outbox[-1]
    assert isinstance(event, SecurityReportReady)
    assert subject == "user-1"
    assert (event.week, event.new_devices) == ("2026-W45", 1)
    as_json = report.to_json()
    assert as_json["week"] == "2026-W45"
    assert len(as_json["daily"]) == 7
    assert "device-new" not in str(as_json)


@pytest.mark.asyncio
async def test_consent_ending_beyond_the_horizon_is_not_reported(
    uow: Uow, engine: Engine, clock: StepClock
) -> None:
    far = SecuritySignal(
        SignalKind.CONSENT_GRANTED, "user-1", T0, consent_ref="c1", expires_at=T0 + timedelta(90)
    )
    ended = SecuritySignal(SignalKind.CONSENT_ENDED, "user-1", T0, consent_ref="c2")
    await record_signal(far, uow())
    await record_signal(ended, uow())
    report = await generate_report("user-1", WEEK, uow(), engine, ReportlabRenderer())
    assert report.facts.expiring_consents == ()


@pytest.mark.asyncio
async def test_one_report_per_owner_and_week_unless_a_fresh_one_is_asked(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    renderer = ReportlabRenderer()
    first = await generate_report("user-1", WEEK, uow(), engine, renderer)
    again = await generate_report("user-1", WEEK, uow(), engine, renderer)
    assert again.report_id == first.report_id
    assert len(store.reports) == 1
    fresh = await generate_report("user-1", WEEK, uow(), engine, renderer, fresh=True)
    assert fresh.report_id != first.report_id
    assert len(store.reports) == 2


@pytest.mark.asyncio
async def test_report_is_fetched_as_json_and_pdf(uow: Uow, engine: Engine) -> None:
    report = await generate_report("user-1", WEEK, uow(), engine, ReportlabRenderer())
    fetched, pdf = await fetch_report(report.report_id, uow())
    assert fetched == report
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 1000
    with pytest.raises(ReportNotFound):
        await fetch_report("missing", uow())


def test_pdf_is_deterministic_for_the_same_report() -> None:
    report = build_report("r1", "user-1", WEEK, ReportFacts(logins=3), T0)
    renderer = ReportlabRenderer()
    assert renderer.render(report) == renderer.render(report)


@pytest.mark.asyncio
async def test_weekly_run_covers_last_week_for_every_active_owner(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _activity(store, uow, engine, clock)
    await record_signal(SecuritySignal(SignalKind.LOGIN, "user-2", T0, device_id="d"), uow())
    reports = await weekly_run(uow, engine, ReportlabRenderer(), now=T0 + timedelta(days=7))
    assert sorted(r.owner_ref for r in reports) == ["user-1", "user-2"]
    assert {r.week for r in reports} == {WEEK}


@pytest.mark.asyncio
async def test_report_rebuilt_from_its_json_is_the_same(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _activity(store, uow, engine, clock)
    report = await generate_report("user-1", WEEK, uow(), engine, ReportlabRenderer())
    assert report_from_json(json.loads(json.dumps(report.to_json()))) == report


def test_weekly_run_is_due_after_its_weekday_and_hour() -> None:
    monday = datetime(2026, 11, 9, tzinfo=UTC)
    assert due_week(monday.replace(hour=5), weekday=0, hour=6) is None
    assert due_week(monday.replace(hour=6), weekday=0, hour=6) == WEEK
    assert due_week(monday + timedelta(days=1), weekday=2, hour=6) is None
    assert due_week(monday + timedelta(days=3), weekday=2, hour=6) == WEEK


@pytest.mark.asyncio
async def test_scheduled_run_happens_once_per_week(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _activity(store, uow, engine, clock)
    clock.now = datetime(2026, 11, 9, 7, tzinfo=UTC)
    renderer = ReportlabRenderer()
    first = await scheduled_reports(uow, engine, renderer, weekday=0, hour=6)
    again = await scheduled_reports(uow, engine, renderer, weekday=0, hour=6)
    assert [r.owner_ref for r in first] == ["user-1"]
    assert again == []
    assert store.report_runs["2026-W45"][1] is not None


@pytest.mark.asyncio
async def test_erasure_forgets_the_member_and_proves_it(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _activity(store, uow, engine, clock)
    await generate_report("user-1", WEEK, uow(), engine, ReportlabRenderer())
    counts = await erase_member("user-1", "req-1", uow(), engine)
    assert counts["accounts"] == 1
    assert counts["security_events"] == 5
    assert "user-1" not in store.owners
    assert not store.reports
    assert "acct-1" not in store.accounts
    event = store.outbox[-1][0]
    assert isinstance(event, ErasureCompleted)
    assert (event.service, event.request_id) == ("fraud", "req-1")
