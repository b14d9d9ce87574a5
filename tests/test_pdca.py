"""PDCA improvement cycles: the opening rule at its edges, and cycles driven through every state with
stored KPI snapshots chosen to pass and to fail the check."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sqms.actions.service import Update, advance as advance_action, get as get_action, record
from sqms.db import UnitOfWork
from sqms.improvement.models import ImprovementCycle
from sqms.improvement.service import (ImprovementError, actions_of, advance, board, get, misses, plan,
                                      shortfall_pct, standardise, start)
from sqms.kpi_catalog import status_of
from sqms.notify.models import OutboxMessage
from sqms.records.models import KpiComputation, KpiValue
from sqms.statemachine import IllegalTransition
from tests.conftest import make_settings

TZ = ZoneInfo("Asia/Shanghai")


def snapshot(settings, period: str, values: dict[tuple[str, str], tuple[float, int]]):
    """A stored KPI computation of `period`: (department, kpi) -> (value, n), targets from the config."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        y, m = map(int, period.split("-"))
        computation = KpiComputation(period=period, as_of=datetime(y, m, 28, tzinfo=TZ),
                                     computed_at=datetime(y, m, 28, tzinfo=TZ), actor="test", input_counts={})
        for (department, kpi), (value, n) in values.items():
            target = settings.kpi.target(kpi, department)
            computation.values.append(KpiValue(kpi=kpi, department=department, value=value, target=target,
                                               status=status_of(kpi, value, target), n=n, low_confidence=n < 30,
                                               extra={}))
        uow.session.add(computation)
        uow.commit()


def test_shortfall_in_the_direction_of_the_kpi():
    assert shortfall_pct("fcr_pct", 60, 75) == pytest.approx(20)  # higher is better: 15 points short of 75
    assert shortfall_pct("avg_handling_hours", 30, 24) == pytest.approx(25)  # lower is better
    assert shortfall_pct("fcr_pct", 80, 75) == 0


@pytest.mark.parametrize("history, current, opens", [
    ([], (70.0, 100), False),                    # one miss, 6.7 % short: within the 10 % margin
    ([], (67.0, 100), True),                     # one miss, 10.7 % short: beyond the margin
    ([], (67.5, 100), False),                    # exactly 10 % short is not beyond it
    ([(72.0, 100)], (74.0, 100), True),          # two months in a row
    ([(80.0, 100)], (74.0, 100), False),         # last month was met
    ([(72.0, 10)], (74.0, 100), False),          # last month's miss was from too few observations
    ([], (50.0, 20), False),                     # far below, but n < 30
])
def test_opening_rule_edges(org, history, current, opens):
    periods = ["2026-08", "2026-09"]
    for period, (value, n) in zip(periods[-1 - len(history):], [*history, current]):
        snapshot(org, period, {("OPS", "fcr_pct"): (value, n)})
    with UnitOfWork(org.database_url) as uow:
        found = misses(uow.session, org, "2026-09")
    assert [(m.department, m.kpi) for m in found] == ([("OPS", "fcr_pct")] if opens else [])


def test_margin_and_streak_are_configurable(org, tmp_path):
    strict = make_settings(org.database_url, tmp_path, improvement={"consecutive_misses": 1, "margin_pct": 50})
    snapshot(strict, "2026-09", {("CS", "csat_mean"): (4.1, 60)})
    with UnitOfWork(strict.database_url) as uow:
        [miss] = misses(uow.session, strict, "2026-09")
    assert miss.reason == "连续 1 个月未达标"


def cycles(settings) -> list[ImprovementCycle]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(ImprovementCycle).order_by(ImprovementCycle.id)))


def mails(settings) -> list[OutboxMessage]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.process == "improvement")
                                        .order_by(OutboxMessage.id)))


def run(settings, period: str, day: datetime) -> list[tuple[str, str]]:
    with UnitOfWork(settings.database_url, actor="test") as uow:
        done = advance(uow.session, settings, period, now=day)
        uow.commit()
    return done


def finish_actions(settings, ref: str, at: datetime):
    with UnitOfWork(settings.database_url, actor="liu.yang") as uow:
        cycle = get(uow.session, ref)
        for action in actions_of(uow.session, cycle):
            action = get_action(uow.session, action.id)
            record(uow.session, settings, action, Update(measures="按话务量重新排班"))
            advance_action(uow.session, settings, action, "complete", at=at)
        uow.commit()


