"""Early signals on complaints: a planted rise is flagged, and on pure noise the false-discovery
control holds (a seeded simulation of many months)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sqms.calendar import periods_ending
from sqms.complaints.signals import monthly_counts, rising
from tests.test_demo import END, PERIODS, demo, demo_dir, plain_settings  # noqa: F401

DEPARTMENTS = ["CS", "OPS", "SALES", "GMO", "HR", "FIN", "RND", "ADMIN"]
CATEGORIES = ["服务态度", "响应不及时", "处理结果", "收费争议", "信息错误", "流程繁琐", "其他"]
BASELINE = [f"2025-{m:02d}" for m in range(1, 13)]
PERIOD = "2026-01"


def _frame(rng: np.random.Generator, rate: float, planted: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    rows = []
    for period in [*BASELINE, PERIOD]:
        for d in DEPARTMENTS:
            for c in CATEGORIES:
                lam = (planted or {}).get((d, c), rate) if period == PERIOD else rate
                rows.append((period, d, c, int(rng.poisson(lam))))
    return pd.DataFrame(rows, columns=["period", "department", "category", "count"])


def test_the_exact_conditional_test_by_hand():
    # 9 this month against 12 over 12 months (1 a month): T = 21, share 1/13 under no change
    counts = pd.DataFrame([("2026-01", "OPS", "响应不及时", 9)] + [(p, "OPS", "响应不及时", 1) for p in BASELINE]
                          + [(p, "CS", "其他", 2) for p in [*BASELINE, PERIOD]],
                          columns=["period", "department", "category", "count"])
    [rise] = rising(counts, PERIOD, BASELINE)
    assert (rise.department, rise.category, rise.count, rise.baseline_mean) == ("OPS", "响应不及时", 9, 1.0)
    assert rise.p_value == pytest.approx(stats.binom.sf(8, 21, 1 / 13))
    assert rise.q_value == pytest.approx(min(1.0, 2 * rise.p_value))  # BH over two cells, the smaller p
    assert "“响应不及时”类投诉本月 9 件，基线月均 1.0 件" in rise.words("zh_CN")


def test_a_planted_rise_is_flagged_and_nothing_else():
    rng = np.random.default_rng(17)
    found = rising(_frame(rng, 2.0, {("OPS", "响应不及时"): 12.0}), PERIOD, BASELINE)
    assert [(r.department, r.category) for r in found] == [("OPS", "响应不及时")]


def test_without_a_baseline_nothing_rises():
    """A new installation (complaints only this month) has nothing to rise against."""
    counts = pd.DataFrame([("2026-01", "SALES", "虚假宣传", 9), ("2025-12", "CS", "其他", 1), ("2025-11", "CS", "其他", 1)],
                          columns=["period", "department", "category", "count"])
    assert rising(counts, PERIOD, BASELINE) == []  # two baseline months with complaints: not yet a baseline
    more = pd.concat([counts, pd.DataFrame([("2025-10", "CS", "其他", 1)], columns=counts.columns)])
    assert [(r.department, r.category) for r in rising(more, PERIOD, BASELINE)] == [("SALES", "虚假宣传")]


def test_few_complaints_are_never_a_rise():
    counts = pd.DataFrame([("2026-01", "HR", "其他", 2)], columns=["period", "department", "category", "count"])
    assert rising(counts, PERIOD, BASELINE) == []  # 2 against 0: p small, but below the minimum count


def test_the_false_discovery_control_holds_on_pure_noise():
    """600 simulated months of 56 cells without any change: the share of months with any flag stays
    within the configured rate (BH under the global null bounds it by the FDR level)."""
    rng = np.random.default_rng(2026)
    months, flagged_months, flags = 600, 0, 0
    for _ in range(months):
        found = rising(_frame(rng, float(rng.choice([0.5, 2.0, 6.0]))), PERIOD, BASELINE, fdr=0.05)
        flagged_months += bool(found)
        flags += len(found)
    assert flagged_months / months <= 0.05
    assert flags < months * 0.1  # and never a shower of false signals


def test_the_demos_planted_rise_in_slow_responses_is_flagged(demo):  # noqa: F811
    """The demo's OPS slowdown brings more 响应不及时 complaints: flagged, and nothing else is."""
    complaints = demo["complaints"]
    counts = monthly_counts(complaints, complaints["received_at"].str[:7])
    found = rising(counts, END, periods_ending(END, 13)[:-1])
    assert [(r.department, r.category) for r in found] == [("OPS", "响应不及时")]
    for period in PERIODS[3:9]:  # before the drift the slow responses of OPS are never flagged
        assert ("OPS", "响应不及时") not in {(r.department, r.category)
                                             for r in rising(counts, period, periods_ending(period, 13)[:-1])}


