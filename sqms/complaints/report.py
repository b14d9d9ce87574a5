"""投诉分析 (complaint analysis) of one month: data only (pandas), no rendering, no Prefect.

The complaint-handling regulation has the customer-service department analyse the complaints
every month and take the analysis to the quality-analysis meeting: how many came in, through
which channel, of which category and against which department; whether they were settled by
their deadline (按期办结率) and at all (办结率); which are still open and for how long (未结投诉
账龄); which customers complain again and again (重复投诉客户); what the return visits found
(回访满意度); and how far the corrective actions taken on them have got (纠正措施跟踪).

Attribution follows DESIGN.md §4: a complaint belongs to the local calendar month in which it
was received, and the rates use the KPI definitions, so the figures here agree with the stored
KPIs. Two things are stocks at the as-of time instead, because the meeting has to act on them
whatever month they came from: the complaints still open (the backlog) and the actions.

    analysis = build_complaint_analysis(session, settings, "2026-10")
    analysis.departments_table, analysis.ageing, analysis.actions, analysis.summary, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from sqms.actions.models import ACTION_STATE_LABELS, IN_PROGRESS, OPEN, VERIFIED, Action, ActionLink
from sqms.actions.models import STATES as ACTION_STATES
from sqms.records.targets import effective_settings
from sqms.calendar import (late_working_days, month_bounds, parse_period, shift_period, to_local, utcnow,
                           working_days_between)
from sqms.codes import labels
from sqms.complaints.models import STATE_LABELS, Complaint  # noqa: F401  (STATE_LABELS: read here too)
from sqms.complaints.service import settlement, share_pct
from sqms.config import Settings
from sqms.db import read_frame
from sqms.kpi_catalog import CHANNELS, SEVERITIES, status_of
from sqms.org.models import Customer
from sqms.themes import Theme, themes
from sqms.reporting.formatting import number, organisation_name, percent, period_words, t

# 未结投诉账龄: working days since the day of receipt (label, low, high; None = open-ended)
AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0–2", 0, 2), ("3–5", 3, 5), ("6–10", 6, 10), (">10", 11, None))
REPEAT_LOOKBACK_DAYS = 90  # a complainant of the month who also complained this long before it returns

# labels in the two report languages: zh_CN, en
DIMENSIONS: dict[str, tuple[str, str]] = {
    "channel": ("受理渠道", "Channel"),
    "category": ("投诉类别", "Category"),
    "department": ("责任部门", "Department"),
    "severity": ("投诉等级", "Severity"),
}
CHANNEL_LABELS = labels("channel")
SEVERITY_LABELS = labels("severity")
THEME_BASELINE_MONTHS = 3  # the descriptions of these months before are what "new this month" is against
_COLUMNS = ("complaint_id", "received_at", "department", "channel", "severity", "category", "customer_id",
            "resolved_at", "deadline_at", "status", "description", "feedback_score", "feedback_comment",
            "reopen_count")


@dataclass
class ComplaintAnalysis:
    """Everything the complaint analysis shows, as plain values and DataFrames.

    - `complaints`: the period's complaints (the columns of `_COLUMNS`, naive-UTC times)
    - `volumes`: dimension (channel, category, department, severity) → key, label, count, share_pct
    - `departments_table`: per configured department: received, resolved, closure_pct, due, on_time,
      on_time_pct, their targets and statuses, special, reopened, open, overdue_open, feedback_mean
    - `ageing`: bucket, count, overdue — complaints still open at as-of (any month), by working days
    - `open_complaints`: those complaints, oldest first, with department_name, channel_label, severity_label,
      status_label, age_working_days, bucket, overdue, in_period
    - `categories`: the Pareto (category, count, share_pct, cumulative_pct), most frequent first
    - `repeat_customers`: customer_id, customer_name, complaints, previous, complaint_ids, categories,
      repeat (≥ 2 this month), returning (also in the 90 days before)
    - `return_visits`: the period's complaints with a return-visit score, lowest first
    - `actions`: complaint-related actions not yet verified, and those verified this month
    - `action_states`: status, label, count (every state, in lifecycle order)
    - `totals`: the key figures (see `key_figures`)
    """

    organisation: str
    period: str
    locale: str
    timezone: str
    generated_at: datetime
    as_of: datetime
    low_score: int
    departments: list[tuple[str, str]]
    complaints: pd.DataFrame
    volumes: dict[str, pd.DataFrame]
    departments_table: pd.DataFrame
    ageing: pd.DataFrame
    open_complaints: pd.DataFrame
    categories: pd.DataFrame
    repeat_customers: pd.DataFrame
    return_visits: pd.DataFrame
    actions: pd.DataFrame
    action_states: pd.DataFrame
    totals: dict[str, Any]
    summary: list[str] = field(default_factory=list)
    themes: list[Theme] = field(default_factory=list)  # words of the descriptions new this month (sqms.themes)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def overdue_actions(self) -> pd.DataFrame:
        return self.actions[self.actions["overdue"]]

    def summary_dict(self) -> dict[str, Any]:
        """JSON-ready key figures (kept with a generated report)."""
        return {
            "period": self.period,
            "totals": {k: _json(v) for k, v in self.totals.items()},
            "by_channel": _counts(self.volumes["channel"]),
            "by_department": _counts(self.volumes["department"]),
            "by_category": _counts(self.categories, "category"),
            "ageing": _counts(self.ageing, "bucket"),
            "action_states": _counts(self.action_states, "status"),
            "summary": list(self.summary),
        }


def _json(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool)):
        return value
    return float(value) if isinstance(value, float) else int(value)


def _counts(frame: pd.DataFrame, key: str = "key") -> dict[str, int]:
    return {str(k): int(v) for k, v in zip(frame[key], frame["count"])}


def _label(labels: dict[str, tuple[str, str]], key: str, locale: str) -> str:
    zh, en = labels.get(key, (key, key))
    return t(locale, zh, en)


# -- building it ----------------------------------------------------------------------------


def build_complaint_analysis(session: Session, settings: Settings, period: str, *, as_of: datetime | None = None,
                             locale: str | None = None, generated_at: datetime | None = None) -> ComplaintAnalysis:
    """The complaint analysis of `period` (YYYY-MM, local calendar month) as it stands at `as_of`
    (default now; the monthly report passes its KPI computation's, so both show the same rates)."""
    parse_period(period)
    settings = effective_settings(session, settings, int(period[:4]))  # the year's decided targets
    locale = locale or settings.locale
    as_of = as_of or utcnow()
    as_of_ts = _naive_utc(as_of)
    start, end = month_bounds(period, settings.tz)
    table = Complaint.__table__
    received = table.c.received_at

    departments = [(d.code, d.label(locale)) for d in settings.departments]
    complaints = _complaints(session, locale, received >= start, received < end, settings=settings)
    backlog = _complaints(session, locale, received < min(end, as_of),
                          or_(table.c.resolved_at.is_(None), table.c.resolved_at > as_of), settings=settings)
    open_complaints = open_at(backlog, as_of, settings, period, dict(departments), locale)
    earlier = read_frame(session.connection(), [table.c.customer_id, table.c.complaint_id],
                         received >= start - timedelta(days=REPEAT_LOOKBACK_DAYS), received < start,
                         table.c.customer_id.is_not(None))
    categories = complaint_categories(session, settings, period, locale)
    actions = complaint_actions(session, settings, period, as_of, locale)
    return_visits = _return_visits(complaints, departments, locale)
    repeat = repeat_complainants(complaints, earlier)

    analysis = ComplaintAnalysis(
        organisation=organisation_name(settings.organisation, locale),
        period=period,
        locale=locale,
        timezone=settings.organisation.timezone,
        generated_at=generated_at or utcnow(),
        as_of=as_of,
        low_score=settings.complaints.reopen_at_or_below_score,
        departments=departments,
        complaints=complaints,
        volumes=volumes(complaints, categories, departments, locale),
        departments_table=by_department(complaints, open_complaints, settings, as_of_ts, locale),
        ageing=ageing(open_complaints),
        open_complaints=open_complaints,
        categories=categories,
        repeat_customers=_with_customer_names(session, repeat),
        return_visits=return_visits,
        actions=actions,
        action_states=_action_states(actions, locale),
        totals={},
    )
    before, _ = month_bounds(shift_period(period, -THEME_BASELINE_MONTHS), settings.tz)
    baseline = read_frame(session.connection(), [table.c.description], received >= before, received < start)
    analysis.themes = themes(complaints["description"].dropna().astype(str), baseline["description"].dropna().astype(str))
    analysis.totals = key_figures(analysis, settings, as_of_ts)
    analysis.summary = analysis_summary(analysis)
    return analysis


def _naive_utc(moment: datetime) -> pd.Timestamp:
    """An aware moment as the frames hold times (naive UTC), to compare with them."""
    return pd.Timestamp(moment).tz_convert("UTC").tz_localize(None)


def _complaints(session: Session, locale: str, *where: Any, settings: Settings | None = None) -> pd.DataFrame:
    """Complaints as a frame, typed for computing: numbers numeric, an empty category named (in English
    by its configured `name_en`), an empty customer id missing (it cannot make anyone a repeat
    complainant)."""
    table = Complaint.__table__
    frame = read_frame(session.connection(), [table.c[c] for c in _COLUMNS], *where)
    frame["feedback_score"] = pd.to_numeric(frame["feedback_score"]).astype("float64")
    frame["reopen_count"] = pd.to_numeric(frame["reopen_count"]).fillna(0).astype("int64")
    unnamed = t(locale, "（未分类）", "(uncategorised)")
    frame["category"] = [_category(c, unnamed, settings, locale) for c in frame["category"]]
    frame["customer_id"] = [(c or "").strip() or None for c in frame["customer_id"]]
    return frame.sort_values(["received_at", "complaint_id"]).reset_index(drop=True)


def _category(stored: str | None, unnamed: str, settings: Settings | None, locale: str) -> str:
    name = (stored or "").strip()
    if not name:
        return unnamed
    return settings.complaints.category_label(name, locale) if settings is not None else name


def complaint_categories(session: Session, settings: Settings, period: str, locale: str = "zh_CN") -> pd.DataFrame:
    """Complaints received in the period by category, most frequent first, with the cumulative share
    (the Pareto: the few categories that make up 80 % are where improvement pays most)."""
    start, end = month_bounds(period, settings.tz)
    rows = session.execute(
        select(Complaint.category, func.count()).where(Complaint.received_at >= start, Complaint.received_at < end)
        .group_by(Complaint.category)
    ).all()
    unnamed = t(locale, "（未分类）", "(uncategorised)")
    counts: dict[str, int] = {}
    for category, count in rows:
        name = _category(category, unnamed, settings, locale)
        counts[name] = counts.get(name, 0) + int(count)
    frame = pd.DataFrame(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), columns=["category", "count"])
    total = frame["count"].sum()
    frame["share_pct"] = 100.0 * frame["count"] / total if total else pd.Series(dtype="float64")
    frame["cumulative_pct"] = frame["share_pct"].cumsum()
    return frame.astype({"count": "int64", "share_pct": "float64", "cumulative_pct": "float64"})