def test_a_cycle_that_meets_its_target(org):
    snapshot(org, "2026-08", {("OPS", "fcr_pct"): (72.0, 100)})
    snapshot(org, "2026-09", {("OPS", "fcr_pct"): (71.0, 100)})
    assert run(org, "2026-09", datetime(2026, 10, 1, 8, tzinfo=TZ)) == [("PDCA-00001", "opened")]
    assert run(org, "2026-09", datetime(2026, 10, 1, 9, tzinfo=TZ)) == []  # one open cycle per department/KPI
    [c] = cycles(org)
    assert (c.status, c.owner, c.baseline, c.target, c.opened_period) == ("plan", "liu.yang@example.com", 71.0, 75.0,
                                                                           "2026-09")
    assert [m.recipient for m in mails(org)] == ["liu.yang@example.com"]

    with UnitOfWork(org.database_url, actor="liu.yang") as uow:
        cycle = get(uow.session, "PDCA-00001")
        with pytest.raises(IllegalTransition, match="root cause"):
            start(uow.session, org, cycle)
        plan(uow.session, org, cycle, root_cause="高峰时段人手不足")
        with pytest.raises(ImprovementError, match="at least one action"):
            start(uow.session, org, cycle)
        action = plan(uow.session, org, cycle, action_title="按话务量排班")
        assert action.source == "improvement_cycle" and action.type == "improvement"
        start(uow.session, org, cycle)
        assert cycle.status == "do"
        with pytest.raises(ImprovementError, match="plan stage"):
            plan(uow.session, org, cycle, root_cause="x")
        uow.commit()
    assert run(org, "2026-10", datetime(2026, 11, 1, 8, tzinfo=TZ)) == []  # the action is still open

    finish_actions(org, "PDCA-00001", datetime(2026, 11, 10, 10, tzinfo=TZ))
    assert run(org, "2026-10", datetime(2026, 11, 12, 8, tzinfo=TZ)) == [("PDCA-00001", "check")]
    [c] = cycles(org)
    # the check reads the three months after the actions were done: 2026-12 .. 2027-02
    assert (c.status, c.do_ended_period, c.check_period) == ("check", "2026-11", "2027-02")
    snapshot(org, "2026-11", {("OPS", "fcr_pct"): (90.0, 100)})  # not a check month: does not decide
    assert run(org, "2026-11", datetime(2026, 12, 1, 8, tzinfo=TZ)) == []
    snapshot(org, "2026-12", {("OPS", "fcr_pct"): (78.5, 100)})
    snapshot(org, "2027-01", {("OPS", "fcr_pct"): (80.0, 100)})
    assert run(org, "2027-01", datetime(2027, 2, 1, 8, tzinfo=TZ)) == []  # one good month is not a shift
    snapshot(org, "2027-02", {("OPS", "fcr_pct"): (81.0, 100)})
    assert run(org, "2027-02", datetime(2027, 3, 1, 8, tzinfo=TZ)) == [("PDCA-00001", "decide")]
    [c] = cycles(org)
    # p̄ = 71.5 % of the opening months, σ = 4.51 points at n = 100: z = 1.55, 1.88, 2.11, mean 1.85 > 3/√3
    assert (c.status, c.check_value, c.check_met) == ("act", pytest.approx(79.8333, abs=1e-3), True)

    with UnitOfWork(org.database_url, actor="liu.yang") as uow:
        cycle = get(uow.session, "PDCA-00001")
        with pytest.raises(IllegalTransition, match="standard or procedure"):
            standardise(uow.session, org, cycle, standard=" ", version="")
        standardise(uow.session, org, cycle, standard="运营部排班规范 SOP-OPS-07", version="V2.0")
        uow.commit()
    [c] = cycles(org)
    assert (c.status, c.standard_version) == ("closed", "V2.0") and c.closed_at
    with UnitOfWork(org.database_url) as uow:
        [row] = board(uow.session, org)
    assert (row["status"], row["check_met"], row["actions"], row["actions_done"]) == ("closed", True, 1, 1)


def test_a_failed_check_starts_a_new_iteration_and_tells_the_quality_manager(org):
    snapshot(org, "2026-09", {("SALES", "avg_handling_hours"): (40.0, 200)})  # ≤ 24 wanted: 67 % over
    run(org, "2026-09", datetime(2026, 10, 1, 8, tzinfo=TZ))
    with UnitOfWork(org.database_url, actor="chen.jie") as uow:
        cycle = get(uow.session, "PDCA-00001")
        plan(uow.session, org, cycle, root_cause="报价审批环节多", action_title="简化报价审批")
        start(uow.session, org, cycle)
        uow.commit()
    finish_actions(org, "PDCA-00001", datetime(2026, 10, 20, 10, tzinfo=TZ))
    assert run(org, "2026-10", datetime(2026, 10, 21, 8, tzinfo=TZ)) == [("PDCA-00001", "check")]
    for period in ("2026-11", "2026-12", "2027-01"):
        snapshot(org, period, {("SALES", "avg_handling_hours"): (30.0, 200)})
    assert run(org, "2027-01", datetime(2027, 2, 1, 8, tzinfo=TZ)) == [("PDCA-00001", "decide"),
                                                                         ("PDCA-00001", "iterate")]
    [c] = cycles(org)
    assert (c.status, c.iteration, c.root_cause, c.check_period) == ("plan", 2, None, None)
    assert c.history == [{"iteration": 1, "root_cause": "报价审批环节多", "actions": ["CAPA-00001"],
                          "check_period": "2027-01", "check_value": 30.0}]
    escalated = [m for m in mails(org) if "升级" in m.subject]
    assert sorted(m.recipient for m in escalated) == ["chen.jie@example.com", "li.na@example.com"]
    with UnitOfWork(org.database_url, actor="chen.jie") as uow:
        cycle = get(uow.session, "PDCA-00001")
        assert plan(uow.session, org, cycle, action_title="增设报价专员").source_ref == "PDCA-00001:2:1"
        with pytest.raises(IllegalTransition, match="root cause"):
            start(uow.session, org, cycle)  # a new iteration needs its own analysis
