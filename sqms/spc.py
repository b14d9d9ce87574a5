"""Statistical process control on the monthly KPI series: control limits and the run rules.

Pure functions on plain lists (no database, no pandas needed), so that every limit and rule can
be checked against a hand-computed series. Three charts, as the KPI's nature asks:

- p-chart for proportions (FCR, response within target, complaint on time, CSAT top-2):
  centre p̄ = Σx/Σn over the baseline, limits p̄ ± 3·√(p̄(1−p̄)/nᵢ) from each period's own n;
- u-chart for rates per 1,000 (complaints per 1,000 records): ū = Σc/Σa over the baseline
  (a = records/1000), limits ū ± 3·√(ū/aᵢ);
- XmR (individuals) for means (handling hours, CSAT mean): centre x̄ of the baseline, σ̂ = MR̄/1.128.

Points are standardised as zᵢ = (valueᵢ − centreᵢ)/σᵢ, so that the Western Electric / Nelson
rules read the same on every chart, with varying n handled by each point's own σ:

1. one point beyond 3σ;
2. two of three consecutive points beyond 2σ on the same side;
3. eight points in a row on the same side of the centre line;
4. six points in a row steadily rising or falling (six points, five steps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Literal

D2 = 1.128  # unbiasing constant of the moving range of two (d₂ for n = 2)

ChartKind = Literal["p", "u", "xmr"]

# kpi -> chart kind: proportions in percent, rates per 1,000, means. Volume and NPS are not charted
# (volume is not a quality characteristic; the NPS is a difference of two proportions).
CHART_OF: dict[str, ChartKind] = {
    "fcr_pct": "p",
    "response_within_target_pct": "p",
    "complaint_on_time_pct": "p",
    "complaint_closure_pct": "p",
    "csat_top2_pct": "p",
    "complaint_rate_per_1000": "u",
    "avg_handling_hours": "xmr",
    "csat_mean": "xmr",
}
# Volume-heavy KPIs (every service record counts, thousands a month): also charted by week, where a
# drift shows within weeks instead of months. The complaint and survey KPIs have too few events a week.
WEEKLY_KPIS: tuple[str, ...] = ("fcr_pct", "response_within_target_pct", "avg_handling_hours")

SCALE: dict[ChartKind, float] = {"p": 100.0, "u": 1000.0, "xmr": 1.0}  # value = proportion · scale

RULES: dict[str, tuple[str, str]] = {
    "beyond_3sigma": ("1 个点超出 3σ 控制限", "a point beyond the 3σ control limit"),
    "two_of_three_2sigma": ("连续 3 个点中有 2 个点在同一侧超出 2σ", "2 of 3 points in a row beyond 2σ on the same side"),
    "eight_one_side": ("连续 8 个点落在中心线同一侧", "8 points in a row on the same side of the centre line"),
    "six_trend": ("连续 6 个点持续上升或下降", "6 points in a row steadily rising or falling"),
}


def rule_words(rule: str, locale: str) -> str:
    zh, en = RULES[rule]
    return zh if locale.startswith("zh") else en


@dataclass(frozen=True)
class Signal:
    """A rule that fired, at the index of the point that completed it."""

    rule: str
    index: int
    side: Literal["high", "low"]  # above or below the centre line (for a trend: rising or falling)
    points: tuple[int, ...]  # the indexes the rule looked at

    def words(self, locale: str) -> str:
        return rule_words(self.rule, locale)


@dataclass
class ControlChart:
    """A charted series: value, centre and limits per point (None where there is no value)."""

    kind: ChartKind
    values: list[float | None]
    centre: list[float | None]
    sigma: list[float | None]
    baseline: tuple[int, int]  # [start, end) of the points the limits come from
    signals: list[Signal] = field(default_factory=list)

    def limit(self, index: int, k: float) -> float | None:
        c, s = self.centre[index], self.sigma[index]
        if c is None or s is None:
            return None
        out = c + k * s
        if self.kind in ("p", "u"):  # a proportion or rate cannot go below 0 (nor a proportion above 100 %)
            out = max(out, 0.0)
            if self.kind == "p":
                out = min(out, SCALE["p"])
        return out

    @property
    def ucl(self) -> list[float | None]:
        return [self.limit(i, 3) for i in range(len(self.values))]

    @property
    def lcl(self) -> list[float | None]:
        return [self.limit(i, -3) for i in range(len(self.values))]

    def z(self) -> list[float | None]:
        out: list[float | None] = []
        for v, c, s in zip(self.values, self.centre, self.sigma):
            if v is None or c is None or s is None:
                out.append(None)
            elif s == 0:
                out.append(0.0 if v == c else math.copysign(math.inf, v - c))
            else:
                out.append((v - c) / s)
        return out


def _clean(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]


def _baseline(length: int, baseline: int | None) -> tuple[int, int]:
    end = length if baseline is None else max(0, min(baseline, length))
    return 0, end


def p_chart(values: Sequence[float | None], n: Sequence[int], *, baseline: int | None = None,
            scale: float = 100.0) -> ControlChart:
    """p-chart of proportions given as `value` = proportion·`scale` (percent by default), each with its n;
    the limits come from the first `baseline` points (all when None) and each point's own n."""
    vals = _clean(values)
    start, end = _baseline(len(vals), baseline)
    x = sum(v / scale * k for v, k in zip(vals[start:end], n[start:end]) if v is not None and k)
    total = sum(k for v, k in zip(vals[start:end], n[start:end]) if v is not None and k)
    centre: list[float | None] = []
    sigma: list[float | None] = []
    pbar = x / total if total else None
    for v, k in zip(vals, n):
        if pbar is None or not k:
            centre.append(None)
            sigma.append(None)
        else:
            centre.append(pbar * scale)
            sigma.append(math.sqrt(pbar * (1 - pbar) / k) * scale)
    return _finish(ControlChart("p", vals, centre, sigma, (start, end)))


