"""The production topology on loopback: a Prefect server on PostgreSQL, the pool and deployments made by
`sqms deploy`, two `prefect worker` processes, SQMS on PostgreSQL, a real SMTP server, and the Prefect UI
in headless Chromium. Bounded in time; every process is stopped at the end."""

from __future__ import annotations


import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from sqms.db import UnitOfWork
from sqms.reporting.models import GeneratedReport
from tests.conftest import ARTIFACTS, CONFIG, PG_ADMIN_URL, ROOT, _truncate_postgres, missing
from tests.factories import PERIOD, seed_mixed
from tests.smtp import free_port

pytestmark = pytest.mark.prefect
BIN = Path(sys.executable).parent


def _wait(url: str, seconds: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {seconds:.0f} s: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """`prefect server start` with its own PostgreSQL database; yields the API URL."""
    name = f"prefect_topo_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        missing("PostgreSQL", str(exc).splitlines()[0])
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    log = home / "server.log"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",  # what the browser calls
           "PREFECT_API_DATABASE_CONNECTION_URL":
               PG_ADMIN_URL.replace("+psycopg", "+asyncpg").rsplit("/", 1)[0] + f"/{name}"}
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        _wait(f"{api}/health", 180, server, log)
        yield api
    finally:
        server.terminate()
        server.wait(timeout=60)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _environment(api: str, database_url: str, tmp_path: Path, smtp_server) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "prefect-client"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2", "SQMS_HOME": str(ROOT), "SQMS_CONFIG": str(CONFIG),
            "SQMS_DATABASE_URL": database_url, "SQMS_OUTBOX_DIR": str(tmp_path / "outbox"),
            "SQMS_REPORTS_DIR": str(tmp_path / "reports"), "SQMS_TASK_RETRY_DELAY_SECONDS": "0.2",
            **smtp_server.env()}


def test_two_workers_run_the_monthly_report_and_the_ui_shows_it(prefect_server, postgres_database, tmp_path,
                                                                  smtp_server, browser):
    _truncate_postgres(postgres_database)
    env = _environment(prefect_server, postgres_database, tmp_path, smtp_server)
    from sqms.config import load_settings

    settings = load_settings(CONFIG, database_url=postgres_database, outbox_dir=tmp_path / "outbox",
                             reports_dir=tmp_path / "reports")
    seed_mixed(settings)

    deployed = subprocess.run([BIN / "sqms", "deploy", "--home", str(ROOT)], env=env, capture_output=True,
                              text=True, timeout=300, cwd=ROOT)
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    assert "deployed monthly-report/monthly (pool sqms" in deployed.stdout

    doctor = subprocess.run([BIN / "sqms", "doctor"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "[ok  ] deployment monthly-report/monthly" in doctor.stdout, doctor.stdout + doctor.stderr

    workers = []
    try:
        for n in (1, 2):
            log = tmp_path / f"worker-{n}.log"
            workers.append((subprocess.Popen(
                [BIN / "prefect", "worker", "start", "--pool", "sqms", "--name", f"worker-{n}"], env=env, cwd="/",
                stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True), log))
        triggered = subprocess.run(
            [BIN / "prefect", "deployment", "run", "monthly-report/monthly", "--param", f"period={PERIOD}",
             "--watch", "--watch-timeout", "300"], env=env, capture_output=True, text=True, timeout=360)
        logs = "\n".join(log.read_text(errors="replace")[-1500:] for _, log in workers)
        assert triggered.returncode == 0, triggered.stdout[-2000:] + triggered.stderr[-2000:] + logs
        assert "Completed" in triggered.stdout
        ran_on = [n for n, (_, log) in enumerate(workers, 1) if "monthly-report" in log.read_text(errors="replace")]
        assert ran_on, logs
    finally:
        for worker, _ in workers:
            worker.terminate()
        for worker, _ in workers:
            worker.wait(timeout=60)

    with UnitOfWork(postgres_database) as uow:
        [report] = list(uow.session.scalars(select(GeneratedReport).where(GeneratedReport.kind == "monthly-report")))
        assert report.version == 1 and Path(report.files["html"]).is_file()
    distribution = sorted(getattr(r, "email", r) for r in settings.resolve_recipients(settings.report.distribution))
    report_mails = sorted(m["To"].addresses[0].addr_spec for m in smtp_server.messages if "服务质量月报" in m["Subject"])
    assert report_mails == distribution

    # the run and its artifact through the API, then the UI in Chromium
    runs = httpx.post(f"{prefect_server}/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": [
        "COMPLETED"]}}}, "limit": 10}, timeout=10).json()
    run = next(r for r in runs if r["name"].startswith("monthly-report-"))
    artifacts = httpx.post(f"{prefect_server}/artifacts/filter", json={"artifacts": {"flow_run_id": {
        "any_": [run["id"]]}}}, timeout=10).json()
    assert {a["key"] for a in artifacts} >= {"monthly-report", "monthly-report-kpis", "complaint-report"}

    ui = prefect_server.removesuffix("/api")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{ui}/deployments", wait_until="networkidle", timeout=60000)
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            page.wait_for_selector("text=monthly-report", timeout=60000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "prefect-deployments.png"), full_page=True)
        from flows.deployments import PROCESSES

        search = page.locator("input[placeholder*='Search']").first
        for flow_name in sorted({p.flow.name for p in PROCESSES}):  # every process, through the UI's search
            search.fill(flow_name)
            page.wait_for_selector(f"text={flow_name}", timeout=30000)
            page.wait_for_timeout(1500)  # the list filters as one types
            shown = page.inner_text("body")
            for process in PROCESSES:
                if process.flow.name == flow_name:
                    assert process.schedule_name in shown, (flow_name, process.schedule_name)
        search.fill("")
        page.goto(f"{ui}/runs/flow-run/{run['id']}?tab=Artifacts", wait_until="networkidle", timeout=60000)
        page.wait_for_selector("text=monthly-report", timeout=60000)
        page.screenshot(path=str(ARTIFACTS / "prefect-run-artifacts.png"), full_page=True)
        assert "complaint-report" in page.inner_text("body")
    finally:
        page.close()

