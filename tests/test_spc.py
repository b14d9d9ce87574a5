"""Control limits and the run rules against hand-computed series (no database)."""

from __future__ import annotations

import math

import pytest

from sqms import spc


def test_p_chart_limits_come_from_each_periods_own_n():
    # baseline: 10/100, 60/200 → 30 %, 20/100; p̄ = (10 + 60 + 20) / 400 = 0.225
    values = [10.0, 30.0, 20.0, 30.0, 30.0]
    n = [100, 200, 100, 100, 1600]
    chart = spc.p_chart(values, n, baseline=3)
    assert chart.centre[0] == pytest.approx(22.5)
    sigma_100 = math.sqrt(0.225 * 0.775 / 100) * 100  # 4.1758 points
    sigma_1600 = math.sqrt(0.225 * 0.775 / 1600) * 100  # 1.0440 points
    assert chart.sigma[3] == pytest.approx(sigma_100) and chart.sigma[4] == pytest.approx(sigma_1600)
    assert chart.ucl[3] == pytest.approx(22.5 + 3 * 4.17584, abs=1e-4)
    assert chart.lcl[1] == pytest.approx(22.5 - 3 * math.sqrt(0.225 * 0.775 / 200) * 100)
    # the same 30 % is common cause on n = 100 (z = 1.80) and a signal on n = 1600 (z = 7.18)
    z = chart.z()
    assert z[3] == pytest.approx(7.5 / sigma_100) and abs(z[3]) < 2
    assert z[4] == pytest.approx(7.5 / sigma_1600)
    fired = {(s.rule, s.index) for s in chart.signals}
    assert ("beyond_3sigma", 4) in fired and ("beyond_3sigma", 3) not in fired
    assert ("beyond_3sigma", 0) not in fired  # 10 % on n = 100: z = −2.99, just inside


def test_p_chart_lower_limit_is_never_below_zero():
    chart = spc.p_chart([2.0, 4.0, 3.0], [50, 50, 50])
    assert chart.lcl == [0.0, 0.0, 0.0]


def test_u_chart_rate_per_1000_with_varying_exposure():
    # 2 complaints in 1,000 records, 4 in 1,000, 6 in 2,000 → ū = 12 / 4 = 3 per 1,000
    chart = spc.u_chart([2.0, 4.0, 3.0, 9.0, 9.0], [1000, 1000, 2000, 1000, 4000], baseline=3)
    assert chart.centre[0] == pytest.approx(3.0)
    assert chart.sigma[0] == pytest.approx(math.sqrt(3.0))  # √(ū / a), a = 1 thousand records
    assert chart.ucl[3] == pytest.approx(3 + 3 * math.sqrt(3.0))  # 8.196
    assert chart.sigma[4] == pytest.approx(math.sqrt(3.0 / 4))
    fired = {(s.rule, s.index) for s in chart.signals}
    assert ("beyond_3sigma", 3) in fired and ("beyond_3sigma", 4) in fired
    assert chart.z()[3] == pytest.approx(6 / math.sqrt(3))  # 3.46


def test_xmr_limits_from_the_mean_moving_range():
    # x̄ = 11.6; moving ranges 2, 1, 2, 1 → MR̄ = 1.5; σ̂ = 1.5 / 1.128 = 1.3298
    chart = spc.xmr_chart([10, 12, 11, 13, 12, 16, 11], baseline=5)
    assert chart.centre[0] == pytest.approx(11.6)
    assert chart.sigma[0] == pytest.approx(1.5 / 1.128)
    assert chart.ucl[0] == pytest.approx(11.6 + 3 * 1.5 / 1.128)  # 15.589
    assert chart.lcl[0] == pytest.approx(11.6 - 3 * 1.5 / 1.128)  # 7.611
    assert [(s.rule, s.index) for s in chart.signals] == [("beyond_3sigma", 5)]


