"""The monthly KPIs of DESIGN.md §4: computed with pandas from one period's rows, and stored.

`compute_kpis` is pure (frames in, results out) so that the definitions can be
tested without a database; `compute_and_store` reads the period and keeps the
computation with the counts of its inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from sqms.calendar import month_bounds, parse_period, utcnow
from sqms.complaints.models import Complaint
from sqms.config import Settings
from sqms.db import read_frame
from sqms.kpi_catalog import KPIS, status_of
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

    def counts(self) -> dict[str, int]:
        return {"records": len(self.records), "complaints": len(self.complaints), "responses": len(self.responses)}


# -- statistics -------------------------------------------------------------------


# -- the definitions --------------------------------------------------------------


def _share(mask: pd.Series) -> float | None:
    return None if len(mask) == 0 else 100.0 * float(mask.sum()) / len(mask)


def _values_for(data: PeriodData, settings: Settings, as_of: pd.Timestamp) -> dict[str, tuple[float | None, int, dict]]:
    """kpi -> (value, n, extra) for one slice of the data."""
    r, c, s = data.records, data.complaints, data.responses
    out: dict[str, tuple[float | None, int, dict]] = {}
    out["record_volume"] = (float(len(r)), len(r), {})

    resolved = r[r["resolved_at"].notna()]
    hours = (resolved["resolved_at"] - resolved["opened_at"]).dt.total_seconds() / 3600.0
    out["avg_handling_hours"] = (float(hours.mean()) if len(hours) else None, len(hours), {})

    known = r["first_contact_resolved"].dropna().astype(bool)
    out["fcr_pct"] = (_share(known), len(known), {})

    targets = settings.kpi.response_targets_seconds
    targeted = r[r["channel"].isin(list(targets))]
    limit = targeted["channel"].map(targets).astype(float)
    delay = (targeted["first_response_at"] - targeted["opened_at"]).dt.total_seconds()
    within = delay.notna() & (delay <= limit)
    out["response_within_target_pct"] = (_share(within), len(targeted), {})

    rate = 1000.0 * len(c) / len(r) if len(r) else None
    out["complaint_rate_per_1000"] = (rate, len(r), {"complaints": len(c)})

    resolved_by = c["resolved_at"].notna() & (c["resolved_at"] <= as_of)
    eligible = resolved_by | (c["deadline_at"] < as_of)
    on_time = resolved_by & (c["resolved_at"] <= c["deadline_at"])
    out["complaint_on_time_pct"] = (_share(on_time[eligible]), int(eligible.sum()), {})
    out["complaint_closure_pct"] = (_share(c["resolved_at"].notna()), len(c), {})

    csat = s["csat"].dropna().astype(float)
    out["csat_mean"] = (float(csat.mean()) if len(csat) else None, len(csat), {})
    top2 = csat >= 4
    ci = wilson_interval(int(top2.sum()), len(top2))
    out["csat_top2_pct"] = (_share(top2), len(top2), {"ci95": [100 * ci[0], 100 * ci[1]]} if ci else {})

    nps = s["nps"].dropna().astype(float)
    promoters, detractors = int((nps >= 9).sum()), int((nps <= 6).sum())
    value = 100.0 * (promoters - detractors) / len(nps) if len(nps) else None
    margin = nps_margin(promoters, detractors, len(nps))
    out["nps"] = (value, len(nps), {"margin95": margin, "promoters": promoters, "detractors": detractors}
                  if margin is not None else {})
    return out


def compute_kpis(data: PeriodData, settings: Settings, as_of: datetime | None = None) -> list[KpiResult]:
    """Every KPI for the whole organisation (department None) and for each configured department."""
    as_of_ts = pd.Timestamp(as_of or utcnow()).tz_convert("UTC").tz_localize(None)
    low_n = settings.kpi.low_confidence_n
    results: list[KpiResult] = []
    slices: list[tuple[str | None, PeriodData]] = [(None, data)]
    for dept in settings.departments:
        slices.append((dept.code, PeriodData(
            data.records[data.records["department"] == dept.code],
            data.complaints[data.complaints["department"] == dept.code],
            data.responses[data.responses["department"] == dept.code],
        )))
    for dept_code, part in slices:
        values = _values_for(part, settings, as_of_ts)
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
        values = _values_for(part, settings, as_of_ts)
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
    )


def compute_and_store(session: Session, settings: Settings, period: str,
                      as_of: datetime | None = None) -> KpiComputation:
    """Compute a month's KPIs and keep them (a new computation each time; history is never rewritten)."""
    parse_period(period)
    settings = effective_settings(session, settings, int(period[:4]))  # the year's decided targets
    as_of = as_of or utcnow()
    data = load_period(session.connection(), period, settings)
    results = compute_kpis(data, settings, as_of)
    computation = KpiComputation(
        period=period, as_of=as_of, computed_at=utcnow(), actor=session.info.get("actor", "unknown"),
        input_counts=data.counts(),
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