# -- volumes and rates ----------------------------------------------------------------------


def _volume(values: pd.Series, keys: list[str], labels: dict[str, str]) -> pd.DataFrame:
    """Counts in the given order, zeros kept (a channel without complaints is news too); a value
    outside the known keys is appended rather than lost."""
    counts = values.value_counts()
    keys = keys + sorted(str(k) for k in counts.index if k not in keys)
    frame = pd.DataFrame({"key": keys, "label": [labels.get(k, k) for k in keys],
                          "count": [int(counts.get(k, 0)) for k in keys]})
    total = frame["count"].sum()
    frame["share_pct"] = [share_pct(c, total) for c in frame["count"]]
    return frame.astype({"count": "int64", "share_pct": "float64"})


def volumes(complaints: pd.DataFrame, categories: pd.DataFrame, departments: list[tuple[str, str]],
            locale: str) -> dict[str, pd.DataFrame]:
    """受理情况: the month's complaints by channel, category (as the Pareto orders them), department
    and severity, each with its share."""
    by_category = pd.DataFrame({"key": categories["category"], "label": categories["category"],
                                "count": categories["count"], "share_pct": categories["share_pct"]})
    return {
        "channel": _volume(complaints["channel"], list(CHANNELS),
                           {k: _label(CHANNEL_LABELS, k, locale) for k in CHANNELS}),
        "category": by_category.reset_index(drop=True),
        "department": _volume(complaints["department"], [c for c, _ in departments], dict(departments)),
        "severity": _volume(complaints["severity"], list(SEVERITIES),
                            {k: _label(SEVERITY_LABELS, k, locale) for k in SEVERITIES}),
    }


