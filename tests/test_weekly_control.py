"""Issue 17 §2: weekly control charts of the volume-heavy KPIs in the monthly report — the weeks, the
weekly values against an independent pandas computation, the limits by hand, and a drift in the
month's last week caught by the weekly chart on the report's page."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from sqms import spc
from sqms.db import UnitOfWork
from sqms.org.service import sync_organisation
from sqms.monthly.rendering import render_monthly_report
from sqms.monthly.report import build_monthly_report
from sqms.records.models import ServiceRecord
from sqms.records.service import compute_and_store
from sqms.records.weekly import weekly_series
from tests.factories import TZ

PERIOD = "2026-03"


def test_weeks_of_a_month_by_hand():
    # March 2026 ends on a Tuesday: the last whole week is 23–29 March; a week counts in the month of its
    # Sunday, so the week of 23 Feb – 1 Mar is March's first
    mondays, first = spc.weekly_window(date(2026, 3, 1), date(2026, 3, 31), weeks=26)
    assert mondays[-1] == date(2026, 3, 23) and mondays[0] == date(2025, 9, 29) and len(mondays) == 26
    assert all(b - a == timedelta(days=7) for a, b in zip(mondays, mondays[1:]))
    assert mondays[first:] == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16),
                               date(2026, 3, 23)]
    # May 2026 ends on a Sunday: its last week is included whole
    mondays, first = spc.weekly_window(date(2026, 5, 1), date(2026, 5, 31), weeks=8)
    assert mondays[-1] == date(2026, 5, 25) and mondays[first] == date(2026, 4, 27)
    assert spc.week_label(date(2026, 3, 23)) == "2026-W13" and spc.week_label(date(2025, 12, 29)) == "2026-W01"


def _seed(settings) -> list[dict]:
    """OPS, 100 phone records a week for the 26 weeks ending 29 March 2026: 90 answered within the 30 s
    target, except the last week (75); FCR 80 of 100 every week; two hours each."""
    mondays, _ = spc.weekly_window(date(2026, 3, 1), date(2026, 3, 31), weeks=26)
    rows = []
    for w, monday in enumerate(mondays):
        late = 25 if w == len(mondays) - 1 else 10
        for i in range(100):
            opened = datetime(monday.year, monday.month, monday.day, 9, tzinfo=TZ) + timedelta(days=1, minutes=5 * i)
            rows.append({"record_id": f"W{w:02d}-{i:03d}", "opened": opened, "response_s": 60 if i < late else 10,
                         "fcr": i < 80})
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.session.add_all(ServiceRecord(
            record_id=r["record_id"], department="OPS", channel="phone", customer_id="C1", opened_at=r["opened"],
            first_response_at=r["opened"] + timedelta(seconds=r["response_s"]),
            resolved_at=r["opened"] + timedelta(hours=2), first_contact_resolved=r["fcr"]) for r in rows)
        uow.commit()
    return rows


def test_weekly_values_limits_and_the_drift_caught(sqlite_settings, tmp_path):
    rows = _seed(sqlite_settings)
    # independent: the share within 30 s per local week (Monday start), with pandas
    frame = pd.DataFrame(rows)
    frame["monday"] = [(o.astimezone(TZ).date() - timedelta(days=o.astimezone(TZ).weekday())) for o in frame["opened"]]
    expected = (frame.assign(within=frame["response_s"] <= 30).groupby("monday")["within"].mean() * 100).tolist()

    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        series = weekly_series(uow.session, sqlite_settings, PERIOD)
    org = {s.kpi: s for s in series if s.department is None}
    response = org["response_within_target_pct"]
    assert response.chart.values == pytest.approx(expected) and expected[-1] == 75.0
    assert response.periods[-1] == "2026-W13" and response.month_from == 21
    # p-chart, baseline the first 20 weeks: p̄ = 0.9, n = 100 → σ = √(0.9·0.1/100) = 3 points, LCL = 81 %
    assert response.chart.centre[-1] == pytest.approx(90.0) and response.chart.lcl[-1] == pytest.approx(81.0)
    assert [(s.rule, s.index) for s in response.current] == [("beyond_3sigma", 25)]
    assert org["fcr_pct"].current == [] and org["avg_handling_hours"].chart.values[-1] == pytest.approx(2.0)
    ops = {s.kpi: s for s in series if s.department == "OPS"}
    assert ops["response_within_target_pct"].chart.values == pytest.approx(expected)
    assert not [s for s in series if s.department == "CS"]  # no records, no chart

    # the monthly figure still looks fine: (3·90 + 90 + 75) / 5 weeks… the month's value is well above 81 %
    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        computation = compute_and_store(uow.session, sqlite_settings, PERIOD)
        report = build_monthly_report(uow.session, sqlite_settings, PERIOD, computation)
        uow.commit()
    month = report.kpis.set_index("kpi").loc["response_within_target_pct", "value"]
    march = frame[[o.astimezone(TZ).month == 3 for o in frame["opened"]]]
    assert month == pytest.approx(100 * (march["response_s"] <= 30).mean()) and month > 85
    html = render_monthly_report(report, sqlite_settings, tmp_path, version=1)["html"].read_text(encoding="utf-8")
    section = html[html.index('id="weekly-control"'):html.index('<section id="problems">')]
    assert "周控制图" in section and "2026-W13" in section and "1 个点超出 3σ 控制限" in section
    assert "75.0%" in section and "81.0%" in section
    assert section.count("<svg") == 3 + 1  # the organisation's three, and OPS's response chart
