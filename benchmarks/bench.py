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


_PEAK = """
def peak_rss_of_this_process():
    # peak resident memory in bytes: the kernel's VmHWM (this address space, since exec), else
    # ru_maxrss, which Linux carries over from the parent forked before exec (an upper bound)
    import resource
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) * 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""

_CHILD_IMPORT = _PEAK + """
import sys, time
from pathlib import Path
from sqms.config import load_settings
from sqms.importers import spec_for
from sqms.ingest import import_file
root, url, work, path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
settings = load_settings(root / "config" / "sqms.yaml", database_url=url, outbox_dir=work / "outbox",
                         reports_dir=work / "reports", questionnaires_dir=root / "config" / "questionnaires")
start = time.perf_counter()
result = import_file(settings, spec_for("service-records"), path, actor="bench")
print(time.perf_counter() - start, peak_rss_of_this_process())
assert result.inserted == result.rows, result.summary()
"""


def import_in_child(url: str, work: Path, path: Path) -> tuple[float, int]:
    """The service-records import in a child process: (seconds of `import_file` alone, without the
    interpreter's start, and the child's peak RSS in bytes)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _CHILD_IMPORT, str(ROOT), url, str(work), str(path)], check=True,
                         cwd=ROOT, capture_output=True, text=True).stdout
    seconds, peak = out.split()[-2:]
    return float(seconds), int(peak)


def best_of(n: int, command: list[str], url: str, work: Path) -> float:
    import subprocess

    env = dict(os.environ, SQMS_DATABASE_URL=url, SQMS_OUTBOX_DIR=str(work / "outbox"),
               SQMS_REPORTS_DIR=str(work / "reports"), SQMS_CONFIG=str(ROOT / "config" / "sqms.yaml"))
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
    print(f"  {' '.join(['sqms'] + command[1:]):<58} {best:8.2f} s (best of {n})", flush=True)
    return best


_CHILD_REMINDERS = _PEAK + """
import sys, time
from datetime import date, datetime
from pathlib import Path
from sqlalchemy import func, select
from sqms.config import load_settings
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.reminders.service import DueItem, send_reminders
root, url, work, n = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
settings = load_settings(root / "config" / "sqms.yaml", database_url=url, outbox_dir=work / "outbox",
                         reports_dir=work / "reports", questionnaires_dir=root / "config" / "questionnaires")
tz = settings.tz
depts = [d.code for d in settings.departments]
# open complaints without a named owner, late by 1 to 20 working days: every stage and escalation
items = [DueItem("complaint", f"BENCH{i:07d}", "客户投诉", None, depts[i % len(depts)],
                 datetime(2026, 10, 9 + i % 10, 23, 59, 59, tzinfo=tz)) for i in range(n)]
start = time.perf_counter()
with UnitOfWork(url, actor="bench") as uow:
    result = send_reminders(uow.session, settings, today=date(2026, 10, 26), now=datetime(2026, 10, 26, 9, tzinfo=tz),
                            sources=[lambda *_: items])
    uow.commit()
elapsed = time.perf_counter() - start
with UnitOfWork(url) as uow:
    biggest = uow.session.execute(select(func.max(func.length(OutboxMessage.body_text) + func.length(OutboxMessage.body_html)))
                                  .where(OutboxMessage.process == "reminders")).scalar() or 0
print(elapsed, result.digests, biggest, peak_rss_of_this_process())
"""


