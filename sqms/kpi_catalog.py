"""The KPIs of DESIGN.md §4: codes, direction, units and labels (no computation here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class KpiDefinition:
    code: str
    better: Literal["higher", "lower"] | None  # None: informative only, never met/missed
    unit: str
    decimals: int
    label_zh: str
    label_en: str
    source: Literal["records", "complaints", "responses", "training", "monitoring"]

    def label(self, locale: str) -> str:
        return self.label_zh if locale.startswith("zh") else self.label_en


KPIS: tuple[KpiDefinition, ...] = (
    KpiDefinition("record_volume", None, "", 0, "服务量", "Service volume", "records"),
    KpiDefinition("avg_handling_hours", "lower", "h", 1, "平均处理时长", "Average handling time", "records"),
    KpiDefinition("fcr_pct", "higher", "%", 1, "首次解决率", "First-contact resolution", "records"),
    KpiDefinition(
        "response_within_target_pct", "higher", "%", 1, "响应及时率", "Responses within target", "records"
    ),
    KpiDefinition(
        "complaint_rate_per_1000", "lower", "‰", 2, "千单投诉率", "Complaints per 1,000 records", "complaints"
    ),
    KpiDefinition(
        "complaint_on_time_pct", "higher", "%", 1, "投诉按时办结率", "Complaints settled on time", "complaints"
    ),
    KpiDefinition("complaint_closure_pct", "higher", "%", 1, "投诉办结率", "Complaint closure", "complaints"),
    KpiDefinition("csat_mean", "higher", "", 2, "客户满意度均值", "CSAT mean", "responses"),
    KpiDefinition("csat_top2_pct", "higher", "%", 1, "满意率(4-5分)", "CSAT top-2-box", "responses"),
    KpiDefinition("nps", "higher", "", 1, "净推荐值", "NPS", "responses"),
    KpiDefinition("sop_training_completion_pct", "higher", "%", 1, "制度培训按期完成率", "SOP training completion",
                  "training"),
    # service monitoring (DESIGN.md §9, issue 15)
    KpiDefinition("inspection_score", "higher", "", 1, "服务检查得分", "Inspection score", "monitoring"),
    KpiDefinition("mystery_shopper_score", "higher", "", 1, "神秘顾客/第三方评分", "Mystery-shopper score",
                  "monitoring"),
    KpiDefinition("service_error_rate_per_1000", "lower", "‰", 2, "千单服务差错率", "Service errors per 1,000 records",
                  "monitoring"),
    KpiDefinition("praise_rate_per_1000", "higher", "‰", 2, "千单表扬率", "Compliments per 1,000 records",
                  "monitoring"),
)

KPI_BY_CODE: dict[str, KpiDefinition] = {k.code: k for k in KPIS}
KPI_CODES: tuple[str, ...] = tuple(KPI_BY_CODE)

# What a target can sensibly be, by KPI: (low, high, what the range is); None = unbounded.
TARGET_RANGES: dict[str, tuple[float | None, float | None, str]] = {
    "record_volume": (0, None, "a count"),
    "avg_handling_hours": (0, None, "hours"),
    "fcr_pct": (0, 100, "a percentage"),
    "response_within_target_pct": (0, 100, "a percentage"),
    "complaint_rate_per_1000": (0, 1000, "complaints per 1,000 records"),
    "complaint_on_time_pct": (0, 100, "a percentage"),
    "complaint_closure_pct": (0, 100, "a percentage"),
    "csat_mean": (1, 5, "the CSAT scale"),
    "csat_top2_pct": (0, 100, "a percentage"),
    "nps": (-100, 100, "the NPS range"),
    "inspection_score": (0, 100, "a score"),
    "mystery_shopper_score": (0, 100, "a score"),
    "service_error_rate_per_1000": (0, 1000, "service errors per 1,000 records"),
    "praise_rate_per_1000": (0, 1000, "compliments per 1,000 records"),
}


def target_problem(kpi: str, value: float | None) -> str | None:
    """Why `value` cannot be a target of `kpi` (e.g. a CSAT of 42), or None."""
    if value is None or kpi not in TARGET_RANGES:
        return None
    low, high, what = TARGET_RANGES[kpi]
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low:g}–{high:g}" if high is not None else f"at least {low:g}"
        return f"{value:g} is outside {what} ({bounds})"
    return None


CHANNELS: tuple[str, ...] = ("phone", "online", "email", "onsite")
SEVERITIES: tuple[str, ...] = ("normal", "special")


# rates per 1,000 records: the counted events they rest on (the key of the value's `extra`)
RATE_EVENTS: dict[str, str] = {"complaint_rate_per_1000": "complaints", "service_error_rate_per_1000": "errors",
                               "praise_rate_per_1000": "compliments"}


def observations(kpi: str, n: int, extra: dict | None = None) -> int:
    """How many observations a value rests on. For a rate per 1,000 records it is the events counted,
    not the records: one complaint in 133 records is one observation of a complaint, however many
    records there were (n, the denominator, stays what `sqms kpi` shows)."""
    key = RATE_EVENTS.get(kpi)
    if key is not None and extra and extra.get(key) is not None:
        return min(int(n), int(extra[key]))
    return int(n)


def status_of(kpi: str, value: float | None, target: float | None) -> str:
    """met | missed | no_target | no_data: a value against its target in the KPI's direction.

    One rule for the stored KPIs and for the figures the domain reports recompute (e.g. the
    complaint analysis per department), so the two can never disagree on "met"."""
    if value is None:
        return "no_data"
    better = KPI_BY_CODE[kpi].better
    if target is None or better is None:
        return "no_target"
    v, t = round(value, 9), round(target, 9)
    return "met" if (v >= t if better == "higher" else v <= t) else "missed"
