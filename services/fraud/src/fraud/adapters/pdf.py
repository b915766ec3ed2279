"""Renders a weekly security report as a one-page PDF (reportlab): summary, a chart of the
week's scored activity, alerts and advice.

Rule: the PDF shows what the JSON report holds and nothing more (no device id, no account
number); it is deterministic for the same report (reportlab's invariant mode).
"""

from __future__ import annotations

import io

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from fraud.domain.report import WeeklyReport

_SERIES = (
    ("passed", colors.HexColor("#4caf50")),
    ("reviewed", colors.HexColor("#ff9800")),
    ("blocked", colors.HexColor("#e53935")),
)
_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]
)


class ReportlabRenderer:
    """The ``ReportRenderer`` port with reportlab."""

    def render(self, report: WeeklyReport) -> bytes:
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            title=f"Security report {report.week.label}",
            author="Coffre",
            invariant=True,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
        )
        doc.build(_story(report))
        return buffer.getvalue()


def _story(report: WeeklyReport) -> list[Flowable]:
    styles = getSampleStyleSheet()
    week = report.week
    return [
        Paragraph(f"Your security report — week {week.label}", styles["Title"]),
        Paragraph(f"{week.start.isoformat()} to {week.end.isoformat()}", styles["Normal"]),
        Spacer(1, 6 * mm),
        _summary(report),
        Spacer(1, 6 * mm),
        Paragraph("Scored activity, day by day", styles["Heading2"]),
        _chart(report),
        Paragraph("Alerts", styles["Heading2"]),
        _alerts(report, _style(styles, "Normal")),
        Paragraph("What we suggest", styles["Heading2"]),
        *[Paragraph(f"• {line}", styles["Normal"]) for line in report.advice],
    ]


def _style(styles: StyleSheet1, name: str) -> ParagraphStyle:
    style = styles[name]
    assert isinstance(style, ParagraphStyle)
    return style


def _summary(report: WeeklyReport) -> Table:
    f = report.facts
    rows: list[list[object]] = [
        ["Sign-ins", "New devices", "Confirmations (step-up)", "Alerts", "Blocked payments"],
        [f.logins, f.new_devices, f.step_ups, len(f.alerts), f.blocked_payments],
        [
            "Failed sign-ins",
            "Factor changes",
            "Failed confirmations",
            "Held payments",
            "Consents ending",
        ],
        [
            f.failed_logins,
            f.factor_changes,
            f.failed_step_ups,
            f.held_payments,
            len(f.expiring_consents),
        ],
    ]
    table = Table([[str(c) for c in row] for row in rows])
    table.setStyle(_GRID)
    table.setStyle(TableStyle([("BACKGROUND", (0, 2), (-1, 2), colors.HexColor("#eeeeee"))]))
    return table


def _chart(report: WeeklyReport) -> Drawing:
    daily = report.facts.daily
    drawing = Drawing(170 * mm, 70 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 30, 20, 120 * mm, 55 * mm
    chart.data = [[getattr(d, name) for d in daily] for name, _ in _SERIES]
    chart.categoryAxis.categoryNames = [d.day.strftime("%a %d") for d in daily]
    chart.categoryAxis.style = "stacked"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max([d.scored for d in daily] + [4]) * 1.1
    for index, (_, colour) in enumerate(_SERIES):
        chart.bars[index].fillColor = colour
    legend = Legend()
    legend.x, legend.y = 135 * mm, 55 * mm
    legend.colorNamePairs = [(colour, name) for name, colour in _SERIES]
    drawing.add(chart)
    drawing.add(legend)
    return drawing


def _alerts(report: WeeklyReport, style: ParagraphStyle) -> Flowable:
    alerts = report.facts.alerts
    if not alerts:
        return Paragraph("No alerts this week.", style)
    rows = [["When (UTC)", "What", "Decision", "Score", "Main reason", "Verdict"]]
    rows += [
        [
            a.raised_at.strftime("%a %H:%M"),
            a.kind,
            a.decision,
            f"{a.score:.2f}",
            a.top_reason or "-",
            a.verdict or "pending",
        ]
        for a in alerts[:25]
    ]
    table = Table(rows)
    table.setStyle(_GRID)
    return table
