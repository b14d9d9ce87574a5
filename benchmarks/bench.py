"""`make bench`: SQMS against plain pandas, measured side by side in one run.

1. generates 1,000,000 service records, 50,000 complaints and 200,000 survey responses
   over 12 months (CSV, the DESIGN.md §3 formats);
2. (a) import: `sqms` importer vs `pandas.read_csv` + `DataFrame.to_sql` of the same file into
   the same kind of database (a fresh SQLite file each);
3. (b) KPIs of one month: `compute_and_store` (what `sqms kpi` runs) vs a plain pandas
   computation of the same KPIs from the CSVs;
4. (c) the whole monthly report flow (Prefect, compute → render → artifact → mails → delivery).

Prints each pair and its ratio. Options: `--records N` (default 1,000,000), `--keep`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPARTMENTS = ["CS", "OPS", "SALES", "GMO", "HR", "FIN", "RND", "ADMIN"]
WEIGHTS = np.array([30, 25, 15, 4, 4, 6, 10, 6], dtype=float)
CHANNELS = np.array(["phone", "online", "email", "onsite"])
PERIODS = [f"2025-{m:02d}" for m in range(11, 13)] + [f"2026-{m:02d}" for m in range(1, 11)]
FMT = "%Y-%m-%d %H:%M:%S"


def _timestamps(rng: np.random.Generator, n: int) -> pd.Series:
    start = pd.Timestamp("2025-11-01").value // 10**9
    end = pd.Timestamp("2026-11-01").value // 10**9
    seconds = rng.integers(start, end, n)
    return pd.Series(pd.to_datetime(seconds, unit="s"))


def generate(folder: Path, records: int, complaints: int, responses: int, seed: int = 7) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    p = WEIGHTS / WEIGHTS.sum()

    opened = _timestamps(rng, records).sort_values(ignore_index=True)
    channel = CHANNELS[rng.choice(4, records, p=[0.45, 0.35, 0.12, 0.08])]
    response = opened + pd.to_timedelta(rng.gamma(2.0, 12.0, records).round(), unit="s")
    response = response.where(rng.random(records) > 0.03)
    resolved = opened + pd.to_timedelta(rng.lognormal(1.5, 1.0, records) * 3600, unit="s").round("s")
    resolved = resolved.where(rng.random(records) > 0.05)
    fcr = np.where(rng.random(records) < 0.78, "true", "false").astype(object)
    fcr[rng.random(records) < 0.1] = ""
    service = pd.DataFrame({
        "record_id": [f"SR{i:08d}" for i in range(records)],
        "department": np.array(DEPARTMENTS)[rng.choice(8, records, p=p)],
        "channel": channel,
        "customer_id": [f"CU{i:06d}" for i in rng.integers(0, 80_000, records)],
        "opened_at": opened.dt.strftime(FMT),
        "first_response_at": response.dt.strftime(FMT).fillna(""),
        "resolved_at": resolved.dt.strftime(FMT).fillna(""),
        "first_contact_resolved": fcr,
    })

    received = _timestamps(rng, complaints).sort_values(ignore_index=True)
    settle_hours = rng.lognormal(3.0, 0.9, complaints)
    complaint = pd.DataFrame({
        "complaint_id": [f"CP{i:07d}" for i in range(complaints)],
        "received_at": received.dt.strftime(FMT),
        "department": np.array(DEPARTMENTS)[rng.choice(8, complaints, p=p)],
        "channel": CHANNELS[rng.choice(4, complaints)],
        "severity": np.where(rng.random(complaints) < 0.12, "special", "normal"),
        "category": np.array(["服务态度", "响应不及时", "处理质量", "收费争议", "信息错误"])[rng.choice(5, complaints)],
        "customer_id": [f"CU{i:06d}" for i in rng.integers(0, 80_000, complaints)],
        "responded_at": (received + pd.to_timedelta(rng.gamma(2, 2, complaints), unit="h").round("s")).dt.strftime(FMT),
        "resolved_at": (received + pd.to_timedelta(settle_hours, unit="h").round("s")).dt.strftime(FMT)
        .where(rng.random(complaints) > 0.04, ""),
        "description": "客户反映问题，已记录",
    })

    submitted = _timestamps(rng, responses).sort_values(ignore_index=True)
    nps = rng.choice(11, responses, p=np.array([1, 1, 1, 1, 2, 3, 5, 10, 20, 28, 28]) / 100)
    csat = np.clip(np.round(nps / 2.2 + rng.normal(0.4, 0.6, responses)), 1, 5).astype(int)
    survey = pd.DataFrame({
        "response_id": [f"SV{i:07d}" for i in range(responses)],
        "submitted_at": submitted.dt.strftime(FMT),
        "department": np.array(DEPARTMENTS)[rng.choice(8, responses, p=p)],
        "customer_id": [f"CU{i:06d}" for i in rng.integers(0, 80_000, responses)],
        "nps": nps,
        "csat": csat,
        "comment": "",
    })
    paths = {}
    for name, frame in (("service-records", service), ("complaints", complaint), ("survey-responses", survey)):
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def pandas_kpis(paths: dict[str, Path], period: str, response_targets: dict[str, int],
                deadline_days: dict[str, int], as_of: pd.Timestamp) -> pd.DataFrame:
    """The DESIGN.md §4 KPIs straight from the CSVs with pandas (the baseline of (b))."""
    import chinese_calendar

    start = pd.Timestamp(period + "-01")
    end = start + pd.offsets.MonthBegin(1)
    r = pd.read_csv(paths["service-records"], parse_dates=["opened_at", "first_response_at", "resolved_at"])
    r = r[(r.opened_at >= start) & (r.opened_at < end)]
    c = pd.read_csv(paths["complaints"], parse_dates=["received_at", "resolved_at"])
    c = c[(c.received_at >= start) & (c.received_at < end)].copy()
    s = pd.read_csv(paths["survey-responses"], parse_dates=["submitted_at"])
    s = s[(s.submitted_at >= start) & (s.submitted_at < end)]

    def deadline(day: pd.Timestamp, n: int) -> pd.Timestamp:
        d = day.date()
        while n:
            d += pd.Timedelta(days=1)
            if chinese_calendar.is_workday(d):
                n -= 1
        return pd.Timestamp(d) + pd.Timedelta(hours=23, minutes=59, seconds=59)

    cache = {}
    c["deadline"] = [cache.setdefault((d.normalize(), sev), deadline(d.normalize(), deadline_days[sev]))
                     for d, sev in zip(c.received_at, c.severity)]

    def kpis(r, c, s):
        targeted = r[r.channel.isin(list(response_targets))]
        delay = (targeted.first_response_at - targeted.opened_at).dt.total_seconds()
        within = delay <= targeted.channel.map(response_targets)
        resolved_by = c.resolved_at.notna() & (c.resolved_at <= as_of)
        eligible = resolved_by | (c.deadline < as_of)
        nps = s.nps.dropna()
        return {
            "record_volume": len(r),
            "avg_handling_hours": ((r.resolved_at - r.opened_at).dt.total_seconds() / 3600).mean(),
            "fcr_pct": 100 * r.first_contact_resolved.dropna().astype(bool).mean(),
            "response_within_target_pct": 100 * within.mean(),
            "complaint_rate_per_1000": 1000 * len(c) / len(r),
            "complaint_on_time_pct": 100 * (resolved_by & (c.resolved_at <= c.deadline))[eligible].mean(),
            "complaint_closure_pct": 100 * c.resolved_at.notna().mean(),
            "csat_mean": s.csat.mean(),
            "csat_top2_pct": 100 * (s.csat.dropna() >= 4).mean(),
            "nps": 100 * ((nps >= 9).mean() - (nps <= 6).mean()),
        }

    rows = [{"department": None, **kpis(r, c, s)}]
    for dept in DEPARTMENTS:
        rows.append({"department": dept, **kpis(r[r.department == dept], c[c.department == dept],
                                                  s[s.department == dept])})
    return pd.DataFrame(rows)


def timed(label: str, fn):
    start = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - start
    print(f"  {label:<58} {elapsed:8.2f} s", flush=True)
    return elapsed, value


def bench_dashboard(settings, requests: int = 60) -> float:
    """p95 of GET /app/dashboard, signed in as the quality manager, this month's KPIs stored."""
    import warnings

    from sqms.auth.service import sign
    from sqms.calendar import to_local, utcnow
    from sqms.db import UnitOfWork
    from sqms.records.service import compute_and_store
    from sqms.web.app import create_app

    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

    settings = settings.model_copy(update={"web": settings.web.model_copy(update={"secret_key": "bench"})})
    with UnitOfWork(settings.database_url, actor="bench") as uow:
        compute_and_store(uow.session, settings, to_local(utcnow(), settings.tz).strftime("%Y-%m"))
        uow.commit()
    quality = settings.people_with_role("quality_manager")[0].email
    client = TestClient(create_app(lambda: settings))
    client.cookies.set("sqms_session", sign({"e": quality, "c": "bench", "t": int(time.time())}, b"bench"))
    times = []
    for i in range(requests + 3):
        start = time.perf_counter()
        response = client.get("/app/dashboard")
        assert response.status_code == 200, response.status_code
        if i >= 3:  # the first requests warm the caches
            times.append(time.perf_counter() - start)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"  {requests} requests: median {times[len(times) // 2] * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--complaints", type=int, default=50_000)
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated files and databases")
    args = parser.parse_args()

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from sqms.config import load_settings
    from sqms.db import UnitOfWork, get_engine, migrate
    from sqms.importers import spec_for
    from sqms.ingest import import_file

    work = Path(tempfile.mkdtemp(prefix="sqms-bench-", dir=ROOT / "var" if (ROOT / "var").exists() else None))
    print(f"SQMS benchmark in {work} (SQLite; {os.cpu_count()} cores)")
    _, paths = timed(f"generate {args.records:,} records, {args.complaints:,} complaints, "
                     f"{args.responses:,} responses", lambda: generate(work / "data", args.records, args.complaints,
                                                                       args.responses))
    sizes = {k: f"{p.stat().st_size / 1e6:.0f} MB" for k, p in paths.items()}
    print(f"  files: {sizes}")

    # (a) import ------------------------------------------------------------------
    print("\n(a) import, each into a fresh SQLite file")
    db = work / "sqms.db"
    url = f"sqlite:///{db}"
    settings = load_settings(ROOT / "config" / "sqms.yaml", database_url=url, outbox_dir=work / "outbox",
                             reports_dir=work / "reports", questionnaires_dir=ROOT / "config" / "questionnaires")
    migrate(url)
    ratios = {}
    for kind in ("service-records", "complaints", "survey-responses"):
        ours, result = timed(f"sqms import {kind}", lambda: import_file(settings, spec_for(kind), paths[kind],
                                                                        actor="bench"))
        assert result.inserted == result.rows, result.summary()
        base_db = work / f"pandas-{kind}.db"
        engine = create_engine(f"sqlite:///{base_db}")

        def baseline():
            frame = pd.read_csv(paths[kind])
            frame.to_sql("data", engine, index=False, if_exists="replace", chunksize=100_000)

        theirs, _ = timed(f"pandas read_csv + to_sql {kind}", baseline)
        engine.dispose()
        ratios[kind] = ours / theirs
        print(f"  -> ratio sqms/pandas: {ours / theirs:.2f}")
    _, rerun = timed("sqms re-import of the same service records (idempotent no-op)",
                     lambda: import_file(settings, spec_for("service-records"), paths["service-records"]))
    assert rerun.unchanged == rerun.rows

    # (b) KPIs ----------------------------------------------------------------------
    print("\n(b) KPIs of 2026-10 (organisation + 8 departments)")
    from sqms.records.service import compute_and_store

    as_of = pd.Timestamp("2026-11-05", tz="UTC")

    def ours_kpis():
        with UnitOfWork(url, actor="bench") as uow:
            computation = compute_and_store(uow.session, settings, "2026-10", as_of.to_pydatetime())
            uow.commit()
            return computation

    ours, _ = timed("sqms kpi --period 2026-10 (compute_and_store)", ours_kpis)
    theirs, _ = timed("pandas from the CSVs", lambda: pandas_kpis(
        paths, "2026-10", settings.kpi.response_targets_seconds, settings.complaints.deadline_working_days,
        as_of.tz_localize(None)))
    print(f"  -> ratio sqms/pandas: {ours / theirs:.2f}")
    kpi_ratio = ours / theirs

    # (b2) the quality manager's dashboard ------------------------------------------------
    print("\n(b2) GET /app/dashboard as the quality manager (the database above)")
    dashboard_p95 = bench_dashboard(settings)
    print(f"  -> p95 {dashboard_p95 * 1000:.0f} ms")

    # (c) the whole report flow --------------------------------------------------------
    print("\n(c) the whole monthly report flow on SQLite (Prefect test harness, .eml transport)")
    os.environ.update({"SQMS_DATABASE_URL": url, "SQMS_OUTBOX_DIR": str(work / "outbox"),
                       "SQMS_REPORTS_DIR": str(work / "reports"), "SQMS_CONFIG": str(ROOT / "config" / "sqms.yaml")})
    from prefect.testing.utilities import prefect_test_harness

    from sqms.config import get_settings

    get_settings.cache_clear()
    with prefect_test_harness(server_startup_timeout=120):
        from flows.monthly_report import monthly_service_quality_report

        flow_time, result = timed("first run: 12 earlier months' KPIs computed for the trend",
                                  lambda: monthly_service_quality_report(period="2026-10"))
        again_time, _ = timed("next run: earlier months' KPIs already stored",
                              lambda: monthly_service_quality_report(period="2026-10"))
    get_engine(url).dispose()

    print("\nsummary")
    for kind, ratio in ratios.items():
        print(f"  import {kind:<18} sqms/pandas = {ratio:.2f}  (aim ≤ 1.5)")
    print(f"  kpi one month             sqms/pandas = {kpi_ratio:.2f}  (aim ≤ 1.0)")
    print(f"  dashboard GET             p95 {dashboard_p95 * 1000:.0f} ms  (aim < 300 ms)")
    print(f"  monthly report flow       {flow_time:.1f} s first run, {again_time:.1f} s next run  (aim < 15 s)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
