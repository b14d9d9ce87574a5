"""Small, self-contained SVG charts for the reports (matplotlib's SVG backend, no pyplot).

Text stays text (`svg.fonttype = none`), so Chinese labels are drawn by the reader's
browser with its own CJK fonts; the SVG carries a font-family list instead of glyph
outlines. Each chart is post-processed to be inlined in HTML: no XML prolog, DOCTYPE or
metadata, ids prefixed per chart (several charts share one document), unreferenced ids
dropped, and it scales to the width of its container.

Every function returns the SVG markup as a `str`; the text inside is XML-escaped by
matplotlib, so data such as complaint categories cannot inject markup. Wrap the result in
`markupsafe.Markup` to place it in an autoescaped template.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import threading
import warnings
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sqms.reporting.formatting import is_missing, shorten, t

FONT_FAMILY = ["Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "SimHei", "DejaVu Sans", "sans-serif"]
COLOURS = {
    "met": "#2e7d32",
    "missed": "#c62828",
    "no_target": "#9aa5b1",
    "no_data": "#cbd2d9",
    "line": "#1f5fa8",
    "target": "#e07b00",
    "bar": "#3e7cb1",
    "cumulative": "#e07b00",
    "grid": "#e4e7eb",
    "text": "#1f2933",
    "muted": "#616e7c",
}
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "sqms",  # stable ids: the same data gives the same SVG
    "font.family": FONT_FAMILY,
    "font.size": 8,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": COLOURS["text"],
    "xtick.color": COLOURS["muted"],
    "ytick.color": COLOURS["muted"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": True,
}
_LOCK = threading.Lock()  # rcParams are process-global
_FONT_FAMILY_CSS = ", ".join(f"'{name}'" if " " in name else name for name in FONT_FAMILY)


@contextmanager
def _quiet_matplotlib() -> Iterator[None]:
    """Our rc settings, without the font-not-found and missing-glyph noise (the browser draws the text)."""
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    with _LOCK, matplotlib.rc_context(_RC), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph .* missing.*")
        warnings.filterwarnings("ignore", message=r".*findfont.*")
        font_log.setLevel(logging.ERROR)
        try:
            yield
        finally:
            font_log.setLevel(level)


_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*", re.S)
_FONT_FAMILY_DECL = re.compile(r"font-family:[^;\"]*;?\s*")
_ID = re.compile(r'\sid="([^"]+)"')
_ROOT_SIZE = re.compile(r'<svg([^>]*?)\swidth="([\d.]+)pt"\sheight="([\d.]+)pt"')


def _finish(fig: Figure, title: str) -> str:
    """The figure as inline-ready SVG markup."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = _PROLOG.sub("", buffer.getvalue())
    svg = _FONT_FAMILY_DECL.sub("", svg)
    referenced = set(re.findall(r'#([^\s")]+)', svg))
    prefix = "c" + hashlib.sha1((title + svg).encode()).hexdigest()[:8] + "-"

    def rename(match: re.Match) -> str:
        ident = match.group(1)
        return f' id="{prefix}{ident}"' if ident in referenced else ""

    svg = _ID.sub(rename, svg)
    for ident in referenced:
        svg = svg.replace(f'"#{ident}"', f'"#{prefix}{ident}"').replace(f"url(#{ident})", f"url(#{prefix}{ident})")
    svg = svg.replace(' style="fill: #ffffff"', ' style="fill: none"', 1)  # transparent page background
    svg = _ROOT_SIZE.sub(
        lambda m: (f'<svg{m.group(1)} class="chart" role="img" aria-label="{_attr(title)}" width="100%"'
                   f' style="max-width:{float(m.group(2)) * 4 / 3:.0f}px;height:auto;'
                   f'font-family:{_FONT_FAMILY_CSS}"'),
        svg, count=1)
    svg = svg.replace(">", f"><title>{_text(title)}</title>", 1) if title else svg
    return re.sub(r"\n\s*", "\n", svg).strip()


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return _text(value).replace('"', "&quot;")


def _value(value: Any) -> float:
    return math.nan if is_missing(value) else float(value)


def _axis_formatter(unit: str, decimals: int) -> FuncFormatter:
    def fmt(v: float, _pos: Any) -> str:
        text = f"{v:,.{max(decimals, 1)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        text = "0" if text in ("-0", "−0") else text
        return text + (unit if unit in ("%", "‰") else "")

    return FuncFormatter(fmt)


