"""The monthly KPIs of DESIGN.md §4: counts and sums of one period's rows, the KPIs made of them, stored.

Every KPI is a ratio of counts and sums (`_values_from`). `compute_and_store` gets them from the
database with one GROUP BY per table (`sql_sums`: SQLite and PostgreSQL, no row leaves the
database); `compute_kpis` gets the same from frames (pure, for tests and for checking the SQL).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from sqms.calendar import UTC, month_bounds, parse_period, utcnow
from sqms.complaints.models import Complaint
from sqms.config import Settings
from sqms.db import SQLITE_DATETIME_FORMAT, read_frame
from sqms.kpi_catalog import KPIS, status_of
from sqms.monitoring.kpis import load_monitoring, monitoring_values
from sqms.records.targets import effective_settings
from sqms.records.models import KpiComputation, KpiValue, ServiceRecord
from sqms.stats import nps_margin, wilson_interval
from sqms.surveys.models import SurveyResponse


@dataclass
class KpiResult:
    kpi: str
    department: str | None  # None: the whole organisation
    value: float | None
    target: float | None
    status: str  # met | missed | no_target | no_data
    n: int
    low_confidence: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The object of `sqms kpi --json` (DESIGN.md §4); the 95 % uncertainty DESIGN §4 asks to report
        is added where there is one: `ci95` [low, high] for csat_top2_pct, `margin95` for nps."""
        out = {"kpi": self.kpi, "department": self.department, "value": self.value, "target": self.target,
               "status": self.status, "n": self.n}
        if self.kpi == "csat_top2_pct" and self.extra.get("ci95"):
            out["ci95"] = [float(v) for v in self.extra["ci95"]]
        if self.kpi == "nps" and self.extra.get("margin95") is not None:
            out["margin95"] = float(self.extra["margin95"])
        return out


@dataclass
class PeriodData:
    """The rows attributed to one period (naive-UTC datetime columns)."""

    records: pd.DataFrame
    complaints: pd.DataFrame
    responses: pd.DataFrame
    # service monitoring (issue 15): inspections (source, score), compliments, service errors
    monitoring: dict[str, pd.DataFrame] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"records": len(self.records), "complaints": len(self.complaints), "responses": len(self.responses)}


# -- statistics -------------------------------------------------------------------


# -- the definitions --------------------------------------------------------------


def _share(mask: pd.Series) -> float | None:
    return None if len(mask) == 0 else 100.0 * float(mask.sum()) / len(mask)


_SUMS = ("records", "handled", "handled_us", "fcr_known", "fcr_true", "targeted", "within", "complaints",
         "closed", "eligible", "on_time", "responses", "csat_n", "csat_sum", "csat_top2", "nps_n", "promoters",
         "detractors")


def _sums_of(data: PeriodData, settings: Settings, as_of: pd.Timestamp) -> dict[str, float]:
    """The counts and sums every KPI is made of, from one slice of the data (what `_sql_sums` gets
    from the database's GROUP BY)."""
    r, c, s = data.records, data.complaints, data.responses
    resolved = r[r["resolved_at"].notna()]
    handled = (resolved["resolved_at"] - resolved["opened_at"]) // pd.Timedelta(microseconds=1)
    known = r["first_contact_resolved"].dropna().astype(bool)
    targets = settings.kpi.response_targets_seconds
    targeted = r[r["channel"].isin(list(targets))]
    limit = targeted["channel"].map(targets).astype(float)
    delay = (targeted["first_response_at"] - targeted["opened_at"]).dt.total_seconds()
    resolved_by = c["resolved_at"].notna() & (c["resolved_at"] <= as_of)
    eligible = resolved_by | (c["deadline_at"] < as_of)
    csat = s["csat"].dropna().astype(float)
    nps = s["nps"].dropna().astype(float)
    return {
        "records": len(r), "handled": len(handled), "handled_us": float(handled.sum()),
        "fcr_known": len(known), "fcr_true": int(known.sum()),
        "targeted": len(targeted), "within": int((delay.notna() & (delay <= limit)).sum()),
        "complaints": len(c), "closed": int(c["resolved_at"].notna().sum()), "eligible": int(eligible.sum()),
        "on_time": int((resolved_by & (c["resolved_at"] <= c["deadline_at"])).sum()),
        "responses": len(s), "csat_n": len(csat), "csat_sum": float(csat.sum()), "csat_top2": int((csat >= 4).sum()),
        "nps_n": len(nps), "promoters": int((nps >= 9).sum()), "detractors": int((nps <= 6).sum()),
    }