def test_the_monthly_report_lists_the_rises_of_the_month(sqlite_settings):
    from datetime import datetime, timedelta

    from sqms.complaints.signals import complaint_rises
    from sqms.db import UnitOfWork
    from sqms.monthly.report import build_monthly_report
    from sqms.records.service import compute_and_store
    from sqms.monthly.rendering import html_context
    from sqms.reporting.render import render_template
    from tests.factories import PERIOD as MARCH
    from tests.factories import TZ, _complaint, seed_mixed

    seed_mixed(sqlite_settings)  # 2026-03: CS 服务态度 ×2, and two single ones
    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        for month in periods_ending("2026-02", 12):  # one slow-response complaint a month at OPS ...
            y, m = map(int, month.split("-"))
            uow.session.add(_complaint(f"B{month}", "OPS", "响应不及时", datetime(y, m, 5, 10, tzinfo=TZ)))
        uow.session.add_all([_complaint(f"R{i}", "OPS", "响应不及时", datetime(2026, 3, 3, 9, tzinfo=TZ)
                                        + timedelta(hours=i)) for i in range(8)])  # ... then 8 in March
        uow.commit()
    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        [rise] = complaint_rises(uow.session, sqlite_settings, MARCH)
        assert (rise.department, rise.category, rise.count, rise.baseline_mean) == ("OPS", "响应不及时", 8, 1.0)
        report = build_monthly_report(uow.session, sqlite_settings, MARCH,
                                      compute_and_store(uow.session, sqlite_settings, MARCH))
        html = render_template(sqlite_settings, "reports/monthly_report.html.j2",
                               **html_context(report, sqlite_settings))
    assert "<strong>运营部</strong>：“响应不及时”类投诉本月 8 件，基线月均 1.0 件，显著上升" in html


def test_the_hourly_watch_tells_the_department_manager_once_per_signal(sqlite_settings):
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from sqms.complaints.signals import NOTICE_PROCESS, queue_rise_notices
    from sqms.db import UnitOfWork
    from sqms.notify.models import OutboxMessage
    from sqms.org.service import sync_organisation
    from tests.factories import TZ, _complaint

    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, sqlite_settings)
        for month in periods_ending("2026-02", 12):
            y, m = map(int, month.split("-"))
            uow.session.add(_complaint(f"B{month}", "OPS", "响应不及时", datetime(y, m, 5, 10, tzinfo=TZ)))
        uow.session.add_all([_complaint(f"R{i}", "OPS", "响应不及时", datetime(2026, 3, 3, 9, tzinfo=TZ)
                                        + timedelta(hours=i)) for i in range(8)])
        uow.commit()
    now = datetime(2026, 3, 10, 12, tzinfo=TZ)
    for expected in (1, 0):  # the second hour: the same notice, not a second one
        with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
            assert queue_rise_notices(uow.session, sqlite_settings, now) == expected
            uow.commit()
    with UnitOfWork(sqlite_settings.database_url) as uow:
        [mail] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.process == NOTICE_PROCESS)).all()
    assert mail.recipient == sqlite_settings.department_manager("OPS").email
    assert mail.subject == "[投诉预警] 运营部：“响应不及时”类投诉本月明显上升"
    assert "运营部2026-03 “响应不及时”类投诉本月 8 件，基线月均 1.0 件，显著上升" in mail.body_text
