"""KPIs (DESIGN.md §4) against an independent pandas computation, on SQLite and PostgreSQL.

The data are generated with numpy (seeded), written as CSV, imported through
`import_file` and computed with `compute_and_store`. The expected values are computed
here, straight from the generated frames, following DESIGN.md §4 word for word; the
complaint deadlines are counted here with chinesecalendar, not with sqms code.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import chinese_calendar
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import select

from sqms.complaints.models import Complaint
from sqms.config import Settings
from sqms.db import UnitOfWork, get_engine
from sqms.kpi_catalog import KPI_CODES
from sqms.importers import spec_for
from sqms.ingest import import_file
from sqms.records.service import (
    PeriodData,
    compute_and_store,
    compute_kpis,
    latest_computation,
    load_period,
    results_of,
)
from sqms.stats import nps_margin, wilson_interval
from tests.conftest import make_settings

UTC = timezone.utc
TZ = "Asia/Shanghai"
PERIOD = "2026-10"
MONTH_START = pd.Timestamp("2026-10-01 00:00", tz=TZ).tz_convert("UTC").tz_localize(None)
MONTH_END = pd.Timestamp("2026-11-01 00:00", tz=TZ).tz_convert("UTC").tz_localize(None)
AS_OF = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)  # 18:00 on Tue 3 Nov local
AS_OF_NAIVE = pd.Timestamp(AS_OF).tz_localize(None)

KPIS = ["record_volume", "avg_handling_hours", "fcr_pct", "response_within_target_pct", "complaint_rate_per_1000",
        "complaint_on_time_pct", "complaint_closure_pct", "csat_mean", "csat_top2_pct", "nps"]
BETTER = {"record_volume": None, "avg_handling_hours": "lower", "complaint_rate_per_1000": "lower"}
RESPONSE_TARGETS = {"phone": 30, "online": 60}  # config/sqms.yaml
WORKING_DAYS = {"normal": 2, "special": 5}
NAMES = {"CS": "客服部", "OPS": "运营部", "SALES": "销售部", "GMO": "总经办", "HR": "人力资源部", "FIN": "财务部",
         "RND": "技术研发部", "ADMIN": "行政部"}
# records, complaints, responses per department in the month (ADMIN has nothing at all)
SIZES = {"CS": (1200, 110, 500), "OPS": (900, 80, 380), "SALES": (500, 40, 200), "RND": (300, 25, 90),
         "FIN": (60, 6, 29), "GMO": (29, 3, 31), "HR": (15, 0, 0)}


# -- generation ------------------------------------------------------------------------


def _local_moments(rng: np.random.Generator, n: int, start: str, end: str) -> pd.Series:
    """n naive local timestamps, whole seconds, uniform in [start, end)."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    seconds = rng.integers(0, int((hi - lo).total_seconds()), n)
    return pd.Series(lo + pd.to_timedelta(seconds, unit="s"))


def _to_utc(local: pd.Series) -> pd.Series:
    return local.dt.tz_localize(TZ).dt.tz_convert("UTC").dt.tz_localize(None)