def _period_labels(periods: Sequence[str]) -> list[str]:
    """`10` per month, with the year under the first month and under each January; for ISO weeks
    (`2026-W41`, the weekly control charts) `W41` every fourth week, counted back from the last."""
    labels = []
    for i, period in enumerate(periods):
        year, month = period.split("-")
        if month.startswith("W"):
            labels.append((f"{month}\n{year}" if i == 0 else month) if (len(periods) - 1 - i) % 4 == 0 else "")
            continue
        labels.append(f"{month}\n{year}" if i == 0 or month == "01" else month)
    return labels


def _message(fig: Figure, text: str) -> None:
    fig.text(0.5, 0.5, text, ha="center", va="center", color=COLOURS["muted"], fontsize=10)


# -- the charts ------------------------------------------------------------------


def _finish_months(fig: Figure, ax: Any, periods: Sequence[str], unit: str, decimals: int, handles: list,
                   title: str, *, y_margin: float) -> str:
    """The month axis, the value axis and the legend of a chart over `periods`, then the SVG."""
    n = len(periods)
    ax.set_xticks(list(range(n)), _period_labels(periods), fontsize=6.5)
    ax.set_xlim(-0.5, n - 0.5)
    ax.margins(y=y_margin)
    if unit == "%":  # a share never exceeds 100 %: no 102 % tick
        low_lim, high_lim = ax.get_ylim()
        ax.set_ylim(max(low_lim, -1.5), min(high_lim, 101.5))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(_axis_formatter(unit, decimals))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(handles), fontsize=7,
              frameon=False, handlelength=1.8, borderaxespad=0.1)
    return _finish(fig, title)


def trend_chart(
    periods: Sequence[str],
    values: Sequence[float | None],
    *,
    targets: Sequence[float | None] | float | None = None,
    statuses: Sequence[str] | None = None,
    low_confidence: Sequence[bool] | None = None,
    unit: str = "",
    decimals: int = 1,
    title: str = "",
    locale: str = "zh_CN",
    low_confidence_n: int = 30,
) -> str:
    """A KPI over the months (e.g. 13): the value line with the target as a dashed line.

    Points are coloured by status (missed red, met green); a low-confidence value is a
    hollow point. `targets` is one number or one per period (a target may change).
    """
    n = len(periods)
    ys = [_value(v) for v in values]
    if targets is None or isinstance(targets, (int, float)):
        target_line = [_value(targets)] * n
    else:
        target_line = [_value(v) for v in targets]
    statuses = list(statuses or ["no_target"] * n)
    low = list(low_confidence or [False] * n)
    with _quiet_matplotlib():
        fig = Figure(figsize=(4.6, 2.0))
        ax = fig.add_axes((0.12, 0.2, 0.86, 0.68))
        xs = list(range(n))
        ax.grid(axis="y", color=COLOURS["grid"], linewidth=0.6)
        ax.set_axisbelow(True)
        handles = []
        if any(not math.isnan(v) for v in target_line):
            (target_handle,) = ax.plot(xs, target_line, color=COLOURS["target"], linestyle="--", linewidth=1.1,
                                       drawstyle="steps-mid", label=t(locale, "目标", "target"))
            handles.append(target_handle)
        (line,) = ax.plot(xs, ys, color=COLOURS["line"], linewidth=1.6, label=t(locale, "实际", "actual"))
        handles.insert(0, line)
        groups: dict[tuple[str, bool], list[tuple[int, float]]] = {}
        for x, y, status, is_low in zip(xs, ys, statuses, low):
            if not math.isnan(y):
                colour = COLOURS[status] if status in ("met", "missed") else COLOURS["line"]
                groups.setdefault((colour, bool(is_low)), []).append((x, y))
        for (colour, is_low), points in groups.items():
            ax.plot([p[0] for p in points], [p[1] for p in points], linestyle="", marker="o", markersize=4.5,
                    color=colour, markerfacecolor="white" if is_low else colour, markeredgewidth=1.2)
        if any(is_low and not math.isnan(y) for y, is_low in zip(ys, low)):
            handles.append(Line2D([], [], marker="o", linestyle="", markersize=4.5, color=COLOURS["line"],
                                  markerfacecolor="white", label=f"n < {low_confidence_n}"))
        if all(math.isnan(y) for y in ys):
            ax.text(0.5, 0.5, t(locale, "无数据", "no data"), transform=ax.transAxes, ha="center",
                    color=COLOURS["muted"])
        else:
            last = max(i for i, y in enumerate(ys) if not math.isnan(y))
            ax.annotate(f"{ys[last]:,.{decimals}f}{unit if unit in ('%', '‰') else ''}", (last, ys[last]),
                        xytext=(0, 6), textcoords="offset points", ha="center", fontsize=7.5,
                        color=COLOURS["text"], fontweight="bold")
        return _finish_months(fig, ax, periods, unit, decimals, handles, title, y_margin=0.18)