def _ratio(part: float, whole: float) -> float | None:
    return None if not whole else 100.0 * part / whole


def _values_from(t: dict[str, float]) -> dict[str, tuple[float | None, int, dict]]:
    """kpi -> (value, n, extra) from the counts and sums of one slice (DESIGN.md §4)."""
    out: dict[str, tuple[float | None, int, dict]] = {}
    records, complaints = int(t["records"]), int(t["complaints"])
    out["record_volume"] = (float(records), records, {})
    handled = int(t["handled"])
    out["avg_handling_hours"] = (t["handled_us"] / 3.6e9 / handled if handled else None, handled, {})
    out["fcr_pct"] = (_ratio(t["fcr_true"], t["fcr_known"]), int(t["fcr_known"]), {})
    out["response_within_target_pct"] = (_ratio(t["within"], t["targeted"]), int(t["targeted"]), {})
    out["complaint_rate_per_1000"] = (1000.0 * complaints / records if records else None, records,
                                      {"complaints": complaints})
    out["complaint_on_time_pct"] = (_ratio(t["on_time"], t["eligible"]), int(t["eligible"]), {})
    out["complaint_closure_pct"] = (_ratio(t["closed"], complaints), complaints, {})
    csat_n = int(t["csat_n"])
    out["csat_mean"] = (t["csat_sum"] / csat_n if csat_n else None, csat_n, {})
    ci = wilson_interval(int(t["csat_top2"]), csat_n)
    out["csat_top2_pct"] = (_ratio(t["csat_top2"], csat_n), csat_n,
                            {"ci95": [100 * ci[0], 100 * ci[1]]} if ci else {})
    n, promoters, detractors = int(t["nps_n"]), int(t["promoters"]), int(t["detractors"])
    margin = nps_margin(promoters, detractors, n)
    out["nps"] = (100.0 * (promoters - detractors) / n if n else None, n,
                  {"margin95": margin, "promoters": promoters, "detractors": detractors} if margin is not None else {})
    out["sop_training_completion_pct"] = (None, 0, {})  # from the standards register: `other` of `_results`
    out.update(monitoring_values({}, records))  # no data unless `other` brings the period's monitoring
    return out


def _results(sums: dict[str | None, dict[str, float]], settings: Settings,
             other: dict[str | None, dict[str, tuple[float | None, int, dict]]] | None = None) -> list[KpiResult]:
    """Every KPI for the whole organisation (key None) and each configured department; `other` gives
    the values that do not come from the period's records (department -> kpi -> value, n, extra),
    e.g. the SOP training completion of the standards register."""
    low_n = settings.kpi.low_confidence_n
    empty = dict.fromkeys(_SUMS, 0)
    results: list[KpiResult] = []
    for dept_code in [None] + [d.code for d in settings.departments]:
        values = {**_values_from(sums.get(dept_code, empty)), **(other or {}).get(dept_code, {})}
        for definition in KPIS:
            value, n, extra = values[definition.code]
            target = settings.kpi.target(definition.code, dept_code)
            results.append(KpiResult(
                kpi=definition.code, department=dept_code, value=value, target=target,
                status=status_of(definition.code, value, target), n=n,
                low_confidence=definition.code != "record_volume" and value is not None and n < low_n,
                extra=extra,
            ))
    return results