def _text(moments: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Timestamps as people write them: mostly naive local, some with an offset, some YYYY/MM/DD."""
    local = moments.dt.tz_localize("UTC").dt.tz_convert(TZ).dt.tz_localize(None)
    style = rng.integers(0, 10, len(moments))
    plain = local.dt.strftime("%Y-%m-%d %H:%M:%S")
    slashed = local.dt.strftime("%Y/%m/%d %H:%M:%S")
    zulu = moments.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    offset = local.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    out = plain.where(style < 6, slashed.where(style < 8, zulu.where(style < 9, offset)))
    return out.where(moments.notna(), "")


def _department_text(codes: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Codes or names, as DESIGN.md §3 allows."""
    return codes.where(rng.random(len(codes)) < 0.7, codes.map(NAMES))


def generate(seed: int = 20261001) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    # records: each department's October volume plus some in late September / early November
    depts = np.concatenate([[d] * SIZES[d][0] for d in SIZES])
    n_oct = len(depts)
    spill = 160
    opened_local = pd.concat([
        _local_moments(rng, n_oct, "2026-10-01", "2026-11-01"),
        _local_moments(rng, spill // 2, "2026-09-28", "2026-10-01"),
        _local_moments(rng, spill // 2, "2026-11-01", "2026-11-03"),
        pd.Series(pd.to_datetime(["2026-10-31 23:30:00", "2026-11-01 00:10:00", "2026-10-01 00:00:00",
                                  "2026-09-30 23:59:59"])),
    ], ignore_index=True)
    n = len(opened_local)
    dept = pd.Series(np.concatenate([depts, rng.choice(list(SIZES), n - n_oct)]))
    channel = pd.Series(rng.choice(["phone", "online", "email", "onsite"], n, p=[0.4, 0.3, 0.2, 0.1]))
    opened = _to_utc(opened_local)
    delay = pd.Series(rng.integers(1, 121, n)).astype(float)
    delay[rng.random(n) < 0.05] = 30.0  # exactly on the phone target
    delay[rng.random(n) < 0.05] = 60.0  # exactly on the online target
    delay[rng.random(n) < 0.1] = np.nan  # never answered
    first_response = opened + pd.to_timedelta(delay, unit="s")
    handling = pd.Series(rng.integers(60, 72 * 3600, n)).astype(float)
    handling[rng.random(n) < 0.15] = np.nan  # unresolved
    resolved = opened + pd.to_timedelta(handling, unit="s")
    fcr_text = pd.Series(rng.choice(["是", "否", "1", "0", "true", "false", ""], n,
                                    p=[0.25, 0.1, 0.2, 0.05, 0.15, 0.05, 0.2]))
    fcr = fcr_text.map({"是": True, "1": True, "true": True, "否": False, "0": False, "false": False, "": None})
    records = pd.DataFrame({
        "record_id": [f"SR-{i:05d}" for i in range(n)], "department": dept, "channel": channel,
        "customer_id": [f"C{i:04d}" for i in rng.integers(0, 900, n)],
        "opened_at": opened, "first_response_at": first_response, "resolved_at": resolved, "fcr": fcr,
    })
    records_csv = pd.DataFrame({
        "record_id": records["record_id"], "department": _department_text(dept, rng), "channel": channel,
        "customer_id": records["customer_id"], "opened_at": _text(opened, rng),
        "first_response_at": _text(first_response, rng), "resolved_at": _text(resolved, rng),
        "first_contact_resolved": fcr_text,
    })

    # complaints: many around 国庆 (1-7 Oct off, Sat 10 Oct worked) so deadlines cross the holiday
    cdepts = np.concatenate([[d] * SIZES[d][1] for d in SIZES])
    m = len(cdepts)
    holiday = rng.random(m) < 0.45
    received_local = _local_moments(rng, m, "2026-10-01", "2026-11-01")
    received_local[holiday] = _local_moments(rng, int(holiday.sum()), "2026-10-01", "2026-10-11").to_numpy()
    extra = pd.concat([_local_moments(rng, 12, "2026-09-26", "2026-10-01"),  # September: not in the period
                       pd.Series(pd.to_datetime(["2026-09-30 23:30:00", "2026-10-31 23:59:00",
                                                 "2026-11-01 00:01:00"]))], ignore_index=True)
    received_local = pd.concat([received_local, extra], ignore_index=True)
    cdept = pd.Series(np.concatenate([cdepts, rng.choice(["CS", "OPS", "SALES"], len(extra))]))
    m = len(received_local)
    severity = pd.Series(rng.choice(["normal", "special"], m, p=[0.75, 0.25]))
    received = _to_utc(received_local)
    deadline = pd.Series([independent_deadline(t, s) for t, s in zip(received_local, severity)])
    # resolved: early, just on time, a second late, days late, after the as-of time, or not at all
    kind = rng.choice(["early", "edge", "late1s", "late", "after_as_of", "open"], m,
                      p=[0.45, 0.05, 0.05, 0.2, 0.05, 0.2])
    early = received + pd.to_timedelta(rng.integers(600, 3 * 86400, m), unit="s")
    early = early.where(early <= deadline, deadline)
    late = deadline + pd.to_timedelta(rng.integers(3600, 6 * 86400, m), unit="s")
    resolved_c = pd.Series(pd.NaT, index=range(m), dtype="datetime64[us]")
    resolved_c[kind == "early"] = early[kind == "early"]
    resolved_c[kind == "edge"] = deadline[kind == "edge"]
    resolved_c[kind == "late1s"] = deadline[kind == "late1s"] + pd.Timedelta(seconds=1)
    resolved_c[kind == "late"] = late[kind == "late"]
    resolved_c[kind == "after_as_of"] = AS_OF_NAIVE + pd.Timedelta(hours=20)
    resolved_c = resolved_c.where(resolved_c >= received, received + pd.Timedelta(hours=1))
    resolved_c[kind == "open"] = pd.NaT
    responded = received + pd.to_timedelta(rng.integers(60, 86400, m), unit="s")
    responded = responded.where(rng.random(m) < 0.7)
    complaints = pd.DataFrame({
        "complaint_id": [f"TS-{i:04d}" for i in range(m)], "department": cdept, "severity": severity,
        "received_at": received, "resolved_at": resolved_c, "deadline_at": deadline, "kind": kind,
    })
    complaints_csv = pd.DataFrame({
        "complaint_id": complaints["complaint_id"], "received_at": _text(received, rng),
        "department": _department_text(cdept, rng),
        "channel": rng.choice(["phone", "online", "email", "onsite"], m),
        "severity": severity.where(rng.random(m) < 0.9, severity.str.upper()),
        "category": rng.choice(["服务态度", "等待时间", "收费", "质量"], m), "customer_id": "",
        "responded_at": _text(responded.where(responded <= resolved_c.fillna(responded)), rng),
        "resolved_at": _text(resolved_c, rng),
        "description": rng.choice(["<b>太慢</b>", "态度差, 要求道歉", "", "multi\nline"], m),
    })

    # survey responses
    sdepts = np.concatenate([[d] * SIZES[d][2] for d in SIZES])
    k = len(sdepts)
    submitted_local = pd.concat([_local_moments(rng, k, "2026-10-01", "2026-11-01"),
                                 _local_moments(rng, 40, "2026-11-01", "2026-11-05")], ignore_index=True)
    sdept = pd.Series(np.concatenate([sdepts, rng.choice(["CS", "OPS"], 40)]))
    k = len(submitted_local)
    nps = pd.Series(rng.choice(np.arange(11), k, p=[.03, .02, .03, .04, .05, .07, .09, .17, .2, .15, .15]))
    nps = nps.astype(float).where(rng.random(k) > 0.1)
    csat = pd.Series(rng.choice([1, 2, 3, 4, 5, 3.5, 4.5], k, p=[.05, .07, .15, .3, .33, .05, .05]))
    csat = csat.where(rng.random(k) > 0.08)
    submitted = _to_utc(submitted_local)
    responses = pd.DataFrame({"response_id": [f"SV-{i:04d}" for i in range(k)], "department": sdept,
                              "submitted_at": submitted, "nps": nps, "csat": csat})
    responses_csv = pd.DataFrame({
        "response_id": responses["response_id"], "submitted_at": _text(submitted, rng),
        "department": _department_text(sdept, rng), "customer_id": "",
        "nps": nps.map(lambda v: "" if pd.isna(v) else str(int(v))),
        "csat": csat.map(lambda v: "" if pd.isna(v) else f"{v:g}"),
        "TAN1": rng.choice(["1", "2", "3", "4", "5", ""], k), "comment": "",
    })
    return {"records": records, "records_csv": records_csv, "complaints": complaints,
            "complaints_csv": complaints_csv, "responses": responses, "responses_csv": responses_csv}


def independent_deadline(received_local: pd.Timestamp, severity: str) -> pd.Timestamp:
    """End (23:59:59 local) of the N-th chinesecalendar working day after the local day of receipt, naive UTC."""
    day: date = received_local.date()
    n = WORKING_DAYS[severity]
    while n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            n -= 1
    return pd.Timestamp(datetime.combine(day, time(23, 59, 59))).tz_localize(TZ).tz_convert("UTC").tz_localize(None)


# -- the expected values ----------------------------------------------------------------


def _pct(mask: pd.Series) -> float | None:
    return 100.0 * mask.mean() if len(mask) else None


def expected_values(data: dict[str, pd.DataFrame], department: str | None) -> dict[str, tuple[float | None, int]]:
    """kpi -> (value, n) per DESIGN.md §4, for the organisation (None) or one department."""
    r, c, s = data["records"], data["complaints"], data["responses"]
    r = r[(r["opened_at"] >= MONTH_START) & (r["opened_at"] < MONTH_END)]
    c = c[(c["received_at"] >= MONTH_START) & (c["received_at"] < MONTH_END)]
    s = s[(s["submitted_at"] >= MONTH_START) & (s["submitted_at"] < MONTH_END)]
    if department is not None:
        r, c, s = r[r["department"] == department], c[c["department"] == department], s[s["department"] == department]
    out: dict[str, tuple[float | None, int]] = {"record_volume": (float(len(r)), len(r))}
    done = r[r["resolved_at"].notna()]
    hours = (done["resolved_at"] - done["opened_at"]).dt.total_seconds() / 3600
    out["avg_handling_hours"] = (hours.mean() if len(hours) else None, len(hours))
    known = r["fcr"][r["fcr"].notna()].astype(bool)
    out["fcr_pct"] = (_pct(known), len(known))
    targeted = r[r["channel"].isin(list(RESPONSE_TARGETS))]
    seconds = (targeted["first_response_at"] - targeted["opened_at"]).dt.total_seconds()
    within = seconds.notna() & (seconds <= targeted["channel"].map(RESPONSE_TARGETS).astype(float))
    out["response_within_target_pct"] = (_pct(within), len(targeted))
    out["complaint_rate_per_1000"] = (len(c) / len(r) * 1000 if len(r) else None, len(r))
    resolved_by_as_of = c["resolved_at"].notna() & (c["resolved_at"] <= AS_OF_NAIVE)
    counted = resolved_by_as_of | (c["deadline_at"] < AS_OF_NAIVE)
    on_time = resolved_by_as_of & (c["resolved_at"] <= c["deadline_at"])
    out["complaint_on_time_pct"] = (_pct(on_time[counted]), int(counted.sum()))
    out["complaint_closure_pct"] = (_pct(c["resolved_at"].notna()), len(c))
    csat = s["csat"].dropna()
    out["csat_mean"] = (csat.mean() if len(csat) else None, len(csat))
    out["csat_top2_pct"] = (_pct(csat >= 4), len(csat))
    nps = s["nps"].dropna()
    out["nps"] = (100 * ((nps >= 9).mean() - (nps <= 6).mean()) if len(nps) else None, len(nps))
    return out


def expected_status(kpi: str, value: float | None, target: float | None) -> str:
    if value is None:
        return "no_data"
    better = BETTER.get(kpi, "higher")
    if better is None or target is None:
        return "no_target"
    return "met" if (value <= target if better == "lower" else value >= target) else "missed"


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> dict[str, pd.DataFrame]:
    return generate()


def import_generated(settings: Settings, data: dict[str, pd.DataFrame], folder: Path) -> None:
    for kind, name in [("service-records", "records_csv"), ("complaints", "complaints_csv"),
                       ("survey-responses", "responses_csv")]:
        path = folder / f"{name}.csv"
        data[name].to_csv(path, index=False, encoding="utf-8")
        result = import_file(settings, spec_for(kind), path, actor="test")
        assert result.inserted == len(data[name]) and result.rejected == 0


# -- the comparison ------------------------------------------------------------------------


def test_every_kpi_against_an_independent_computation(settings: Settings, generated, tmp_path: Path):
    data = generated
    import_generated(settings, data, tmp_path)

    # the deadlines stored on import are the ones counted here with chinesecalendar
    with get_engine(settings.database_url).connect() as conn:
        stored = dict(conn.execute(select(Complaint.complaint_id, Complaint.deadline_at)).all())
    assert len(stored) == len(data["complaints"])
    for cid, deadline in zip(data["complaints"]["complaint_id"], data["complaints"]["deadline_at"]):
        assert stored[cid] == deadline.to_pydatetime().replace(tzinfo=UTC), cid

    # the premise: the generated month exercises what the definitions distinguish
    c = data["complaints"]
    crossing = c[(c["received_at"] < pd.Timestamp("2026-10-01 16:00")) & (c["received_at"] >= MONTH_START)]
    assert (crossing["deadline_at"] > pd.Timestamp("2026-10-08")).all() and len(crossing) > 5
    assert set(c["kind"]) == {"early", "edge", "late1s", "late", "after_as_of", "open"}

    with UnitOfWork(settings.database_url, actor="tester") as uow:
        computation = compute_and_store(uow.session, settings, PERIOD, as_of=AS_OF)
        uow.commit()
        computed = results_of(computation)
    with UnitOfWork(settings.database_url) as uow:  # what was stored, read back
        latest = latest_computation(uow.session, PERIOD)
        assert latest.id == computation.id and latest.as_of == AS_OF and latest.actor == "tester"
        results = results_of(latest)
        counts = dict(latest.input_counts)
    assert [(r.kpi, r.department, r.value, r.status, r.n) for r in results] == [
        (r.kpi, r.department, r.value, r.status, r.n) for r in computed]

    in_month = lambda frame, column: int(((frame[column] >= MONTH_START) & (frame[column] < MONTH_END)).sum())
    assert counts == {"records": in_month(data["records"], "opened_at"),
                      "complaints": in_month(data["complaints"], "received_at"),
                      "responses": in_month(data["responses"], "submitted_at")}

    # the service-monitoring KPIs (issue 15) are checked in test_monitoring_kpis.py
    results = [r for r in results if r.kpi in [*KPIS, "sop_training_completion_pct"]]
    by_key = {(r.kpi, r.department): r for r in results}
    departments = [None, "CS", "OPS", "SALES", "GMO", "HR", "FIN", "RND", "ADMIN"]
    # and the SOP training completion of the standards register (no trainings here: tests/test_standards.py)
    assert len(results) == (len(KPIS) + 1) * len(departments)
    assert set(by_key) == {(k, d) for k in [*KPIS, "sop_training_completion_pct"] for d in departments}
    statuses = set()
    for department in departments:
        expected = expected_values(data, department)
        for kpi in KPIS:
            got = by_key[(kpi, department)]
            value, n = expected[kpi]
            where = f"{kpi} / {department or 'organisation'}"
            if value is None:
                assert got.value is None, where
            else:
                assert got.value == pytest.approx(value, rel=1e-9, abs=1e-9), where
            assert got.n == n, where
            target = settings.kpi.target(kpi, department)
            assert got.target == target, where
            assert got.status == expected_status(kpi, value, target), where
            assert got.low_confidence == (kpi != "record_volume" and value is not None and n < 30), where
            statuses.add(got.status)
    # the data reach every status
    assert statuses == {"met", "missed", "no_target", "no_data"}
    assert by_key[("avg_handling_hours", "RND")].target == 48  # the department's own target
    flags = {r.low_confidence for r in results if r.value is not None and r.kpi != "record_volume"}
    assert flags == {True, False}
    assert by_key[("complaint_on_time_pct", "HR")].status == "no_data"  # records but no complaints
    assert by_key[("complaint_rate_per_1000", "HR")].value == 0.0


def test_a_department_without_data(settings: Settings, generated, tmp_path: Path):
    """ADMIN has no rows at all: every rate is no_data; its volume is a true zero."""
    import_generated(settings, generated, tmp_path)
    with UnitOfWork(settings.database_url) as uow:
        results = results_of(compute_and_store(uow.session, settings, PERIOD, as_of=AS_OF))
    admin = {r.kpi: r for r in results if r.department == "ADMIN"}
    assert (admin["record_volume"].value, admin["record_volume"].n, admin["record_volume"].status) == (
        0.0, 0, "no_target")
    for kpi in KPIS[1:]:
        assert (admin[kpi].value, admin[kpi].status, admin[kpi].low_confidence) == (None, "no_data", False), kpi
        assert admin[kpi].as_json() == {"kpi": kpi, "department": "ADMIN", "value": None,
                                        "target": admin[kpi].target, "status": "no_data", "n": 0}


def test_an_empty_month(settings: Settings):
    with UnitOfWork(settings.database_url) as uow:
        results = results_of(compute_and_store(uow.session, settings, "2031-02", as_of=AS_OF))
        uow.commit()
    assert len(results) == len(KPI_CODES) * 9  # every KPI of the catalogue, issue 15 included
    assert {r.status for r in results if r.kpi != "record_volume"} == {"no_data"}


def test_month_boundaries_in_local_time(settings: Settings, tmp_path: Path):
    """23:30 on 31 Oct local is October; 00:10 on 1 Nov local (16:10 UTC on 31 Oct) is November."""
    header = "record_id,department,channel,customer_id,opened_at,first_response_at,resolved_at,first_contact_resolved"
    (tmp_path / "r.csv").write_text("\n".join([
        header,
        "A,CS,phone,,2026-10-31 23:30,,,",
        "B,CS,phone,,2026-11-01 00:10,,,",
        "C,CS,phone,,2026-10-31T16:10:00Z,,,",  # = B's moment, given in UTC
        "D,CS,phone,,2026-10-01 00:00,,,",
        "E,CS,phone,,2026-09-30 23:59:59,,,",
        "F,CS,phone,,2026-10-31T15:59:59Z,,,",  # 23:59:59 local: still October
    ]) + "\n", encoding="utf-8")
    (tmp_path / "k.csv").write_text("\n".join([
        "complaint_id,received_at,department,channel,severity,category,customer_id,responded_at,resolved_at,"
        "description",
        "K1,2026-10-31 23:30,CS,phone,normal,x,,,,",
        "K2,2026-11-01 00:10,CS,phone,normal,x,,,,",
    ]) + "\n", encoding="utf-8")
    (tmp_path / "s.csv").write_text("\n".join([
        "response_id,submitted_at,department,customer_id,nps,csat,comment",
        "S1,2026-10-31 23:30,CS,,10,5,",
        "S2,2026-11-01 00:10,CS,,0,1,",
    ]) + "\n", encoding="utf-8")
    for kind, name in [("service-records", "r"), ("complaints", "k"), ("survey-responses", "s")]:
        import_file(settings, spec_for(kind), tmp_path / f"{name}.csv")
    with get_engine(settings.database_url).connect() as conn:
        october = load_period(conn, "2026-10", settings)
        november = load_period(conn, "2026-11", settings)
        september = load_period(conn, "2026-09", settings)
    assert sorted(october.records["record_id"]) == ["A", "D", "F"]
    assert sorted(november.records["record_id"]) == ["B", "C"]
    assert sorted(september.records["record_id"]) == ["E"]
    assert list(october.complaints["complaint_id"]) == ["K1"] and list(november.complaints["complaint_id"]) == ["K2"]
    assert list(october.responses["response_id"]) == ["S1"] and list(november.responses["response_id"]) == ["S2"]
    results = {(r.kpi, r.department): r for r in compute_kpis(october, settings, AS_OF)}
    assert results[("record_volume", None)].value == 3
    assert results[("nps", "CS")].value == 100.0
    assert results[("complaint_rate_per_1000", "CS")].value == pytest.approx(1000 / 3)
    # the deadline of K1 (received 23:30 on Sat 31 Oct local) counts from 31 Oct: Mon 2, Tue 3 Nov
    assert october.complaints["deadline_at"].iloc[0] == pd.Timestamp("2026-11-03 15:59:59")


# -- statuses, confidence and intervals on hand-made data ----------------------------------


def _period(records: list[dict[str, Any]] = (), complaints: list[dict[str, Any]] = (),
            responses: list[dict[str, Any]] = ()) -> PeriodData:
    def frame(rows: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
        df = pd.DataFrame(list(rows), columns=list(columns))
        return df.astype({c: t for c, t in columns.items() if t})

    return PeriodData(
        records=frame(records, {"record_id": "", "department": "", "channel": "", "opened_at": "datetime64[us]",
                                "first_response_at": "datetime64[us]", "resolved_at": "datetime64[us]",
                                "first_contact_resolved": "object"}),
        complaints=frame(complaints, {"complaint_id": "", "department": "", "severity": "", "category": "",
                                      "received_at": "datetime64[us]", "responded_at": "datetime64[us]",
                                      "resolved_at": "datetime64[us]", "deadline_at": "datetime64[us]"}),
        responses=frame(responses, {"response_id": "", "department": "", "submitted_at": "datetime64[us]",
                                    "nps": "float64", "csat": "float64"}),
    )


T0 = pd.Timestamp("2026-10-12 01:00")


def _records(n: int, department: str = "CS", hours: float = 24.0, fcr_true: int = 0, fast: int = 0) -> list[dict]:
    return [{"record_id": f"{department}{i}", "department": department, "channel": "phone", "opened_at": T0,
             "first_response_at": T0 + pd.Timedelta(seconds=30 if i < fast else 31),
             "resolved_at": T0 + pd.Timedelta(hours=hours), "first_contact_resolved": i < fcr_true}
            for i in range(n)]


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    return make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path)


def test_statuses_on_the_target_boundary(plain_settings: Settings):
    """≥ for higher-is-better, ≤ for lower-is-better; exactly on target is met."""
    data = _period(records=_records(40, hours=24.0, fcr_true=30, fast=36)
                   + _records(40, "RND", hours=48.5, fcr_true=29, fast=35))
    results = {(r.kpi, r.department): r for r in compute_kpis(data, plain_settings, AS_OF)}
    assert (results[("avg_handling_hours", "CS")].value, results[("avg_handling_hours", "CS")].status) == (24.0, "met")
    assert (results[("fcr_pct", "CS")].value, results[("fcr_pct", "CS")].status) == (75.0, "met")
    assert (results[("response_within_target_pct", "CS")].value,
            results[("response_within_target_pct", "CS")].status) == (90.0, "met")
    assert results[("avg_handling_hours", "RND")].target == 48
    assert results[("avg_handling_hours", "RND")].status == "missed"  # 48.5 > 48
    assert results[("fcr_pct", "RND")].status == "missed"  # 72.5 < 75
    assert results[("response_within_target_pct", "RND")].status == "missed"  # 87.5 < 90
    assert results[("record_volume", None)].status == "no_target"
    assert results[("complaint_rate_per_1000", "CS")].value == 0.0
    assert results[("complaint_rate_per_1000", "CS")].status == "met"
    assert results[("nps", "CS")].status == "no_data"


def test_no_target_when_the_target_is_removed(tmp_path: Path):
    settings = make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path,
                             kpi={"targets": {"fcr_pct": None}, "department_targets": {"CS": {"nps": 10}}})
    data = _period(records=_records(40, fcr_true=10),
                   responses=[{"response_id": f"S{i}", "department": "CS", "submitted_at": T0, "nps": 9.0,
                               "csat": 4.0} for i in range(5)])
    results = {(r.kpi, r.department): r for r in compute_kpis(data, settings, AS_OF)}
    assert (results[("fcr_pct", "CS")].target, results[("fcr_pct", "CS")].status) == (None, "no_target")
    assert (results[("nps", "CS")].target, results[("nps", "CS")].status) == (10, "met")
    # an override is merged into the file's section: the other targets stay
    assert (results[("nps", None)].target, results[("nps", None)].status) == (30, "met")
    assert results[("csat_mean", "CS")].target == 4.2


@pytest.mark.parametrize("n, low", [(29, True), (30, False)])
def test_low_confidence_below_30(plain_settings: Settings, n: int, low: bool):
    responses = [{"response_id": f"S{i}", "department": "OPS", "submitted_at": T0, "nps": float(i % 11),
                  "csat": float(1 + i % 5)} for i in range(n)]
    data = _period(records=_records(n, "OPS", fcr_true=n // 2), responses=responses)
    results = {(r.kpi, r.department): r for r in compute_kpis(data, plain_settings, AS_OF)}
    for kpi in KPIS[1:]:
        if kpi.startswith("complaint_on") or kpi.startswith("complaint_cl"):
            continue  # no complaints: no value
        assert results[(kpi, "OPS")].n == n
        assert results[(kpi, "OPS")].low_confidence is low, kpi
    assert results[("record_volume", "OPS")].low_confidence is False  # a count, not an estimate
    assert results[("complaint_on_time_pct", "OPS")].low_confidence is False  # no value at all


def test_complaint_on_time_counts_only_decided_complaints(plain_settings: Settings):
    deadline = pd.Timestamp("2026-10-20 15:59:59")
    base = {"department": "CS", "severity": "normal", "category": "x", "received_at": T0, "responded_at": pd.NaT,
            "deadline_at": deadline}
    as_of = datetime(2026, 10, 21, tzinfo=UTC)  # after the deadline
    early = datetime(2026, 10, 19, tzinfo=UTC)  # before it
    complaints = [
        {**base, "complaint_id": "on_time", "resolved_at": deadline},
        {**base, "complaint_id": "late", "resolved_at": deadline + pd.Timedelta(seconds=1)},
        {**base, "complaint_id": "open_overdue", "resolved_at": pd.NaT},
        {**base, "complaint_id": "open_not_due", "resolved_at": pd.NaT,
         "deadline_at": pd.Timestamp("2026-10-30 15:59:59")},
        {**base, "complaint_id": "resolved_later", "resolved_at": pd.Timestamp("2026-10-25")},
    ]
    data = _period(complaints=complaints)
    results = {(r.kpi, r.department): r for r in compute_kpis(data, plain_settings, as_of)}
    # decided at as_of: on_time, late, open_overdue, resolved_later (overdue at as_of): 1 of 4
    assert (results[("complaint_on_time_pct", "CS")].value, results[("complaint_on_time_pct", "CS")].n) == (25.0, 4)
    assert (results[("complaint_closure_pct", "CS")].value, results[("complaint_closure_pct", "CS")].n) == (60.0, 5)
    assert results[("complaint_rate_per_1000", "CS")].value is None  # no records: no rate
    results = {(r.kpi, r.department): r for r in compute_kpis(data, plain_settings, early)}
    # before any deadline and before any resolution nothing is decided yet
    on_time = results[("complaint_on_time_pct", "CS")]
    assert (on_time.value, on_time.n, on_time.status) == (None, 0, "no_data")
    assert results[("complaint_closure_pct", "CS")].value == 60.0  # DESIGN: "with resolved_at set"


@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (0, 10), (3, 10), (8, 10), (10, 10), (45, 50), (812, 1000)])
def test_wilson_interval_matches_scipy(k: int, n: int):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, abs=1e-12)
    assert wilson_interval(0, 0) is None


def test_nps_margin_by_hand():
    # p+ = .5, p- = .2: 1.96 * sqrt((.5 + .2 - .3²) / 100) * 100 = 15.3078 (with z = 1.959964)
    assert nps_margin(50, 20, 100) == pytest.approx(1.959963984540054 * math.sqrt(0.61 / 100) * 100, rel=1e-12)
    assert nps_margin(50, 20, 100) == pytest.approx(15.3078, abs=1e-4)
    assert nps_margin(10, 0, 10) == 0.0  # everyone a promoter: no spread
    assert nps_margin(0, 0, 0) is None
    # against a simulation-free check: the variance of the per-response score (+1, 0, -1)
    scores = np.array([1] * 50 + [-1] * 20 + [0] * 30, dtype=float)
    assert nps_margin(50, 20, 100) == pytest.approx(stats.norm.ppf(0.975) * scores.std() / 10 * 100, rel=1e-9)


def test_intervals_are_reported_with_the_kpis(plain_settings: Settings):
    responses = [{"response_id": f"S{i}", "department": "CS", "submitted_at": T0,
                  "nps": [10.0, 9.0, 7.0, 3.0, np.nan][i % 5], "csat": [5.0, 4.0, 4.5, 2.0, np.nan][i % 5]}
                 for i in range(50)]
    results = {(r.kpi, r.department): r for r in compute_kpis(_period(responses=responses), plain_settings, AS_OF)}
    top2 = results[("csat_top2_pct", "CS")]
    assert (top2.value, top2.n) == (75.0, 40)
    ci = stats.binomtest(30, 40).proportion_ci(method="wilson")
    assert top2.extra["ci95"] == pytest.approx([100 * ci.low, 100 * ci.high], rel=1e-12)
    nps = results[("nps", "CS")]
    assert (nps.value, nps.n) == (25.0, 40)  # 20 promoters, 10 detractors of 40
    assert nps.extra["promoters"] == 20 and nps.extra["detractors"] == 10
    assert nps.extra["margin95"] == pytest.approx(1.959963984540054 * math.sqrt((0.5 + 0.25 - 0.25 ** 2) / 40) * 100)
    assert results[("csat_mean", "CS")].value == pytest.approx((5 + 4 + 4.5 + 2) / 4)


def test_sql_aggregation_equals_the_frame_computation(settings: Settings, generated, tmp_path: Path):
    """The database's GROUP BY (what `compute_and_store` uses) and the pandas definitions over the
    loaded rows give the same counts and sums for the organisation and every department."""
    from sqms.records.service import _sums_of, sql_sums

    import_generated(settings, generated, tmp_path)
    with get_engine(settings.database_url).connect() as conn:
        sums = sql_sums(conn, PERIOD, settings, AS_OF)
        data = load_period(conn, PERIOD, settings)
    as_of = pd.Timestamp(AS_OF).tz_convert("UTC").tz_localize(None)
    assert sums[None] == pytest.approx(_sums_of(data, settings, as_of), rel=1e-12)
    for dept in settings.departments:
        part = PeriodData(*(frame[frame["department"] == dept.code]
                            for frame in (data.records, data.complaints, data.responses)))
        expected = _sums_of(part, settings, as_of)
        got = sums.get(dept.code, dict.fromkeys(expected, 0))
        assert got == pytest.approx(expected, rel=1e-12), dept.code