def by_department(complaints: pd.DataFrame, open_complaints: pd.DataFrame, settings: Settings,
                  as_of: pd.Timestamp, locale: str) -> pd.DataFrame:
    """Per department (configuration order): the month's volume and rates against the department's
    targets, its reopened and special complaints, its backlog and the return-visit mean."""
    rows = []
    for dept in settings.departments:
        mine = complaints[complaints["department"] == dept.code]
        backlog = open_complaints[open_complaints["department"] == dept.code]
        figures = settlement(mine, as_of)
        on_time_target = settings.kpi.target("complaint_on_time_pct", dept.code)
        closure_target = settings.kpi.target("complaint_closure_pct", dept.code)
        scores = mine["feedback_score"].dropna()
        rows.append({
            "department": dept.code, "department_name": dept.label(locale), **figures,
            "on_time_target": on_time_target,
            "on_time_status": status_of("complaint_on_time_pct", figures["on_time_pct"], on_time_target),
            "closure_target": closure_target,
            "closure_status": status_of("complaint_closure_pct", figures["closure_pct"], closure_target),
            "special": int((mine["severity"] == "special").sum()),
            "reopened": int((mine["reopen_count"] > 0).sum()),
            "open": len(backlog), "overdue_open": int(backlog["overdue"].sum()),
            "feedback_mean": float(scores.mean()) if len(scores) else None,
        })
    return pd.DataFrame(rows).astype({"closure_pct": "float64", "on_time_pct": "float64",
                                      "on_time_target": "float64", "closure_target": "float64",
                                      "feedback_mean": "float64"})