def compute_kpis(data: PeriodData, settings: Settings, as_of: datetime | None = None,
                 other: dict[str | None, dict[str, tuple[float | None, int, dict]]] | None = None) -> list[KpiResult]:
    """Every KPI for the whole organisation (department None) and for each configured department
    (`other`: see `_results`)."""
    as_of_ts = pd.Timestamp(as_of or utcnow()).tz_convert("UTC").tz_localize(None)
    sums: dict[str | None, dict[str, float]] = {None: _sums_of(data, settings, as_of_ts)}
    for dept in settings.departments:
        sums[dept.code] = _sums_of(PeriodData(
            data.records[data.records["department"] == dept.code],
            data.complaints[data.complaints["department"] == dept.code],
            data.responses[data.responses["department"] == dept.code],
        ), settings, as_of_ts)
    return _results(sums, settings, _merge(_monitoring_values(data.monitoring, sums, settings), other or {}))


def _merge(*parts: dict[str | None, dict[str, tuple[float | None, int, dict]]]
           ) -> dict[str | None, dict[str, tuple[float | None, int, dict]]]:
    merged: dict[str | None, dict[str, tuple[float | None, int, dict]]] = {}
    for part in parts:
        for department, values in part.items():
            merged.setdefault(department, {}).update(values)
    return merged


def _monitoring_values(frames: dict[str, pd.DataFrame], sums: dict[str | None, dict[str, float]],
                       settings: Settings) -> dict[str | None, dict[str, tuple[float | None, int, dict]]]:
    """The monitoring KPIs (issue 15) of the organisation and each department, per 1,000 of its records."""
    empty = dict.fromkeys(_SUMS, 0)
    out = {None: monitoring_values(frames, int(sums.get(None, empty)["records"]))}
    # each frame split by department once (not one comparison per department and frame)
    split = {name: dict(tuple(frame.groupby("department", sort=False))) if len(frame) else {}
             for name, frame in frames.items()}
    for dept in settings.departments:
        part = {name: split[name].get(dept.code, frame.iloc[0:0]) for name, frame in frames.items()}
        out[dept.code] = monitoring_values(part, int(sums.get(dept.code, empty)["records"]))
    return out


def _microseconds(dialect: str, later: str, earlier: str) -> str:
    """SQL for `later - earlier` in whole microseconds (exact: no floating-point day fractions)."""
    if dialect == "sqlite":  # text 'YYYY-MM-DD HH:MM:SS.ffffff', as every writer stores it
        return (f"((CAST(strftime('%s', {later}) AS INTEGER) - CAST(strftime('%s', {earlier}) AS INTEGER)) * 1000000"
                f" + CAST(substr({later}, 21, 6) AS INTEGER) - CAST(substr({earlier}, 21, 6) AS INTEGER))")
    return f"CAST(ROUND(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000000) AS BIGINT)"