def _rules(z: list[float | None], values: list[float] | None = None) -> set[tuple[str, int, str]]:
    values = values if values is not None else [0.0, 1.0] * (len(z) // 2) + [0.0] * (len(z) % 2)
    return {(s.rule, s.index, s.side) for s in spc.run_rules(values, z)}


def test_rule_one_point_beyond_three_sigma():
    assert _rules([0.5, -3.2, 0.4, 3.0]) == {("beyond_3sigma", 1, "low")}  # exactly 3 is inside


def test_rule_two_of_three_beyond_two_sigma_on_the_same_side():
    assert ("two_of_three_2sigma", 2, "high") in _rules([2.1, 0.3, 2.5])
    assert not any(r[0] == "two_of_three_2sigma" for r in _rules([2.1, 0.3, -2.5]))  # opposite sides
    assert not any(r[0] == "two_of_three_2sigma" for r in _rules([2.1, 0.3, 1.9, 0.1]))
    # the rule fires at the point that completes it, and a gap breaks the window
    assert not any(r[0] == "two_of_three_2sigma" for r in _rules([2.1, None, 2.5]))


def test_rule_eight_in_a_row_on_one_side():
    z = [-0.2] + [0.1, 0.4, 0.9, 0.2, 1.1, 0.3, 0.5, 0.6]
    assert {r for r in _rules(z) if r[0] == "eight_one_side"} == {("eight_one_side", 8, "high")}
    assert not any(r[0] == "eight_one_side" for r in _rules(z[:-1]))  # seven is not enough
    assert not any(r[0] == "eight_one_side" for r in _rules([0.1] * 4 + [None] + [0.1] * 4))


def test_rule_six_rising_or_falling():
    z = [0.0] * 7
    assert ("six_trend", 5, "high") in _rules(z[:6], [1, 2, 3, 4, 5, 6])
    assert ("six_trend", 6, "low") in _rules(z, [9, 8, 7, 6, 5, 4, 3])
    assert not any(r[0] == "six_trend" for r in _rules(z[:6], [1, 2, 3, 3, 5, 6]))  # a tie breaks it
    assert not any(r[0] == "six_trend" for r in _rules(z[:5], [1, 2, 3, 4, 5]))  # five points


def test_rule_in_words_in_both_languages():
    assert spc.rule_words("eight_one_side", "zh_CN") == "连续 8 个点落在中心线同一侧"
    assert spc.rule_words("six_trend", "en") == "6 points in a row steadily rising or falling"


def test_adverse_signals_are_on_the_kpis_bad_side():
    chart = spc.p_chart([80, 80, 80, 80, 50], [400] * 5, baseline=4)
    chart_high = spc.p_chart([80, 80, 80, 80, 99], [400] * 5, baseline=4)
    assert [s.rule for s in spc.adverse(chart.signals, "higher")] == ["beyond_3sigma"]
    assert spc.adverse(chart_high.signals, "higher") == []
    assert spc.adverse(chart_high.signals, "lower") != []


def test_a_shift_needs_a_sustained_run_or_a_moved_centre_not_one_good_month():
    base = [70.0, 72.0, 71.0, 69.0, 70.0, 71.0]
    n = [500] * 12
    one_good = spc.p_chart(base + [76.0, 70.0, 71.0], n[:9], baseline=6)
    assert not spc.sustained_shift(one_good, "higher", since=5)
    moved = spc.p_chart(base + [75.0, 76.0, 74.5], n[:9], baseline=6)  # the centre moved up by ~2.5σ
    assert spc.sustained_shift(moved, "higher", since=5)
    assert not spc.sustained_shift(moved, "lower", since=5)
    run = spc.p_chart(base + [71.2, 71.5, 71.1, 71.3, 71.4, 71.2, 71.6, 71.3], [500] * 14, baseline=6)
    assert spc.sustained_shift(run, "higher", since=5)  # eight small steps on the good side
    assert not spc.sustained_shift(run, "higher", since=6)  # only seven after month 6
