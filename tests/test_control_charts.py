"""控制图 in the monthly report: the demo's planted drift (OPS answers more slowly, SALES loses
satisfaction) is signalled by the control charts before the targets are missed, and the report
shows the charts and the signals with their rules in words."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sqms.calendar import periods_ending
from sqms.db import UnitOfWork
from sqms.improvement.models import ImprovementCycle
from sqms.improvement.service import plan
from sqms.org.service import sync_organisation
from sqms.records.control import control_series
from sqms.records.models import KpiComputation, KpiValue
from sqms.monthly.report import build_monthly_report
from sqms.records.service import compute_kpis, results_frame
from sqms.monthly.rendering import render_monthly_report
from tests.conftest import make_settings
from tests.test_demo import (  # noqa: F401
    END,
    NOW,
    PERIODS,
    _period_data,
    demo,
    demo_dir,
    plain_settings,
)

DRIFT = PERIODS[-4:]  # the demo drifts over its last four months


@pytest.fixture(scope="module")
def demo_results(demo, plain_settings):  # noqa: F811
    """period -> the KPI results of the demo files (no database)."""
    return {p: compute_kpis(_period_data(demo, p, plain_settings), plain_settings, NOW) for p in PERIODS}


@pytest.fixture(scope="module")
def demo_history(demo_results) -> pd.DataFrame:
    return pd.concat([results_frame(r, p) for p, r in demo_results.items()], ignore_index=True)


def _first(months: list[str]) -> str | None:
    return min(months) if months else None


def _monthly_view(history: pd.DataFrame, department: str | None, kpis: set[str], baseline: int):
    """For each report month of the drift, as that month's report sees it (13 months ending there, the
    limits from their first `baseline`): the months with an adverse signal, the months a target was missed."""
    signalled, missed = [], []
    for end in DRIFT:
        for series in control_series(history, periods_ending(end, 13), [department], baseline):
            if series.kpi in kpis and series.current:
                signalled.append(end)
        rows = history[(history["period"] == end) & history["kpi"].isin(kpis)
                       & (history["department"].isna() if department is None else history["department"] == department)]
        if (rows["status"] == "missed").any():
            missed.append(end)
    return sorted(set(signalled)), sorted(set(missed))


def test_the_planted_drift_is_signalled_before_the_target_is_missed(demo_history, plain_settings):  # noqa: F811
    baseline = plain_settings.kpi.control_baseline_months
    # OPS answers more slowly: the response p-chart signals a month before the response target is missed
    signalled, missed = _monthly_view(demo_history, "OPS", {"response_within_target_pct"}, baseline)
    assert _first(signalled) < _first(missed), (signalled, missed)
    assert _first(signalled) == DRIFT[0]  # in the first month of the drift
    # SALES loses satisfaction: a signal (its complaints per 1,000 rise beyond 3σ) comes a month before
    # any satisfaction target (CSAT mean, top-2, NPS) is missed
    signals, _ = _monthly_view(demo_history, "SALES", {"complaint_rate_per_1000", "csat_mean", "csat_top2_pct",
                                                       "fcr_pct", "avg_handling_hours"}, baseline)
    _, satisfaction_missed = _monthly_view(demo_history, "SALES", {"csat_mean", "csat_top2_pct", "nps"}, baseline)
    assert _first(signals) < _first(satisfaction_missed), (signals, satisfaction_missed)
    # the organisation's response time signals while its target is still met: an early warning
    signalled, missed = _monthly_view(demo_history, None, {"response_within_target_pct"}, baseline)
    assert signalled and not missed
    # and before the drift, the months of CS (which does not drift) give no signal on these KPIs
    signalled, _ = _monthly_view(demo_history, "CS", {"response_within_target_pct", "fcr_pct", "csat_mean",
                                                      "avg_handling_hours"}, baseline)
    assert signalled == []


def _store(session, period: str, results) -> KpiComputation:
    computation = KpiComputation(period=period, as_of=NOW, computed_at=NOW, actor="test",
                                 input_counts={"records": 1, "complaints": 0, "responses": 0})
    computation.values = [KpiValue(kpi=r.kpi, department=r.department, value=r.value, target=r.target,
                                   status=r.status, n=r.n, low_confidence=r.low_confidence, extra=r.extra)
                          for r in results]
    session.add(computation)
    session.flush()
    return computation


def test_the_report_shows_control_charts_and_signals_in_words(demo_results, tmp_path: Path, sqlite_url: str):
    settings = make_settings(sqlite_url, tmp_path)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        cycle = ImprovementCycle(department="OPS", kpi="response_within_target_pct", status="plan", iteration=1,
                                 owner="liu.yang@example.com", opened_period="2026-09", reason="连续 2 个月未达标",
                                 baseline=81.1, target=90.0, history=[], created_at=NOW)
        uow.session.add(cycle)
        uow.session.flush()
        plan(uow.session, settings, cycle, root_cause="高峰时段人手不足", action_title="按话务量排班",
             due_on=date(2026, 11, 30))
        for period in PERIODS[:-1]:
            _store(uow.session, period, demo_results[period])
        computation = _store(uow.session, END, demo_results[END])
        report = build_monthly_report(uow.session, settings, END, computation, generated_at=NOW)
        uow.commit()
    html = render_monthly_report(report, settings, tmp_path / "out")["html"].read_text(encoding="utf-8")
    section = html[html.index('<section id="control">'):html.index('<section id="problems">')]
    assert "七、控制图（统计过程控制）" in section and "九、持续改进（PDCA）状态" in html
    assert section.count("<svg") >= 8  # the organisation's eight charted KPIs, then departments with a signal
    assert "运营部 · 响应及时率" in section and "销售部 · 满意率(4-5分)" in section
    assert "1 个点超出 3σ 控制限" in section and "连续 3 个点中有 2 个点在同一侧超出 2σ" in section
    assert "属预警" in section  # a signal on a KPI still meeting its target
    assert "p 图" in section and "u 图" in section and "X-MR 图" in section
    assert "2025-10 至 2026-06" in section  # the baseline months
    assert "人力资源部 · " not in section and "财务部 · " not in section  # departments only with a signal
    assert "投诉类别上升信号" in section  # (the complaints themselves are not in this database)
    # 存在问题与改进措施: every miss and signal, what is known, what is under way or proposed
    problems = html[html.index('<section id="problems">'):html.index('<section id="improvement">')]
    assert "八、存在问题与改进措施" in problems
    assert "运营部响应及时率 72.8%，未达到目标 ≥90%；控制图信号：1 个点超出 3σ 控制限" in problems
    assert "组织整体响应及时率 91.4%（目标 ≥90% 仍达标）" in problems  # the early warning is listed too
    ops = problems[problems.index("运营部响应及时率"):]
    ops = ops[:ops.index("</tr>")]
    assert "根本原因（PDCA-00001）：高峰时段人手不足" in ops  # the cycle's root cause
    assert "PDCA-00001 PDCA 循环（第 1 轮） · liu.yang@example.com" in ops and "计划" in ops
    assert "CAPA-00001 按话务量排班 · liu.yang@example.com · 期限 2026-11-30 · 待处理" in ops
    assert "<strong>建议</strong>：由销售部分析原因并制定改进措施" in problems  # nothing under way there
    english = render_monthly_report(
        build_english(settings, report), settings, tmp_path / "en")["html"].read_text(encoding="utf-8")
    assert "7. Control charts" in english and "a point beyond the 3σ control limit" in english


def build_english(settings, report):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        computation = uow.session.get(KpiComputation, report.computation_id)
        return build_monthly_report(uow.session, settings, END, computation, locale="en", generated_at=NOW)