def sql_sums(conn: Connection, period: str, settings: Settings, as_of: datetime) -> dict[str | None, dict[str, float]]:
    """`_sums_of` for every department at once, by the database (three GROUP BY queries over the
    month's index range); the organisation is the sum of its groups (unconfigured departments included)."""
    from sqlalchemy import text

    start, end = month_bounds(period, settings.tz)
    dialect = conn.dialect.name

    def moment(value: datetime) -> Any:
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.strftime(SQLITE_DATETIME_FORMAT) if dialect == "sqlite" else naive

    params: dict[str, Any] = {"start": moment(start), "end": moment(end), "as_of": moment(as_of)}
    targets = settings.kpi.response_targets_seconds
    cases = []
    for i, (channel, seconds) in enumerate(sorted(targets.items())):
        params[f"ch{i}"], params[f"lim{i}"] = channel, int(round(float(seconds) * 1_000_000))
        cases.append(f"WHEN :ch{i} THEN :lim{i}")
    limit = f"(CASE channel {' '.join(cases)} END)" if cases else "NULL"
    true = "first_contact_resolved" if dialect != "sqlite" else "first_contact_resolved = 1"
    queries = {
        ("records", "handled", "handled_us", "fcr_known", "fcr_true", "targeted", "within"): f"""
            SELECT department, count(*), count(resolved_at),
                   sum(CASE WHEN resolved_at IS NOT NULL THEN {_microseconds(dialect, 'resolved_at', 'opened_at')} END),
                   count(first_contact_resolved), sum(CASE WHEN {true} THEN 1 ELSE 0 END),
                   sum(CASE WHEN {limit} IS NOT NULL THEN 1 ELSE 0 END),
                   sum(CASE WHEN first_response_at IS NOT NULL AND
                       {_microseconds(dialect, 'first_response_at', 'opened_at')} <= {limit} THEN 1 ELSE 0 END)
            FROM service_records WHERE opened_at >= :start AND opened_at < :end GROUP BY department""",
        ("complaints", "closed", "eligible", "on_time"): """
            SELECT department, count(*), count(resolved_at),
                   sum(CASE WHEN (resolved_at IS NOT NULL AND resolved_at <= :as_of) OR deadline_at < :as_of
                       THEN 1 ELSE 0 END),
                   sum(CASE WHEN resolved_at IS NOT NULL AND resolved_at <= :as_of AND resolved_at <= deadline_at
                       THEN 1 ELSE 0 END)
            FROM complaints WHERE received_at >= :start AND received_at < :end GROUP BY department""",
        ("responses", "csat_n", "csat_sum", "csat_top2", "nps_n", "promoters", "detractors"): """
            SELECT department, count(*), count(csat), sum(csat), sum(CASE WHEN csat >= 4 THEN 1 ELSE 0 END),
                   count(nps), sum(CASE WHEN nps >= 9 THEN 1 ELSE 0 END), sum(CASE WHEN nps <= 6 THEN 1 ELSE 0 END)
            FROM survey_responses WHERE submitted_at >= :start AND submitted_at < :end GROUP BY department""",
    }
    sums: dict[str | None, dict[str, float]] = {None: dict.fromkeys(_SUMS, 0)}
    for names, sql in queries.items():
        used = {k: v for k, v in params.items() if f":{k}" in sql}
        for department, *values in conn.execute(text(sql), used):
            group = sums.setdefault(department, dict.fromkeys(_SUMS, 0))
            for name, value in zip(names, values):
                number = float(value or 0) if name in ("handled_us", "csat_sum") else int(value or 0)
                group[name] += number
                sums[None][name] += number
    return sums


@dataclass
class ServiceItemKpi(KpiResult):
    """A KPI of one service item (服务项目) of the catalogue, against the item's target."""

    service_item: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"kpi": self.kpi, "service_item": self.service_item, "department": self.department,
                "value": self.value, "target": self.target, "status": self.status, "n": self.n}


def compute_by_service_item(data: PeriodData, settings: Settings, as_of: datetime | None = None
                            ) -> list[ServiceItemKpi]:
    """Every KPI per service item of the catalogue (records and complaints carrying its code; survey
    answers carry no service item, so their KPIs have no data here), in catalogue order."""
    as_of_ts = pd.Timestamp(as_of or utcnow()).tz_convert("UTC").tz_localize(None)
    low_n = settings.kpi.low_confidence_n
    out: list[ServiceItemKpi] = []

    def of(frame: pd.DataFrame, code: str) -> pd.DataFrame:
        return frame[frame["service_item"] == code] if "service_item" in frame.columns else frame.iloc[0:0]

    for item in settings.service_items:
        part = PeriodData(of(data.records, item.code), of(data.complaints, item.code), data.responses.iloc[0:0])
        values = _values_from(_sums_of(part, settings, as_of_ts))
        for definition in KPIS:
            value, n, extra = values[definition.code]
            target = settings.service_target(definition.code, item.code)
            out.append(ServiceItemKpi(
                kpi=definition.code, department=item.department, value=value, target=target,
                status=status_of(definition.code, value, target), n=n,
                low_confidence=definition.code != "record_volume" and value is not None and n < low_n,
                extra=extra, service_item=item.code))
    return out


# -- reading and storing ----------------------------------------------------------

_RECORD_COLUMNS = ["record_id", "department", "channel", "opened_at", "first_response_at", "resolved_at",
                   "first_contact_resolved", "service_item"]
_COMPLAINT_COLUMNS = ["complaint_id", "department", "severity", "category", "received_at", "responded_at",
                      "resolved_at", "deadline_at", "service_item"]