def reminders_in_child(url: str, work: Path, n: int) -> tuple[float, int, int, int]:
    """send_reminders over n open items in a child process: (seconds, digests, largest digest in
    characters of text + HTML, peak RSS in bytes)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _CHILD_REMINDERS, str(ROOT), url, str(work), str(n)], check=True,
                         cwd=ROOT, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2]), int(out[3])


PG_ADMIN = os.environ.get("SQMS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_import(settings, path: Path, work: Path, repeat: int = 1) -> tuple[float, float, float, float] | None:
    """Best of `repeat` interleaved runs of (sqms import, psql \\copy into a typed and indexed table, \\copy into
    a bare text table, \\copy into the typed table with sqms's foreign key) in seconds, each run into a fresh
    database of its own; None when PostgreSQL or psql is not there."""
    import shutil as sh
    import subprocess
    import uuid

    import psycopg

    from sqms.db import get_engine, migrate
    from sqms.importers import spec_for
    from sqms.ingest import import_file

    if sh.which("psql") is None:
        print("  (no psql: PostgreSQL comparison skipped)")
        return None
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.Error as exc:
        print(f"  (PostgreSQL not reachable: {exc}; comparison skipped)")
        return None
    print(f"\n(a') import into PostgreSQL, each run into a fresh database, sqms and psql in turn, {repeat}×")
    best = [float("inf")] * 4
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        for _ in range(repeat):
            name = f"sqms_bench_{uuid.uuid4().hex[:8]}"
            admin.execute(f'CREATE DATABASE "{name}"')
            url = f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
            try:
                migrate(url)
                pg_settings = settings.model_copy(update={"database_url": url})
                ours, result = timed("sqms import service-records (PostgreSQL)",
                                     lambda: import_file(pg_settings, spec_for("service-records"), path, actor="bench"))
                assert result.inserted == result.rows
                get_engine(url).dispose()
                dsn = f"{base}/{name}"
                subprocess.run(["psql", dsn, "-q", "-c", """
                    CREATE TABLE typed (record_id varchar(64) PRIMARY KEY, department varchar(16) NOT NULL,
                      channel varchar(16) NOT NULL, customer_id varchar(64), opened_at timestamp NOT NULL,
                      first_response_at timestamp, resolved_at timestamp, first_contact_resolved boolean);
                    CREATE INDEX ix_typed_customer ON typed (customer_id);
                    CREATE INDEX ix_typed_opened_dept ON typed (opened_at, department);
                    CREATE TABLE typed_fk (LIKE typed INCLUDING ALL);
                    ALTER TABLE typed_fk ADD FOREIGN KEY (department) REFERENCES departments (code);
                    CREATE TABLE bare (record_id text, department text, channel text, customer_id text, opened_at text,
                      first_response_at text, resolved_at text, first_contact_resolved text);"""], check=True)
                typed, _ = timed("psql \\copy into the typed, indexed table", lambda: subprocess.run(
                    ["psql", dsn, "-q", "-c", f"\\copy typed FROM '{path}' WITH (FORMAT csv, HEADER, NULL '')"],
                    check=True))
                typed_fk, _ = timed("psql \\copy into the same with sqms's foreign key to departments",
                                    lambda: subprocess.run(["psql", dsn, "-q", "-c", f"\\copy typed_fk FROM '{path}' "
                                                            "WITH (FORMAT csv, HEADER, NULL '')"], check=True))
                bare, _ = timed("psql \\copy into a bare text table", lambda: subprocess.run(
                    ["psql", dsn, "-q", "-c", f"\\copy bare FROM '{path}' WITH (FORMAT csv, HEADER)"], check=True))
                best = [min(a, b) for a, b in zip(best, (ours, typed, bare, typed_fk))]
            finally:
                get_engine(url).dispose()
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return best[0], best[1], best[2], best[3]
    finally:
        admin.close()


SECTIONS = ("import", "postgres", "cli", "reminders", "kpi", "dashboard", "form", "flow")


def sql_floor(url: str) -> list:
    """The floor of (b): one GROUP BY of the month's service records by department in SQL (counts, mean
    handling time), no KPI logic."""
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(
            "SELECT department, count(*), avg(julianday(resolved_at) - julianday(opened_at)), "
            "avg(first_contact_resolved) FROM service_records WHERE opened_at >= '2026-09-30 16:00:00' "
            "AND opened_at < '2026-10-31 16:00:00' GROUP BY department").fetchall()


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


_FORM_SETUP = """
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from sqms.calendar import utcnow
from sqms.config import load_settings
from sqms.db import UnitOfWork
from sqms.org.service import sync_organisation
from sqms.surveys.models import INVITED, SurveyInvitation
from sqms.surveys.service import TOKEN_PURPOSE, plan_campaign, questionnaire_of
from sqms.tokens import issue
root, url, work, n = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
settings = load_settings(root / "config" / "sqms.yaml", database_url=url, outbox_dir=work / "outbox",
                         reports_dir=work / "reports", questionnaires_dir=root / "config" / "questionnaires")
