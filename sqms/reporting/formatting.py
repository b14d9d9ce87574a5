"""How numbers, KPI values, dates and the two report languages are written (pure functions).

Used by the Jinja2 filters of `sqms.reporting.render`, by the executive-summary sentences
of the domain reports and by the XLSX/markdown exports, so a value reads the same everywhere.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from sqms.calendar import parse_period
from sqms.kpi_catalog import KPI_BY_CODE, KpiDefinition

NO_VALUE = "—"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!])")

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "met": ("达标", "met"),
    "missed": ("未达标", "missed"),
    "no_target": ("无目标", "no target"),
    "no_data": ("无数据", "no data"),
}


def is_zh(locale: str | None) -> bool:
    return (locale or "zh_CN").lower().startswith("zh")


def t(locale: str | None, zh: str, en: str) -> str:
    """The text in the report language: Chinese for zh_CN (the default), else English."""
    return zh if is_zh(locale) else en


def organisation_name(organisation: Any, locale: str | None) -> str:
    """The organisation's name in the report language: its English name for en when one is configured."""
    return organisation.name if is_zh(locale) or not organisation.name_en else organisation.name_en


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or pandas.NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # containers
        return False


def kpi_definition(kpi: str | KpiDefinition) -> KpiDefinition:
    return kpi if isinstance(kpi, KpiDefinition) else KPI_BY_CODE[kpi]


def number(value: Any, decimals: int = 0) -> str:
    """`1,234.5`; `—` for a missing value."""
    if is_missing(value):
        return NO_VALUE
    return f"{float(value):,.{decimals}f}"


def percent(value: Any, decimals: int = 1) -> str:
    """A value already in percent (0–100) as `12.3%`."""
    if is_missing(value):
        return NO_VALUE
    return f"{float(value):.{decimals}f}%"


def _unit_suffix(unit: str, locale: str | None) -> str:
    if unit == "h":
        return " h" if not is_zh(locale) else "小时"
    return unit


def fmt_value(value: Any, kpi: str | KpiDefinition, locale: str | None = "zh_CN", unit: bool = True) -> str:
    """A KPI value with the KPI's decimals and unit: `91.2%`, `3.45‰`, `18.5小时`, `1,234`."""
    definition = kpi_definition(kpi)
    if is_missing(value):
        return NO_VALUE
    text = number(value, definition.decimals)
    return text + (_unit_suffix(definition.unit, locale) if unit else "")


def fmt_interval(kpi: str | KpiDefinition, extra: Any, locale: str | None = "zh_CN") -> str:
    """The 95 % uncertainty stored with a value (DESIGN §4): the Wilson interval of csat_top2_pct
    (`95% CI 62.4–85.3%`), the margin of the NPS (`±15.3`); empty when there is none."""
    definition = kpi_definition(kpi)
    extra = extra if isinstance(extra, dict) else {}
    ci, margin = extra.get("ci95"), extra.get("margin95")
    if ci and len(ci) == 2 and not any(is_missing(v) for v in ci):
        low, high = (number(v, definition.decimals) for v in ci)
        return t(locale, f"95%置信区间 {low}–{high}{definition.unit}", f"95% CI {low}–{high}{definition.unit}")
    if not is_missing(margin):
        return t(locale, f"95%误差 ±{number(margin, definition.decimals)}",
                 f"95% margin ±{number(margin, definition.decimals)}")
    return ""


def comparator(kpi: str | KpiDefinition) -> str:
    better = kpi_definition(kpi).better
    return "≥" if better == "higher" else "≤" if better == "lower" else ""


def fmt_target(target: Any, kpi: str | KpiDefinition, locale: str | None = "zh_CN") -> str:
    """`≥95%`, `≤24小时`; `—` when the KPI has no target."""
    definition = kpi_definition(kpi)
    if is_missing(target) or definition.better is None:
        return NO_VALUE
    text = f"{float(target):,.{definition.decimals}f}"
    if "." in text:  # targets are round numbers: ≥95%, not ≥95.0%
        text = text.rstrip("0").rstrip(".")
    return comparator(definition) + text + _unit_suffix(definition.unit, locale)


def fmt_change(change: Any, kpi: str | KpiDefinition, locale: str | None = "zh_CN") -> str:
    """A month-over-month difference with its sign: `+1.2个百分点` / `+1.2 pp`, `−0.35‰`, `+120`."""
    definition = kpi_definition(kpi)
    if is_missing(change):
        return NO_VALUE
    value = round(float(change), definition.decimals)
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    text = f"{abs(value):,.{definition.decimals}f}"
    if definition.unit == "%":
        suffix = "个百分点" if is_zh(locale) else " pp"
    else:
        suffix = _unit_suffix(definition.unit, locale)
    return f"{sign}{text}{suffix}"


FIGURE_DECIMALS: dict[str, int] = {"csat_mean": 2, "p_value": 3, "difference": 2}


def figure(value: Any, name: str = "") -> str:
    """A stored figure for people (CLI, Prefect artifacts): rounded by what it is — 2 decimals for
    a CSAT mean, 3 for a p-value, 1 for rates, percentages and NPS; whole numbers as they are."""
    if is_missing(value):
        return NO_VALUE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and name.endswith(("_n", "invited", "responded")):
        return f"{int(value):,}"
    return f"{float(value):.{FIGURE_DECIMALS.get(name, 1)}f}"


def status_label(status: str, locale: str | None = "zh_CN") -> str:
    zh, en = STATUS_LABELS.get(status, (status, status))
    return t(locale, zh, en)


def kpi_label(kpi: str | KpiDefinition, locale: str | None = "zh_CN") -> str:
    return kpi_definition(kpi).label(locale or "zh_CN")


def local_datetime(moment: datetime | date | None, tz: ZoneInfo | str | None = None,
                   fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC; naive means UTC) moment shown in local time of `tz`."""
    if moment is None:
        return NO_VALUE
    if not isinstance(moment, datetime):
        return moment.strftime(fmt.split(" ")[0])
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(tz or timezone.utc).strftime(fmt)


def local_moment(moment: datetime | None, tz: ZoneInfo | str | None = None) -> datetime | None:
    """A stored (UTC; naive means UTC) moment as a naive local datetime, for a spreadsheet cell."""
    if moment is None:
        return None
    if isinstance(tz, str):
        tz = ZoneInfo(tz)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(tz or timezone.utc).replace(tzinfo=None)


def shorten(text: str, width: int) -> str:
    """At most `width` characters (a CJK character counts as two), ending with `…` when cut."""
    out, used = [], 0
    for ch in text:
        w = 2 if ord(ch) > 0x2E80 else 1
        if used + w > width:
            return "".join(out).rstrip() + "…"
        out.append(ch)
        used += w
    return text


def period_words(period: str, locale: str | None) -> str:
    """`2026年10月` in Chinese, `2026-10` in English: how a sentence names the month."""
    year, month = parse_period(period)
    return t(locale, f"{year}年{month}月", period)


def md_text(text: Any) -> str:
    """Free text as literal markdown (a table cell, a list item): specials backslash-escaped, so
    neither markup nor raw HTML from data reaches a Prefect artifact; one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, NaN/NaT/NA as None (templates and filters treat None as "no value")."""
    return [{k: None if is_missing(v) else v for k, v in row.items()} for row in frame.to_dict("records")]