# -- the backlog ----------------------------------------------------------------------------


def bucket_of(age: int) -> str:
    """The ageing bucket of an age in working days (0 or more: the backlog was received before as-of)."""
    return next(label for label, low, high in AGEING_BUCKETS if age >= low and (high is None or age <= high))


def open_at(backlog: pd.DataFrame, as_of: datetime, settings: Settings, period: str, names: dict[str, str],
            locale: str) -> pd.DataFrame:
    """The complaints not settled at `as_of`, oldest first, with their age in working days since the
    local day of receipt (the calendar the deadlines use), bucket, overdue flag and whether they
    belong to the period."""
    tz = settings.tz
    today = to_local(as_of, tz).date()
    as_of_ts = _naive_utc(as_of)
    days = backlog["received_at"].dt.tz_localize("UTC").dt.tz_convert(tz).dt.date
    ages = {day: working_days_between(day, today) for day in set(days)}
    start, end = (_naive_utc(b) for b in month_bounds(period, tz))
    out = backlog.assign(
        department_name=[names.get(c, c) for c in backlog["department"]],
        channel_label=[_label(CHANNEL_LABELS, c, locale) for c in backlog["channel"]],
        severity_label=[_label(SEVERITY_LABELS, c, locale) for c in backlog["severity"]],
        status_label=[_label(STATE_LABELS, s, locale) for s in backlog["status"]],
        age_working_days=[ages[d] for d in days],
        overdue=(backlog["deadline_at"] < as_of_ts).astype(bool),
        in_period=((backlog["received_at"] >= start) & (backlog["received_at"] < end)).astype(bool),
    )
    out["bucket"] = [bucket_of(a) for a in out["age_working_days"]]
    return out.astype({"age_working_days": "int64"}).reset_index(drop=True)


