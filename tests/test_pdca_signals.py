"""PDCA and statistical process control, on constructed histories: a special-cause signal opens a
cycle even while the target is met, a miss on too few observations does not, and the Check judges
whether the process shifted rather than one month's value."""

from __future__ import annotations

from datetime import datetime

from sqms.calendar import periods_ending
from sqms.db import UnitOfWork
from sqms.improvement.service import get, misses, plan, start
from tests.test_pdca import TZ, cycles, finish_actions, run, snapshot

KPI = ("OPS", "response_within_target_pct")  # target ≥ 90 %


def stable_year(settings, end: str, n: int = 1000) -> None:
    """Twelve months before `end` at about 96 % (σ of one month at n = 1000: 0.62 points)."""
    for i, period in enumerate(periods_ending(end, 13)[:-1]):
        snapshot(settings, period, {KPI: (95.8 if i % 2 else 96.2, n)})


def test_a_signal_opens_a_cycle_while_the_target_is_met(org):
    stable_year(org, "2026-09")
    snapshot(org, "2026-09", {KPI: (93.5, 1000)})  # still ≥ 90 %, but z = −4.1: beyond 3σ
    with UnitOfWork(org.database_url) as uow:
        [found] = misses(uow.session, org, "2026-09")
    assert (found.department, found.kpi) == KPI
    assert found.reason == "控制图特殊原因信号：1 个点超出 3σ 控制限（目标仍达标，预警）"
    assert run(org, "2026-09", datetime(2026, 10, 1, 8, tzinfo=TZ)) == [("PDCA-00001", "opened")]
    [c] = cycles(org)
    assert (c.department, c.kpi, c.baseline, c.target) == ("OPS", "response_within_target_pct", 93.5, 90.0)


def test_a_signal_on_the_good_side_or_within_limits_opens_nothing(org):
    stable_year(org, "2026-09")
    snapshot(org, "2026-09", {KPI: (98.5, 1000), ("CS", "response_within_target_pct"): (95.5, 1000)})
    with UnitOfWork(org.database_url) as uow:
        assert misses(uow.session, org, "2026-09") == []


def test_a_single_miss_on_few_observations_opens_nothing_even_with_a_signal(org):
    stable_year(org, "2026-09")
    snapshot(org, "2026-09", {KPI: (50.0, 20)})  # far below target and the limits, but n = 20 < 30
    with UnitOfWork(org.database_url) as uow:
        assert misses(uow.session, org, "2026-09") == []


def _cycle_in_check(org) -> None:
    snapshot(org, "2026-08", {("OPS", "fcr_pct"): (72.0, 100)})
    snapshot(org, "2026-09", {("OPS", "fcr_pct"): (71.0, 100)})
    run(org, "2026-09", datetime(2026, 10, 1, 8, tzinfo=TZ))
    with UnitOfWork(org.database_url, actor="liu.yang") as uow:
        cycle = get(uow.session, "PDCA-00001")
        plan(uow.session, org, cycle, root_cause="高峰时段人手不足", action_title="按话务量排班")
        start(uow.session, org, cycle)
        uow.commit()
    finish_actions(org, "PDCA-00001", datetime(2026, 10, 10, 10, tzinfo=TZ))
    assert run(org, "2026-10", datetime(2026, 10, 12, 8, tzinfo=TZ)) == [("PDCA-00001", "check")]


def test_one_good_month_at_the_end_of_the_check_is_not_a_shift(org):
    _cycle_in_check(org)
    # 74, 73 then 76 ≥ 75: the old rule (the check month's value) would have closed the cycle
    for period, value in (("2026-11", 74.0), ("2026-12", 73.0), ("2027-01", 76.0)):
        snapshot(org, period, {("OPS", "fcr_pct"): (value, 100)})
    assert run(org, "2027-01", datetime(2027, 2, 1, 8, tzinfo=TZ)) == [("PDCA-00001", "decide"),
                                                                         ("PDCA-00001", "iterate")]
    [c] = cycles(org)
    assert (c.status, c.iteration) == ("plan", 2)


def test_a_sustained_shift_closes_the_check(org):
    _cycle_in_check(org)
    for period, value in (("2026-11", 80.0), ("2026-12", 81.0), ("2027-01", 79.0)):
        snapshot(org, period, {("OPS", "fcr_pct"): (value, 100)})
    assert run(org, "2027-01", datetime(2027, 2, 1, 8, tzinfo=TZ)) == [("PDCA-00001", "decide")]
    [c] = cycles(org)
    assert (c.status, c.check_met) == ("act", True)  # z = 1.88, 2.10, 1.66 vs p̄ = 71.5 %: mean 1.88 > 3/√3
