"""Early signals on complaints: is a category rising in a department, against its own baseline?

For each department × category cell, this month's count x is compared with the same cell's counts
over the `baseline` months before (sum S over m months). Under "no change" the month and the
baseline months share one Poisson rate, so given T = x + S the month's share is Binomial(T, 1/(m+1))
— the exact conditional test of two Poisson rates, which needs no estimate of the rate (a quiet cell
with a short history is not over-flagged). The one-sided p-values of all cells are then controlled
together for the false-discovery rate (Benjamini–Hochberg, `scipy.stats.false_discovery_control`):
with many cells, at most about `fdr` of the flagged ones are expected to be chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.calendar import month_bounds, periods_ending, to_local, utcnow
from sqms.complaints.models import Complaint
from sqms.config import Settings

DEFAULT_FDR = 0.05
MIN_COUNT = 3  # fewer complaints in the month is never "a rise", whatever the baseline
MIN_BASELINE_MONTHS = 3  # baseline months with any complaint at all, below which there is no baseline


@dataclass(frozen=True)
class Rise:
    department: str
    category: str
    count: int  # this month
    baseline_mean: float  # per month over the baseline
    p_value: float
    q_value: float  # BH-adjusted

    def words(self, locale: str) -> str:
        if locale.startswith("zh"):
            return (f"“{self.category}”类投诉本月 {self.count} 件，基线月均 {self.baseline_mean:.1f} 件，"
                    f"显著上升（FDR 校正 q = {self.q_value:.3f}）")
        return (f"'{self.category}' complaints: {self.count} this month against {self.baseline_mean:.1f} a month "
                f"before, a significant rise (FDR-adjusted q = {self.q_value:.3f})")


def rising(counts: pd.DataFrame, period: str, baseline: list[str], *, fdr: float = DEFAULT_FDR,
           min_count: int = MIN_COUNT) -> list[Rise]:
    """The department × category cells whose count in `period` rose significantly against `baseline`
    (the periods before it), from `counts` (period, department, category, count; missing = 0)."""
    m = len(baseline)
    known = counts[counts["period"].isin(baseline) & (counts["count"] > 0)]["period"].nunique()
    if m == 0 or known < MIN_BASELINE_MONTHS:
        return []  # no baseline yet (a new installation, or history not imported): nothing to rise against
    cells = counts[counts["period"].isin([*baseline, period])]
    table = cells.pivot_table(index=["department", "category"], columns="period", values="count",
                              aggfunc="sum", fill_value=0)
    if period not in table.columns:
        return []
    x = table[period].to_numpy(dtype=int)
    s = table[[p for p in baseline if p in table.columns]].sum(axis=1).to_numpy(dtype=int)
    total = x + s
    p_values = np.where(total > 0, stats.binom.sf(x - 1, total, 1.0 / (m + 1)), 1.0)
    q_values = stats.false_discovery_control(p_values, method="bh")
    out = []
    for (department, category), xi, si, p, q in zip(table.index, x, s, p_values, q_values):
        if q <= fdr and xi >= min_count and xi > si / m:
            out.append(Rise(str(department), str(category), int(xi), si / m, float(p), float(q)))
    return sorted(out, key=lambda r: (r.q_value, r.department, r.category))


def monthly_counts(complaints: pd.DataFrame, month_of: pd.Series) -> pd.DataFrame:
    """(period, department, category, count) from complaints and the month each belongs to."""
    frame = pd.DataFrame({"period": month_of.to_numpy(), "department": complaints["department"].astype(str).to_numpy(),
                          "category": complaints["category"].astype(str).to_numpy()})
    return frame.groupby(["period", "department", "category"], observed=True).size().rename("count").reset_index()


def complaint_rises(session: Session, settings: Settings, period: str) -> list[Rise]:
    """The rises of `period` against the `complaints.signal_baseline_months` before it (by the month of
    receipt, local time), at the configured FDR."""
    rule = settings.complaints
    months = periods_ending(period, rule.signal_baseline_months + 1)
    start, _ = month_bounds(months[0], settings.tz)
    _, end = month_bounds(period, settings.tz)
    rows = session.execute(select(Complaint.received_at, Complaint.department, Complaint.category).where(
        Complaint.received_at >= start, Complaint.received_at < end)).all()
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["received_at", "department", "category"])
    local = pd.to_datetime(frame["received_at"], utc=True).dt.tz_convert(settings.tz)
    return rising(monthly_counts(frame, local.dt.strftime("%Y-%m")), period, months[:-1], fdr=rule.signal_fdr)


NOTICE_PROCESS = "complaint-signals"


def queue_rise_notices(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """The hourly watch: a category rising this month (so far) in a department is told to the
    department's manager, once per department, category and month (a pending notice is refreshed
    with the latest count, a sent one is never repeated). Returns the notices new or refreshed."""
    from sqms.notify.compose import compose
    from sqms.notify.service import enqueue

    now = now or utcnow()
    period = to_local(now, settings.tz).strftime("%Y-%m")
    queued = 0
    for rise in complaint_rises(session, settings, period):
        manager = settings.department_manager(rise.department)
        if manager is None:
            continue
        mail = compose(settings, "complaint_rise", manager, rise=rise, period=period,
                       department=settings.department(rise.department).label(settings.locale),
                       words=rise.words(settings.locale))
        _, changed = enqueue(session, process=NOTICE_PROCESS, obj=f"rise:{rise.department}:{rise.category}",
                             period=period, email=mail, sender_domain=settings.smtp.sender.partition("@")[2])
        queued += int(changed)
    return queued
