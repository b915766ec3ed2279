"""The weekly security report an account owner receives.

Rules: a report covers one ISO week, Monday to Sunday (UTC); it lists every day of that week even
when nothing happened; a consent is "about to expire" when it ends within ``CONSENT_HORIZON`` of
the report's generation; the advice is derived from the facts only, and the report never holds a
device id, a credential or a full account number.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

CONSENT_HORIZON = timedelta(days=14)


MIN_REPORT_YEAR = 2000
MAX_REPORT_YEAR = 9998


@dataclass(frozen=True, slots=True)
class Week:
    start: date
    end: date

    @property
    def label(self) -> str:
        year, number, _ = self.start.isocalendar()
        return f"{year}-W{number:02d}"

    @classmethod
    def containing(cls, day: date) -> Week:
        start = day - timedelta(days=day.weekday())
        return cls(start, start + timedelta(days=6))

    @classmethod
    def before(cls, moment: datetime) -> Week:
        """The last full week before ``moment``."""
        return cls.containing(moment.date() - timedelta(days=7))

    @classmethod
    def parse(cls, label: str) -> Week:
        """An ISO week label; only years 2000-9998 (no Coffre data is older, and a later week
        would not fit the calendar once padded), else ValueError."""
        year, number = label.split("-W")
        if not MIN_REPORT_YEAR <= int(year) <= MAX_REPORT_YEAR:
            raise ValueError(f"report weeks lie in years {MIN_REPORT_YEAR}-{MAX_REPORT_YEAR}")
        return cls.containing(date.fromisocalendar(int(year), int(number), 1))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]


@dataclass(frozen=True, slots=True)
class DailyActivity:
    day: date
    scored: int = 0
    passed: int = 0
    reviewed: int = 0
    blocked: int = 0
    max_score: float = 0.0


@dataclass(frozen=True, slots=True)
class AlertSummary:
    alert_id: str
    kind: str
    decision: str
    score: float
    raised_at: datetime
    top_reason: str | None
    verdict: str | None


@dataclass(frozen=True, slots=True)
class ExpiringConsent:
    consent_ref: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ReportFacts:
    logins: int = 0
    failed_logins: int = 0
    new_devices: int = 0
    step_ups: int = 0
    failed_step_ups: int = 0
    factor_changes: int = 0
    blocked_payments: int = 0
    held_payments: int = 0
    alerts: tuple[AlertSummary, ...] = ()
    expiring_consents: tuple[ExpiringConsent, ...] = ()
    daily: tuple[DailyActivity, ...] = ()


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    report_id: str
    owner_ref: str
    week: Week
    generated_at: datetime
    facts: ReportFacts
    advice: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        facts = asdict(self.facts)
        return {
            "report_id": self.report_id,
            "owner_ref": self.owner_ref,
            "week": self.week.label,
            "period_start": self.week.start.isoformat(),
            "period_end": self.week.end.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            **_jsonable(facts),
            "advice": list(self.advice),
        }


def build_report(
    report_id: str, owner_ref: str, week: Week, facts: ReportFacts, now: datetime
) -> WeeklyReport:
    """A report with every day of the week present and advice derived from the facts."""
    by_day = {d.day: d for d in facts.daily}
    daily = tuple(by_day.get(day, DailyActivity(day)) for day in week.days())
    complete = ReportFacts(**{**_shallow(facts), "daily": daily})
    return WeeklyReport(report_id, owner_ref, week, now, complete, tuple(advise(complete)))


def advise(facts: ReportFacts) -> list[str]:
    advice: list[str] = []
    if facts.new_devices:
        advice.append(
            f"{facts.new_devices} sign-in(s) from a new device: if it was not you, "
            "change your password and review your devices."
        )
    if facts.failed_logins >= 5 or facts.failed_step_ups >= 3:
        advice.append("Several failed sign-in or confirmation attempts: keep your codes private.")
    if facts.factor_changes:
        advice.append("An authentication factor was changed: check that it was you.")
    if facts.blocked_payments:
        advice.append(f"{facts.blocked_payments} payment(s) were blocked to protect you.")
    unresolved = sum(1 for a in facts.alerts if a.verdict is None)
    if unresolved:
        advice.append(f"{unresolved} suspicious operation(s) are being reviewed by our team.")
    for consent in facts.expiring_consents:
        advice.append(
            f"Bank access {consent.consent_ref} expires on {consent.expires_at.date().isoformat()}"
            ": renew it to keep your accounts up to date."
        )
    if not advice:
        advice.append("Nothing unusual this week.")
    return advice


def _shallow(facts: ReportFacts) -> dict[str, Any]:
    return {name: getattr(facts, name) for name in facts.__dataclass_fields__}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def report_from_json(body: dict[str, Any]) -> WeeklyReport:
    """Rebuild a report from ``WeeklyReport.to_json`` output."""
    facts = ReportFacts(
        **{name: body[name] for name in _COUNTS},
        alerts=tuple(
            AlertSummary(**{**a, "raised_at": datetime.fromisoformat(a["raised_at"])})
            for a in body["alerts"]
        ),
        expiring_consents=tuple(
            ExpiringConsent(c["consent_ref"], datetime.fromisoformat(c["expires_at"]))
            for c in body["expiring_consents"]
        ),
        daily=tuple(
            DailyActivity(**{**d, "day": date.fromisoformat(d["day"])}) for d in body["daily"]
        ),
    )
    return WeeklyReport(
        report_id=body["report_id"],
        owner_ref=body["owner_ref"],
        week=Week.parse(body["week"]),
        generated_at=datetime.fromisoformat(body["generated_at"]),
        facts=facts,
        advice=tuple(body["advice"]),
    )


_COUNTS = (
    "logins",
    "failed_logins",
    "new_devices",
    "step_ups",
    "failed_step_ups",
    "factor_changes",
    "blocked_payments",
    "held_payments",
)