def u_chart(values: Sequence[float | None], n: Sequence[int], *, baseline: int | None = None,
            per: float = 1000.0) -> ControlChart:
    """u-chart of rates per `per` units (complaints per 1,000 records), each with its n units."""
    vals = _clean(values)
    start, end = _baseline(len(vals), baseline)
    events = sum(v * k / per for v, k in zip(vals[start:end], n[start:end]) if v is not None and k)
    area = sum(k / per for v, k in zip(vals[start:end], n[start:end]) if v is not None and k)
    ubar = events / area if area else None
    centre: list[float | None] = []
    sigma: list[float | None] = []
    for k in n:
        if ubar is None or not k:
            centre.append(None)
            sigma.append(None)
        else:
            centre.append(ubar)
            sigma.append(math.sqrt(ubar / (k / per)))
    return _finish(ControlChart("u", vals, centre, sigma, (start, end)))


def moving_range_sigma(values: Sequence[float | None]) -> float | None:
    """σ̂ = mean moving range of consecutive values / 1.128 (a gap breaks the moving range)."""
    vals = _clean(values)
    ranges = [abs(b - a) for a, b in pairwise(vals) if a is not None and b is not None]
    return sum(ranges) / len(ranges) / D2 if ranges else None


def xmr_chart(values: Sequence[float | None], *, baseline: int | None = None,
              sigma: float | None = None) -> ControlChart:
    """Individuals chart: centre x̄ of the baseline, σ̂ = mean moving range / 1.128 of the baseline
    (or `sigma` when given, e.g. from a longer history than the baseline)."""
    vals = _clean(values)
    start, end = _baseline(len(vals), baseline)
    base = vals[start:end]
    present = [v for v in base if v is not None]
    s = sigma if sigma is not None else moving_range_sigma(base)
    if not present or s is None:
        none: list[float | None] = [None] * len(vals)
        return ControlChart("xmr", vals, list(none), list(none), (start, end))
    xbar = sum(present) / len(present)
    return _finish(ControlChart("xmr", vals, [xbar] * len(vals), [s] * len(vals), (start, end)))


def chart_for(kpi: str, values: Sequence[float | None], n: Sequence[int], *,
              baseline: int | None = None, sigma: float | None = None) -> ControlChart | None:
    """The chart the KPI's nature asks for (CHART_OF), or None for a KPI not charted."""
    kind = CHART_OF.get(kpi)
    if kind == "p":
        return p_chart(values, n, baseline=baseline)
    if kind == "u":
        return u_chart(values, n, baseline=baseline)
    if kind == "xmr":
        return xmr_chart(values, baseline=baseline, sigma=sigma)
    return None