def department_bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    targets: Sequence[float | None] | None = None,
    statuses: Sequence[str] | None = None,
    low_confidence: Sequence[bool] | None = None,
    unit: str = "",
    decimals: int = 1,
    title: str = "",
    locale: str = "zh_CN",
    colour: str | None = None,
) -> str:
    """Departments side by side (horizontal bars, in the given order) for one KPI, coloured
    against each one's target: met green, missed red, no target grey; a black tick marks the target.

    Plain counts (complaints by department, by channel, by age), which no target judges, are
    drawn in one `colour` instead (e.g. `COLOURS["bar"]`), so grey keeps meaning "no target"."""
    n = len(labels)
    xs = [_value(v) for v in values]
    targets = [_value(v) for v in (targets or [None] * n)]
    statuses = list(statuses or ["no_target"] * n)
    low = list(low_confidence or [False] * n)
    with _quiet_matplotlib():
        height = 0.42 + 0.24 * max(n, 1)
        fig = Figure(figsize=(4.6, height))
        bottom = max(0.08 + 0.1 / max(n, 1), 0.2 / height)  # room for the value axis when there are few bars
        ax = fig.add_axes((0.24, bottom, 0.62, 0.96 - 0.2 / max(n, 1) - bottom))
        ys = list(range(n))
        finite = [v for v in xs + targets if not math.isnan(v)]
        span = max([abs(v) for v in finite] + [1e-9])
        ax.barh(ys, [0 if math.isnan(v) else v for v in xs], height=0.62,
                color=colour or [COLOURS.get(s, COLOURS["no_target"]) for s in statuses])
        for y, x, target, is_low in zip(ys, xs, targets, low):
            if not math.isnan(target):
                ax.plot([target, target], [y - 0.42, y + 0.42], color=COLOURS["text"], linewidth=1.3)
            if math.isnan(x):
                label, at = t(locale, "无数据", "no data"), 0.0
            else:
                label = f"{x:,.{decimals}f}{unit if unit in ('%', '‰') else ''}{' †' if is_low else ''}"
                at = x
            if not math.isnan(target) and at >= 0:
                at = max(at, target)  # the label never sits on the target tick
            ax.text(at + span * 0.015 if at >= 0 else at - span * 0.015, y, label, va="center",
                    ha="left" if at >= 0 else "right", fontsize=7, color=COLOURS["text"])
        ax.set_yticks(ys, [shorten(label, 16) for label in labels], fontsize=7.5)
        ax.invert_yaxis()
        # zero always in view: all-negative values (an NPS of −40) grow leftwards from it
        low = min(0.0, min(finite, default=0.0) * 1.18)
        high = max(0.0, max(finite, default=1.0) * 1.18)
        ax.set_xlim(low, high if high > 0 else abs(low) * 0.12 or 1.0)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
        ax.xaxis.set_major_formatter(_axis_formatter(unit, decimals))
        ax.grid(axis="x", color=COLOURS["grid"], linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        return _finish(fig, title)


def pareto_chart(
    categories: Sequence[str],
    counts: Sequence[int],
    *,
    title: str = "",
    locale: str = "zh_CN",
    max_categories: int = 10,
) -> str:
    """Complaint categories, most frequent first, with the cumulative share (and the 80 % line).

    Categories beyond `max_categories` are summed into one bar "其他"/"Other"."""
    pairs = sorted(((str(c), int(k)) for c, k in zip(categories, counts) if k), key=lambda p: (-p[1], p[0]))
    if len(pairs) > max_categories:
        rest = sum(k for _, k in pairs[max_categories - 1:])
        pairs = pairs[: max_categories - 1] + [(t(locale, "其他", "Other"), rest)]
    with _quiet_matplotlib():
        fig = Figure(figsize=(5.6, 2.6))
        if not pairs:
            _message(fig, t(locale, "本期无投诉", "No complaints in this period"))
            return _finish(fig, title)
        # room on the right for the share axis: its ticks and title must not be cut off
        ax = fig.add_axes((0.09, 0.3, 0.76, 0.62))
        total = sum(k for _, k in pairs)
        xs = list(range(len(pairs)))
        cumulative, running = [], 0
        for _, k in pairs:
            running += k
            cumulative.append(100.0 * running / total)
        ax.bar(xs, [k for _, k in pairs], color=COLOURS["bar"], width=0.65)
        for x, (_, k) in zip(xs, pairs):
            ax.text(x, k, str(k), ha="center", va="bottom", fontsize=7, color=COLOURS["text"])
        ax.set_xticks(xs, [shorten(c, 12) for c, _ in pairs], rotation=30, ha="right", fontsize=7.5,
                      rotation_mode="anchor")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.set_ylabel(t(locale, "件数", "count"), fontsize=7.5)
        ax.margins(y=0.15)
        ax.grid(axis="y", color=COLOURS["grid"], linewidth=0.6)
        ax.set_axisbelow(True)
        share = ax.twinx()
        share.spines["right"].set_visible(True)
        share.plot(xs, cumulative, color=COLOURS["cumulative"], marker="o", markersize=3.5, linewidth=1.4)
        share.axhline(80, color=COLOURS["cumulative"], linestyle=":", linewidth=0.9)
        share.set_ylim(0, 105)
        share.set_yticks([0, 20, 40, 60, 80, 100], ["0%", "20%", "40%", "60%", "80%", "100%"], fontsize=7)
        share.set_ylabel(t(locale, "累计占比", "cumulative share"), fontsize=7.5)
        return _finish(fig, title)


def control_chart(
    periods: Sequence[str],
    values: Sequence[float | None],
    *,
    centre: Sequence[float | None],
    ucl: Sequence[float | None],
    lcl: Sequence[float | None],
    signals: Sequence[int] = (),
    baseline_end: int = 0,
    unit: str = "",
    decimals: int = 1,
    title: str = "",
    locale: str = "zh_CN",
) -> str:
    """A control chart: the values, the centre line and the 3σ limits (stepped where each month's n
    moves them), the baseline months shaded, and the points that complete a rule circled in red."""
    n = len(periods)
    ys = [_value(v) for v in values]
    with _quiet_matplotlib():
        fig = Figure(figsize=(4.6, 2.0))
        ax = fig.add_axes((0.12, 0.2, 0.86, 0.68))
        xs = list(range(n))
        ax.grid(axis="y", color=COLOURS["grid"], linewidth=0.6)
        ax.set_axisbelow(True)
        if baseline_end:
            ax.axvspan(-0.5, baseline_end - 0.5, color="#f0f4f8", zorder=0)
        (limit,) = ax.plot(xs, [_value(v) for v in ucl], color=COLOURS["missed"], linestyle="--", linewidth=0.9,
                           drawstyle="steps-mid", label=t(locale, "控制限 ±3σ", "limits ±3σ"))
        ax.plot(xs, [_value(v) for v in lcl], color=COLOURS["missed"], linestyle="--", linewidth=0.9,
                drawstyle="steps-mid")
        (mid,) = ax.plot(xs, [_value(v) for v in centre], color=COLOURS["muted"], linewidth=0.9,
                         label=t(locale, "中心线", "centre"))
        (line,) = ax.plot(xs, ys, color=COLOURS["line"], linewidth=1.4, marker="o", markersize=3.2,
                          label=t(locale, "实际", "actual"))
        handles = [line, mid, limit]
        flagged = [i for i in sorted(set(signals)) if 0 <= i < n and not math.isnan(ys[i])]
        if flagged:
            (mark,) = ax.plot(flagged, [ys[i] for i in flagged], linestyle="", marker="o", markersize=7,
                              markerfacecolor="none", markeredgecolor=COLOURS["missed"], markeredgewidth=1.4,
                              label=t(locale, "信号", "signal"))
            handles.append(mark)
        if all(math.isnan(y) for y in ys):
            ax.text(0.5, 0.5, t(locale, "无数据", "no data"), transform=ax.transAxes, ha="center",
                    color=COLOURS["muted"])
        return _finish_months(fig, ax, periods, unit, decimals, handles, title, y_margin=0.15)