_RESPONSE_COLUMNS = ["response_id", "department", "submitted_at", "nps", "csat"]
_BOOLEANS = {"first_contact_resolved"}
_NUMBERS = {"nps", "csat"}
_CODES = {"department", "channel", "severity", "category", "service_item"}


def _frame(conn: Connection, model: Any, columns: list[str], attributed_by: str, start: datetime,
           end: datetime) -> pd.DataFrame:
    table = model.__table__
    frame = read_frame(conn, [table.c[c] for c in columns], table.c[attributed_by] >= start,
                       table.c[attributed_by] < end)
    for column in columns:  # typed as pandas computes best, whatever the driver returned
        if column in _BOOLEANS:
            frame[column] = frame[column].astype("boolean")
        elif column in _NUMBERS:
            frame[column] = pd.to_numeric(frame[column])
        elif column in _CODES:  # compared a lot when slicing per department: vectorised strings
            frame[column] = frame[column].astype("category")
    return frame


def load_period(conn: Connection, period: str, settings: Settings) -> PeriodData:
    start, end = month_bounds(period, settings.tz)
    return PeriodData(
        records=_frame(conn, ServiceRecord, _RECORD_COLUMNS, "opened_at", start, end),
        complaints=_frame(conn, Complaint, _COMPLAINT_COLUMNS, "received_at", start, end),
        responses=_frame(conn, SurveyResponse, _RESPONSE_COLUMNS, "submitted_at", start, end),
        monitoring=load_monitoring(conn, start, end),
    )


def _training_values(session: Session, settings: Settings, period: str, as_of: datetime
                     ) -> dict[str | None, dict[str, tuple[float | None, int, dict]]]:
    """sop_training_completion_pct per department from the standards register (DESIGN.md §9)."""
    from sqms.standards.service import training_completion

    return {c.department: {"sop_training_completion_pct": (c.value, c.required, {"on_time": c.on_time})}
            for c in training_completion(session, settings, period, as_of)}


def compute_and_store(session: Session, settings: Settings, period: str,
                      as_of: datetime | None = None) -> KpiComputation:
    """Compute a month's KPIs and keep them (a new computation each time; history is never rewritten)."""
    parse_period(period)
    settings = effective_settings(session, settings, int(period[:4]))  # the year's decided targets
    as_of = as_of or utcnow()
    sums = sql_sums(session.connection(), period, settings, as_of)
    start, end = month_bounds(period, settings.tz)
    monitoring = _monitoring_values(load_monitoring(session.connection(), start, end), sums, settings)
    results = _results(sums, settings, other=_merge(monitoring, _training_values(session, settings, period, as_of)))
    total = sums[None]
    computation = KpiComputation(
        period=period, as_of=as_of, computed_at=utcnow(), actor=session.info.get("actor", "unknown"),
        input_counts={"records": int(total["records"]), "complaints": int(total["complaints"]),
                      "responses": int(total["responses"])},
    )
    computation.values = [
        KpiValue(kpi=r.kpi, department=r.department, value=r.value, target=r.target, status=r.status, n=r.n,
                 low_confidence=r.low_confidence, extra=r.extra)
        for r in results
    ]
    session.add(computation)
    session.flush()
    return computation


def results_of(computation: KpiComputation) -> list[KpiResult]:
    return [KpiResult(v.kpi, v.department, v.value, v.target, v.status, v.n, v.low_confidence, dict(v.extra or {}))
            for v in computation.values]


def latest_computation(session: Session, period: str) -> KpiComputation | None:
    return session.scalars(
        select(KpiComputation).where(KpiComputation.period == period).order_by(KpiComputation.id.desc()).limit(1)
    ).first()


def results_frame(results: list[KpiResult], period: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame([asdict(r) for r in results])
    if period is not None:
        frame.insert(0, "period", period)
    return frame


def history(session: Session, settings: Settings, periods: list[str],
            as_of: datetime | None = None) -> pd.DataFrame:
    """KPIs for several periods from their latest stored computation (computed and stored when missing)."""
    frames = []
    for period in periods:
        computation = latest_computation(session, period) or compute_and_store(session, settings, period, as_of)
        frames.append(results_frame(results_of(computation), period))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