depts = [d.code for d in settings.departments]
now = utcnow()
with UnitOfWork(url, actor="bench") as uow:
    sync_organisation(uow.session, settings)
    campaign, _ = plan_campaign(uow.session, settings, kind="adhoc", code="BENCH-FORM", period_start=date(2026, 10, 1),
                                period_end=date(2026, 10, 31), seed=1, sample_total=n)
    campaign.status, campaign.invited_at = INVITED, now
    campaign.close_on = (now + timedelta(days=30)).date()
    q = questionnaire_of(settings, campaign)
    for i in range(n):
        invitation = SurveyInvitation(campaign_id=campaign.id, customer_id=f"CU{i:06d}", department=depts[i % len(depts)],
                                      email=f"c{i}@example.com", invited_at=now)
        uow.session.add(invitation)
        uow.session.flush()
        issued = issue(uow.session, purpose=TOKEN_PURPOSE, subject_id=str(invitation.id), email=invitation.email,
                       valid_days=30, now=now)
        invitation.token_id = issued.row.id
        print(issued.token)
    uow.commit()
print("ITEMS", " ".join(f"{item.code}:{q.item_scale(item).max}" for item in q.items))
"""


def form_throughput(work: Path, requests: int = 2000, clients: int = 20) -> dict[str, float] | None:
    """Survey form submissions against a real `sqms web` (uvicorn) on loopback: `requests` POSTs of a filled
    questionnaire, each through its own single-use link, by `clients` concurrent clients (a bounded load:
    a fixed number of requests, it stops by itself). Same client, same server, same run: GET /healthz (one
    `SELECT 1`, no form) as the floor of the server and client stack. None when the server does not start."""
    import asyncio
    import socket
    import subprocess

    import httpx

    db = work / "form.db"
    url = f"sqlite:///{db}"
    from sqms.db import migrate

    migrate(url)
    warm = 40
    out = subprocess.run([sys.executable, "-c", _FORM_SETUP, str(ROOT), url, str(work), str(requests + warm)],
                         check=True, cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    items = dict(pair.split(":") for pair in out[-1].split()[1:])
    tokens = out[:-1]
    form = {"csat": "4", "nps": "9", "comment": "服务很好 / good service", **{code: top for code, top in items.items()}}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, SQMS_DATABASE_URL=url, SQMS_OUTBOX_DIR=str(work / "outbox"),
               SQMS_REPORTS_DIR=str(work / "reports"), SQMS_CONFIG=str(ROOT / "config" / "sqms.yaml"))
    log = (work / "web.log").open("w")
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "sqms"), "web", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # a loaded machine, sources compiled at start: be patient
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (work / "web.log").read_text(errors="replace").splitlines()[-5:]
                print("  (sqms web did not start: form throughput not measured)\n    " + "\n    ".join(tail))
                return None
            time.sleep(0.3)

        failures: list[str] = []

        async def load(jobs: list[tuple[str, str]]) -> tuple[float, list[float]]:
            queue = list(reversed(jobs))
            latencies: list[float] = []
            limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
                async def worker() -> None:
                    while queue:
                        method, path = queue.pop()
                        start = time.perf_counter()
                        try:
                            if method == "POST":
                                response = await client.post(path, data=form)
                            else:
                                response = await client.get(path)
                        except httpx.TransportError:  # a dropped connection is a failed request, counted
                            failures.append(path)
                            continue
                        latencies.append(time.perf_counter() - start)
                        assert response.status_code == 200, (path, response.status_code, response.text[:300])

                start = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(clients)))
                return time.perf_counter() - start, latencies

        asyncio.run(load([("POST", f"/survey/{t}") for t in tokens[:warm]]))  # warm: imports, pool, templates
        failures.clear()
        elapsed, latencies = asyncio.run(load([("POST", f"/survey/{t}") for t in tokens[warm:]]))
        failed = len(failures)
        floor_elapsed, floor_latencies = asyncio.run(load([("GET", "/healthz")] * requests))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    import sqlite3

    with sqlite3.connect(db) as check:
        stored = check.execute("SELECT count(*) FROM survey_responses").fetchone()[0]
    assert stored <= requests + warm, (stored, requests + warm)

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    figures = {"rate": len(latencies) / elapsed, "failed": failed, "p50": sorted(latencies)[len(latencies) // 2], "p95": p95(latencies),
               "floor_rate": len(floor_latencies) / floor_elapsed, "floor_p95": p95(floor_latencies)}
    print(f"  {requests} survey submissions by {clients} clients: {figures['rate']:.0f} /s, median "
          f"{figures['p50'] * 1000:.0f} ms, p95 {figures['p95'] * 1000:.0f} ms ({stored} responses stored, "
          f"{failed} dropped connections)")
    print(f"  floor, GET /healthz on the same server and client: {figures['floor_rate']:.0f} /s, "
          f"p95 {figures['floor_p95'] * 1000:.0f} ms")
    return figures


def sqlite_floor(path: Path, spec, work: Path, label: str) -> tuple[float, float] | None:
    """The same CSV by the `sqlite3` shell's `.import` (C, no validation): into a table of the file's columns
    with sqms's types, key and indexes (same pragmas as sqms), and into a bare text table; seconds each,
    None without the sqlite3 shell."""
    import csv
    import subprocess

    if shutil.which("sqlite3") is None:
        return None
    with path.open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    table = spec.table
    from sqlalchemy.dialects import sqlite

    types = {c.name: c.type.compile(dialect=sqlite.dialect()) for c in table.columns}
    columns = ", ".join(f"{name} {types.get(name, 'TEXT')}" + (" NOT NULL PRIMARY KEY" if name == spec.key else "")
                        for name in header)
    indexes = [f"CREATE INDEX {ix.name}_floor ON typed ({', '.join(c.name for c in ix.columns)});"
               for ix in table.indexes if all(c.name in header for c in ix.columns)]
    pragmas = "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\nPRAGMA cache_size=-65536;\n"
    typed_db, bare_db = work / f"floor-{label}-typed.db", work / f"floor-{label}-bare.db"
    for f in work.glob(f"floor-{label}-*"):
        f.unlink()
    script = pragmas + f"CREATE TABLE typed ({columns});\n" + "\n".join(indexes) + (
        f"\n.import --csv --skip 1 '{path}' typed\n")
    start = time.perf_counter()
    subprocess.run(["sqlite3", str(typed_db)], input=script, text=True, check=True, stdout=subprocess.DEVNULL)
    typed = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(["sqlite3", str(bare_db)], input=pragmas + f".import --csv '{path}' bare\n", text=True,
                   check=True, stdout=subprocess.DEVNULL)
    bare = time.perf_counter() - start
    for f in work.glob(f"floor-{label}-*"):
        f.unlink()
    return typed, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--complaints", type=int, default=50_000)
    parser.add_argument("--responses", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2, help=(
        "interleaved repetitions of each import and its baselines; the best of each is compared (the machine is "
        "shared: ratios of bests measured side by side are what holds)"))
    parser.add_argument("--form-requests", type=int, default=2000, help="survey submissions of the form load")
    parser.add_argument("--only", default=",".join(SECTIONS), help=(
        f"comma-separated sections to run, of: {', '.join(SECTIONS)} (kpi, dashboard and flow need import)"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files and databases")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL comparison")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if only & {"kpi", "dashboard", "flow", "noop"}:
        only.add("import")
    if args.no_postgres:
        only.discard("postgres")
    repeat = max(1, args.repeat)

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from sqms.config import load_settings
    from sqms.db import UnitOfWork, get_engine, migrate
    from sqms.importers import spec_for
    from sqms.ingest import import_file

    work = Path(tempfile.mkdtemp(prefix="sqms-bench-", dir=ROOT / "var" if (ROOT / "var").exists() else None))
    print(f"SQMS benchmark in {work} (SQLite; {os.cpu_count()} cores, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}; best of {repeat} interleaved runs)")
    _, paths = timed(f"generate {args.records:,} records, {args.complaints:,} complaints, "
                     f"{args.responses:,} responses", lambda: generate(work / "data", args.records, args.complaints,
                                                                       args.responses))
    sizes = {k: f"{p.stat().st_size / 1e6:.0f} MB" for k, p in paths.items()}
    print(f"  files: {sizes}")

    def settings_for(url: str):
        return load_settings(ROOT / "config" / "sqms.yaml", database_url=url, outbox_dir=work / "outbox",
                             reports_dir=work / "reports", questionnaires_dir=ROOT / "config" / "questionnaires")

    kinds = ("service-records", "complaints", "survey-responses")
    best: dict[str, dict[str, float]] = {k: {} for k in kinds}

    def keep_best(kind: str, what: str, seconds: float) -> None:
        best[kind][what] = min(best[kind].get(what, float("inf")), seconds)

    peak_rss = None
    url = settings = None
    noop_time = None
    if "import" in only:
        # (a) import ------------------------------------------------------------------
        print(f"\n(a) import, each into a fresh SQLite file; sqms, pandas and the sqlite3 shell in turn, {repeat}×")
        for rep in range(repeat):
            db = work / f"sqms-{rep}.db"
            url = f"sqlite:///{db}"
            settings = settings_for(url)
            migrate(url)
            for kind in kinds:
                if kind == "service-records":  # in a child process: its peak memory is the import's own
                    ours, rss = import_in_child(url, work, paths[kind])
                    peak_rss = max(peak_rss or 0, rss)
                    print(f"  {'sqms import ' + kind + ' (in a child process)':<58} {ours:8.2f} s", flush=True)
                else:
                    ours, result = timed(f"sqms import {kind}", lambda: import_file(
                        settings, spec_for(kind), paths[kind], actor="bench"))
                    assert result.inserted == result.rows, result.summary()
                keep_best(kind, "sqms", ours)
                base_db = work / f"pandas-{kind}.db"
                engine = create_engine(f"sqlite:///{base_db}")

                def baseline():
                    frame = pd.read_csv(paths[kind])
                    frame.to_sql("data", engine, index=False, if_exists="replace", chunksize=100_000)

                theirs, _ = timed(f"pandas read_csv + to_sql {kind}", baseline)
                engine.dispose()
                base_db.unlink()
                keep_best(kind, "pandas", theirs)
                floor = sqlite_floor(paths[kind], spec_for(kind), work, kind)
                if floor is not None:
                    print(f"  {'sqlite3 .import ' + kind + ' (typed, key, indexes / bare)':<58} {floor[0]:8.2f} s "
                          f"/ {floor[1]:.2f} s", flush=True)
                    keep_best(kind, "typed", floor[0])
                    keep_best(kind, "bare", floor[1])
            if rep < repeat - 1:
                get_engine(url).dispose()
                for f in work.glob(f"sqms-{rep}.db*"):
                    f.unlink()
        for kind in kinds:
            print(f"  -> {kind}: best sqms/pandas {best[kind]['sqms'] / best[kind]['pandas']:.2f}")
        noop_time = float("inf")
        for _ in range(repeat):
            elapsed, rerun = timed("sqms re-import of the same service records (idempotent no-op)",
                                   lambda: import_file(settings, spec_for("service-records"), paths["service-records"]))
            assert rerun.unchanged == rerun.rows
            noop_time = min(noop_time, elapsed)

    # PostgreSQL: sqms import against psql \copy into a table of the same types, key and indexes
    pg = postgres_import(settings_for("sqlite://"), paths["service-records"], work, repeat) if "postgres" in only else None

    cli_help = cli_list = None
    if "cli" in only and url is not None:  # the interactive CLI on this database (best of 3: the machine is shared)
        cli_help = best_of(3, [str(ROOT / ".venv" / "bin" / "sqms"), "--help"], url, work)
        cli_list = best_of(3, [str(ROOT / ".venv" / "bin" / "sqms"), "complaint", "list"], url, work)

    reminders_n = 100_000
    rem = None
    if "reminders" in only:
        rem_url = url or f"sqlite:///{work / 'reminders.db'}"
        if url is None:
            migrate(rem_url)
        rem = reminders_in_child(rem_url, work, reminders_n)
        print(f"  {f'reminders over {reminders_n:,} open items (child process)':<58} {rem[0]:8.2f} s, {rem[1]} "
              f"digests, largest {rem[2] / 1e6:.2f} MB, peak {rem[3] / 2**20:.0f} MiB")

    kpi = None
    if "kpi" in only:
        # (b) KPIs ----------------------------------------------------------------------
        print(f"\n(b) KPIs of 2026-10 (organisation + 8 departments), sqms and pandas in turn, {max(3, repeat)}×")
        from sqms.records.service import compute_and_store

        as_of = pd.Timestamp("2026-11-05", tz="UTC")

        def ours_kpis():
            with UnitOfWork(url, actor="bench") as uow:
                computation = compute_and_store(uow.session, settings, "2026-10", as_of.to_pydatetime())
                uow.commit()
                return computation

        ours = theirs = float("inf")
        for _ in range(max(3, repeat)):
            ours = min(ours, timed("sqms kpi --period 2026-10 (compute_and_store)", ours_kpis)[0])
            theirs = min(theirs, timed("pandas from the CSVs", lambda: pandas_kpis(
                paths, "2026-10", settings.kpi.response_targets_seconds, settings.complaints.deadline_working_days,
                as_of.tz_localize(None)))[0])
        floor = min(timed("floor: one SQL group-by of the month's records", lambda: sql_floor(url))[0]
                    for _ in range(max(3, repeat)))
        kpi = (ours, theirs, floor)
        print(f"  -> best sqms/pandas: {ours / theirs:.2f}; SQL group-by/pandas {floor / theirs:.2f}")

    dashboard_p95 = None
    if "dashboard" in only:
        # (b2) the quality manager's dashboard ------------------------------------------------
        print("\n(b2) GET /app/dashboard as the quality manager (the database above)")
        dashboard_p95 = bench_dashboard(settings)
        print(f"  -> p95 {dashboard_p95 * 1000:.0f} ms")

    form = None
    if "form" in only:
        print("\n(d) survey form submissions to `sqms web` (uvicorn) on loopback, 20 concurrent clients")
        form = form_throughput(work, requests=args.form_requests)

    flow = None
    if "flow" in only:
        # (c) the whole report flow --------------------------------------------------------
        print("\n(c) the whole monthly report flow on SQLite (Prefect test harness, .eml transport)")
        os.environ.update({"SQMS_DATABASE_URL": url, "SQMS_OUTBOX_DIR": str(work / "outbox"),
                           "SQMS_REPORTS_DIR": str(work / "reports"),
                           "SQMS_CONFIG": str(ROOT / "config" / "sqms.yaml")})
        from prefect.testing.utilities import prefect_test_harness

        from sqms.config import get_settings

        get_settings.cache_clear()
        with prefect_test_harness(server_startup_timeout=120):
            from flows.monthly_report import monthly_service_quality_report

            flow_time, _ = timed("first run: 12 earlier months' KPIs computed for the trend",
                                 lambda: monthly_service_quality_report(period="2026-10"))
            again_time, _ = timed("next run: earlier months' KPIs already stored",
                                  lambda: monthly_service_quality_report(period="2026-10"))
        flow = (flow_time, again_time)
    if url is not None:
        get_engine(url).dispose()

    aims = {"service-records": 0.8, "complaints": 1.0, "survey-responses": 1.0}
    print(f"\nsummary ({time.strftime('%Y-%m-%d', time.gmtime())}, {args.records:,} records, "
          f"{args.complaints:,} complaints, {args.responses:,} responses; best of {repeat} interleaved runs; "
          f"load average now {' '.join(f'{v:.1f}' for v in os.getloadavg())})")
    if "import" in only:
        for kind in kinds:
            b = best[kind]
            floor = (f"; floor sqlite3 .import typed+key+indexes {b['typed']:.1f} s (sqms/floor "
                     f"{b['sqms'] / b['typed']:.2f}), bare text table {b['bare']:.1f} s" if "typed" in b else "")
            print(f"  import {kind:<18} SQLite       sqms/pandas = {b['sqms'] / b['pandas']:.2f}  "
                  f"(aim ≤ {aims[kind]}; {b['sqms']:.1f} s vs {b['pandas']:.1f} s{floor})")
        print(f"  re-import unchanged file  SQLite       sqms/fresh import = "
              f"{noop_time / best['service-records']['sqms']:.2f}  (aim ≤ 0.25)")
    if pg is not None:
        print(f"  import service-records    PostgreSQL   sqms/psql \\copy typed+indexed = {pg[0] / pg[1]:.2f}  "
              f"(aim ≤ 1.5; {pg[0]:.1f} s vs {pg[1]:.1f} s; with sqms's foreign key {pg[3]:.1f} s, "
              f"ratio {pg[0] / pg[3]:.2f}; bare text table {pg[2]:.1f} s)")
    if kpi is not None:
        print(f"  kpi one month             SQLite       sqms/pandas = {kpi[0] / kpi[1]:.2f}  (aim ≤ 0.2; "
              f"{kpi[0]:.2f} s vs {kpi[1]:.2f} s; floor, one SQL group-by of the month: {kpi[2] / kpi[1]:.2f})")
    if dashboard_p95 is not None:
        print(f"  dashboard GET             p95 {dashboard_p95 * 1000:.0f} ms  (aim < 300 ms)")
    if flow is not None:
        print(f"  monthly report flow       {flow[0]:.1f} s first run, {flow[1]:.1f} s next run  "
              f"(aim < 10 s, < 4 s)")
    if peak_rss is not None:
        print(f"  peak memory of the {args.records:,}-row import  {peak_rss / 2**20:.0f} MiB  (aim < 1024 MiB)")
    if cli_help is not None:
        print(f"  CLI start                 sqms --help {cli_help:.2f} s (aim < 0.3 s), "
              f"sqms complaint list {cli_list:.2f} s (aim < 0.8 s)")
    if rem is not None:
        print(f"  reminders over {reminders_n:,} open items  {rem[0]:.1f} s (aim < 30 s), peak {rem[3] / 2**20:.0f} MiB "
              f"(aim < 500), largest digest {rem[2] / 1e6:.2f} MB (aim < 1 MB)")
    if form is not None:
        print(f"  form throughput           sqms web, 20 clients: {form['rate']:.0f} /s (aim ≥ 300), "
              f"p95 {form['p95'] * 1000:.0f} ms (aim < 100 ms), {form['failed']} failed; floor GET /healthz {form['floor_rate']:.0f} /s, "
              f"p95 {form['floor_p95'] * 1000:.0f} ms")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