def ageing(open_complaints: pd.DataFrame) -> pd.DataFrame:
    """未结投诉账龄: open complaints per bucket (every bucket, zeros kept), and how many of them are overdue."""
    rows = []
    for label, _, _ in AGEING_BUCKETS:
        mine = open_complaints[open_complaints["bucket"] == label]
        rows.append({"bucket": label, "count": len(mine), "overdue": int(mine["overdue"].sum())})
    return pd.DataFrame(rows).astype({"count": "int64", "overdue": "int64"})


# -- customers ------------------------------------------------------------------------------


def repeat_complainants(complaints: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """重复投诉客户: customers with two or more complaints this month (`repeat`), and the month's
    complainants who had complained in the 90 days before it too (`returning`); most complaints first."""
    known = complaints[complaints["customer_id"].notna()]
    previous = earlier["customer_id"].value_counts()
    rows = []
    for customer, mine in known.groupby("customer_id", sort=True):
        before = int(previous.get(customer, 0))
        if len(mine) < 2 and before == 0:
            continue
        rows.append({
            "customer_id": customer, "complaints": len(mine), "previous": before,
            "complaint_ids": ", ".join(mine["complaint_id"]),
            "categories": ", ".join(dict.fromkeys(mine["category"])),
            "repeat": len(mine) >= 2, "returning": before > 0,
        })
    columns = ["customer_id", "complaints", "previous", "complaint_ids", "categories", "repeat", "returning"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values(["complaints", "previous", "customer_id"], ascending=[False, False, True])
    return frame.astype({"complaints": "int64", "previous": "int64", "repeat": bool,
                         "returning": bool}).reset_index(drop=True)


def _with_customer_names(session: Session, repeat: pd.DataFrame) -> pd.DataFrame:
    """The customers' names where the customers file gave one (to call them back), else None."""
    ids = repeat["customer_id"].tolist()
    names = dict(session.execute(select(Customer.customer_id, Customer.name)
                                 .where(Customer.customer_id.in_(ids))).all()) if ids else {}
    repeat.insert(1, "customer_name", [names.get(c) for c in ids])
    return repeat


def _return_visits(complaints: pd.DataFrame, departments: list[tuple[str, str]], locale: str) -> pd.DataFrame:
    """回访: the month's complaints with a return-visit score, lowest first (low ones are reopened)."""
    rated = complaints[complaints["feedback_score"].notna()]
    names = dict(departments)
    out = rated.assign(department_name=[names.get(c, c) for c in rated["department"]],
                       status_label=[_label(STATE_LABELS, s, locale) for s in rated["status"]])
    columns = ["complaint_id", "received_at", "department", "department_name", "category", "feedback_score",
               "feedback_comment", "status", "status_label"]
    return out.sort_values(["feedback_score", "received_at"])[columns].reset_index(drop=True)


# -- actions --------------------------------------------------------------------------------


def complaint_actions(session: Session, settings: Settings, period: str, as_of: datetime,
                      locale: str) -> pd.DataFrame:
    """纠正措施跟踪: actions opened on complaints (source complaint, or linked to one) that exist at
    `as_of` and are not yet verified, plus those verified this month; states are the current ones
    (an action keeps no history of its state apart from the audit log)."""
    start, end = month_bounds(period, settings.tz)
    linked = select(ActionLink.action_id).where(ActionLink.entity == "complaint")
    rows = session.scalars(
        select(Action).options(selectinload(Action.links))
        .where(or_(Action.source == "complaint", Action.id.in_(linked)), Action.created_at <= as_of,
               or_(Action.status != VERIFIED, and_(Action.verified_at >= start, Action.verified_at < end)))
        .order_by(Action.due_on, Action.id)).all()
    today = to_local(as_of, settings.tz).date()
    people = {p.email: p.name for p in settings.people}
    names = {d.code: d.label(locale) for d in settings.departments}
    records = [_action_row(a, today, people, names, locale) for a in rows]
    columns = ["id", "ref", "title", "type", "department", "department_name", "owner", "owner_name", "status",
               "status_label", "due_on", "overdue", "late_working_days", "complaints"]
    frame = pd.DataFrame(records, columns=columns)
    return frame.astype({"id": "int64", "overdue": bool, "late_working_days": "int64"})


def _action_row(action: Action, today: date, people: dict[str, str], names: dict[str, str],
                locale: str) -> dict[str, Any]:
    """One action as the report lists it; overdue when still to be done and its due day has passed."""
    overdue = action.status in (OPEN, IN_PROGRESS) and action.due_on < today
    return {
        "id": action.id, "ref": action.ref, "title": action.title, "type": action.type,
        "department": action.department, "department_name": names.get(action.department, action.department),
        "owner": action.owner, "owner_name": people.get(action.owner), "status": action.status,
        "status_label": _label(ACTION_STATE_LABELS, action.status, locale), "due_on": action.due_on,
        "overdue": overdue, "late_working_days": late_working_days(action.due_on, today) if overdue else 0,
        "complaints": ", ".join(link.entity_id for link in action.links if link.entity == "complaint"),
    }


def _action_states(actions: pd.DataFrame, locale: str) -> pd.DataFrame:
    counts = actions["status"].value_counts()
    return pd.DataFrame({"status": list(ACTION_STATES),
                         "label": [_label(ACTION_STATE_LABELS, s, locale) for s in ACTION_STATES],
                         "count": [int(counts.get(s, 0)) for s in ACTION_STATES]}).astype({"count": "int64"})


# -- key figures and the summary --------------------------------------------------------------


def key_figures(analysis: ComplaintAnalysis, settings: Settings, as_of: pd.Timestamp) -> dict[str, Any]:
    """The organisation-wide figures the summary, the cards and the artifact are made of; the two
    rates are judged against the organisation's KPI targets."""
    complaints, backlog, actions = analysis.complaints, analysis.open_complaints, analysis.actions
    scores = complaints["feedback_score"].dropna()
    cumulative = analysis.categories["cumulative_pct"].tolist()
    repeat = analysis.repeat_customers
    rates = settlement(complaints, as_of)
    return {
        **rates,
        "closure_status": status_of("complaint_closure_pct", rates["closure_pct"],
                                    settings.kpi.target("complaint_closure_pct", None)),
        "on_time_status": status_of("complaint_on_time_pct", rates["on_time_pct"],
                                    settings.kpi.target("complaint_on_time_pct", None)),
        "special": int((complaints["severity"] == "special").sum()),
        "reopened": int((complaints["reopen_count"] > 0).sum()),
        "open": len(backlog),
        "open_overdue": int(backlog["overdue"].sum()),
        "open_in_period": int(backlog["in_period"].sum()),
        "oldest_open_days": int(backlog["age_working_days"].max()) if len(backlog) else None,
        "vital_categories": next((i + 1 for i, c in enumerate(cumulative) if c >= 80 - 1e-9), len(cumulative)),
        "repeat_customers": int(repeat["repeat"].sum()),
        "returning_customers": int(repeat["returning"].sum()),
        "return_visits": len(scores),
        "feedback_mean": float(scores.mean()) if len(scores) else None,
        "low_scores": int((scores <= analysis.low_score).sum()),
        "actions": len(actions),
        "actions_open": int(actions["status"].isin([OPEN, IN_PROGRESS]).sum()),
        "actions_to_verify": int((actions["status"] == "done").sum()),
        "actions_overdue": int(actions["overdue"].sum()),
    }


def analysis_summary(analysis: ComplaintAnalysis) -> list[str]:
    """A few sentences in the report language: volume and rates, backlog, categories, customers,
    return visits, actions — what the quality-analysis meeting should look at first."""
    loc, k = analysis.locale, analysis.totals
    month = period_words(analysis.period, loc)
    if not k["received"]:
        sentences = [t(loc, f"{month}未收到投诉。", f"No complaints were received in {month}.")]
    else:
        sentences = [t(
            loc,
            f"{month}共受理投诉 {number(k['received'])} 件（其中重大投诉 {k['special']} 件），已办结 "
            f"{k['resolved']} 件，办结率 {percent(k['closure_pct'])}；按期办结率 {percent(k['on_time_pct'])}"
            f"（应办结 {k['due']} 件，按期 {k['on_time']} 件）。",
            f"{number(k['received'])} complaints were received in {month} ({k['special']} special); "
            f"{k['resolved']} are settled, closure {percent(k['closure_pct'])}; settled on time "
            f"{percent(k['on_time_pct'])} ({k['on_time']} of {k['due']} due)."),
        ]
    sentences.append(_backlog_sentence(analysis))
    if len(analysis.categories):
        top = analysis.categories.head(3).to_dict("records")
        items = t(loc, "、", ", ").join(f"{c['category']} {c['count']} 件" if loc.startswith("zh")
                                        else f"{c['category']} ({c['count']})" for c in top)
        sentences.append(t(loc, f"主要投诉类别：{items}；前 {k['vital_categories']} 类累计占 80% 以上，是改进的重点。",
                           f"Main categories: {items}; the first {k['vital_categories']} make up 80% or more "
                           "and are where improvement pays most."))
    if k["repeat_customers"] or k["returning_customers"]:
        sentences.append(t(
            loc, f"重复投诉客户 {k['repeat_customers']} 位（本月投诉 2 次及以上），另有 {k['returning_customers']} "
                 f"位本月投诉客户在此前 {REPEAT_LOOKBACK_DAYS} 天内也曾投诉。",
            f"Repeat complainants (twice or more this month): {k['repeat_customers']}; complainants of this month "
            f"who had also complained in the {REPEAT_LOOKBACK_DAYS} days before: {k['returning_customers']}."))
    if k["return_visits"]:
        sentences.append(t(
            loc, f"回访 {k['return_visits']} 件，平均满意度 {number(k['feedback_mean'], 2)} 分，"
                 f"{analysis.low_score} 分及以下 {k['low_scores']} 件（已重新处理）。",
            f"{k['return_visits']} return visits, mean score {number(k['feedback_mean'], 2)}; "
            f"{k['low_scores']} scored {analysis.low_score} or less (reopened)."))
    sentences.append(t(
        loc, f"投诉相关纠正措施：待实施或实施中 {k['actions_open']} 项（其中逾期 {k['actions_overdue']} 项），"
             f"待验证 {k['actions_to_verify']} 项。",
        f"Complaint actions: {k['actions_open']} open or in progress ({k['actions_overdue']} overdue), "
        f"{k['actions_to_verify']} done and awaiting verification."))
    return sentences


def _backlog_sentence(analysis: ComplaintAnalysis) -> str:
    loc, k = analysis.locale, analysis.totals
    when = to_local(analysis.as_of, analysis.tz).strftime("%Y-%m-%d %H:%M")
    if not k["open"]:
        return t(loc, f"截至 {when}，无未结投诉。", f"As of {when}, no complaint is open.")
    return t(loc, f"截至 {when}，未结投诉 {k['open']} 件（其中本月受理 {k['open_in_period']} 件），"
                  f"已超期 {k['open_overdue']} 件，最久的已受理 {k['oldest_open_days']} 个工作日。",
             f"As of {when}, {k['open']} complaints are open ({k['open_in_period']} from this month), "
             f"{k['open_overdue']} past their deadline; the oldest was received {k['oldest_open_days']} "
             "working days ago.")


__all__ = ["AGEING_BUCKETS", "ComplaintAnalysis", "build_complaint_analysis", "complaint_categories"]