def _finish(chart: ControlChart) -> ControlChart:
    chart.signals = run_rules(chart.values, chart.z())
    return chart


def run_rules(values: Sequence[float | None], z: Sequence[float | None]) -> list[Signal]:
    """Every signal of the four rules, in the order of the points that complete them. A missing point
    breaks a run (the rules count consecutive months)."""
    signals: list[Signal] = []
    n = len(z)
    for i in range(n):
        zi = z[i]
        if zi is None:
            continue
        if abs(zi) > 3:
            signals.append(Signal("beyond_3sigma", i, "high" if zi > 0 else "low", (i,)))
        window = list(range(max(0, i - 2), i + 1))
        if len(window) == 3 and all(z[j] is not None for j in window):
            for side, sign in (("high", 1), ("low", -1)):
                beyond = [j for j in window if sign * z[j] > 2]  # type: ignore[operator]
                if len(beyond) >= 2 and i in beyond:
                    signals.append(Signal("two_of_three_2sigma", i, side, tuple(window)))  # type: ignore[arg-type]
        window = list(range(i - 7, i + 1))
        if i >= 7 and all(z[j] is not None for j in window):
            for side, sign in (("high", 1), ("low", -1)):
                if all(sign * z[j] > 0 for j in window):  # type: ignore[operator]
                    signals.append(Signal("eight_one_side", i, side, tuple(window)))  # type: ignore[arg-type]
        window = list(range(i - 5, i + 1))
        if i >= 5 and all(values[j] is not None for j in window):
            steps = [values[j + 1] - values[j] for j in window[:-1]]  # type: ignore[operator]
            if all(s > 0 for s in steps):
                signals.append(Signal("six_trend", i, "high", tuple(window)))
            elif all(s < 0 for s in steps):
                signals.append(Signal("six_trend", i, "low", tuple(window)))
    return signals


def weekly_window(month_start: date, month_end: date, *, weeks: int) -> tuple[list[date], int]:
    """The Mondays of the `weeks` whole weeks (Monday–Sunday) that end on or before `month_end` (the
    month's last day), oldest first, and the index of the first week of the month (the first whose
    Sunday is in the month: a week belongs to the month it ends in, so each week is in one report)."""
    last = month_end - timedelta(days=(month_end.weekday() + 1) % 7)  # the last Sunday on or before month_end
    last_monday = last - timedelta(days=6)
    mondays = [last_monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    first = next((i for i, m in enumerate(mondays) if m + timedelta(days=6) >= month_start), len(mondays))
    return mondays, first


def week_label(monday: date) -> str:
    """`2026-W41`: the ISO week."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def worse_side(better: str | None) -> str | None:
    """The side of the centre line that is bad news for a KPI whose `better` is higher/lower."""
    return {"higher": "low", "lower": "high"}.get(better or "")


def adverse(signals: Sequence[Signal], better: str | None) -> list[Signal]:
    """The signals on the KPI's bad side (a special cause to act on, not a welcome one)."""
    bad = worse_side(better)
    return [s for s in signals if s.side == bad]


def sustained_shift(chart: ControlChart, better: str | None, *, since: int, run: int = 8,
                    min_points: int = 3) -> bool:
    """Whether the process shifted to the good side after index `since` (the month a cycle acted):
    either `run` points in a row on the good side of the centre line (the eight-in-a-row rule read
    the good way), or a limit change: the mean z of the `min_points` or more points since lies beyond
    3/√k on the good side, i.e. the centre line itself moved (re-computed limits would exclude the
    old centre). One good month is neither."""
    good = {"higher": 1, "lower": -1}.get(better or "")
    if good is None:
        return False
    z = [v for v in chart.z()[since + 1:]]
    streak = 0
    for value in z:
        streak = streak + 1 if value is not None and good * value > 0 else 0
        if streak >= run:
            return True
    present = [good * v for v in z if v is not None and not math.isinf(v)]
    return len(present) >= min_points and sum(present) / len(present) > 3 / math.sqrt(len(present))
