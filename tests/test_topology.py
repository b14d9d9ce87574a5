"""The production topology on loopback: a Prefect server on PostgreSQL, the pool and deployments made by
`sqms deploy`, two `prefect worker` processes, SQMS on PostgreSQL, a real SMTP server, and the Prefect UI
in headless Chromium. Bounded in time; every process is stopped at the end."""

from __future__ import annotations


import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from sqms.db import UnitOfWork
from sqms.reporting.models import GeneratedReport
from tests.conftest import (ARTIFACTS, CONFIG, ROOT, PostgresMissing, _truncate_postgres, missing,
                            scratch_database)
from tests.factories import PERIOD, seed_mixed
from tests.smtp import free_port

pytestmark = pytest.mark.prefect
BIN = Path(sys.executable).parent


def _answers(url: str, process: subprocess.Popen, log: Path) -> bool:
    """`url` answers 200; fails at once when the process behind it has exited."""
    if process.poll() is not None:
        pytest.fail(f"{process.args[0]} exited: {log.read_text(errors='replace')[-2000:]}")
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """`prefect server start` with its own PostgreSQL database; yields the API URL."""
    with ExitStack() as stack:
        try:
            database = stack.enter_context(scratch_database("prefect_topo", driver="asyncpg"))
        except PostgresMissing as exc:
            missing("PostgreSQL", str(exc))
        home = tmp_path_factory.mktemp("prefect-server")
        port = free_port()
        log = home / "server.log"
        env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",  # what the browser calls
               "PREFECT_API_DATABASE_CONNECTION_URL": database}
        env.pop("PREFECT_API_URL", None)
        server = subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        stack.callback(_stop, server)  # before the database goes
        api = f"http://127.0.0.1:{port}/api"
        _wait_for(f"{api}/health answering", lambda: _answers(f"{api}/health", server, log), 180, [log])
        yield api


def _environment(api: str, database_url: str, tmp_path: Path, smtp_server) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "prefect-client"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2", "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30", "SQMS_HOME": str(ROOT), "SQMS_CONFIG": str(CONFIG),
            "SQMS_DATABASE_URL": database_url, "SQMS_OUTBOX_DIR": str(tmp_path / "outbox"),
            "SQMS_REPORTS_DIR": str(tmp_path / "reports"), "SQMS_TASK_RETRY_DELAY_SECONDS": "0.2",
            **smtp_server.env()}


# how the Prefect UI words the configured crons (cronstrue), for the deployments page
UI_SCHEDULES = {"0 8 1 * *": "At 08:00 AM on day 1 of the month", "*/15 * * * *": "Every 15 minutes every day",
                "5 * * * *": "At 5 minutes past the hour every day", "0 10 * * *": "At 10:00 AM every day",
                "30 9 * * *": "At 09:30 AM every day", "0 9 * * *": "At 09:00 AM every day",
                "45 9 * * *": "At 09:45 AM every day",
                "0 9 10 1 *": "At 09:00 AM on day 10 of the month, only in January"}
LOST_AFTER = 75  # seconds without a heartbeat (the workers beat every 30 s, Prefect's minimum)


def _deploy(env: dict[str, str], *options: str) -> str:
    """`sqms deploy` as an operator runs it; idempotent, so every test may call it."""
    deployed = subprocess.run([BIN / "sqms", "deploy", "--home", str(ROOT), "--lost-after", str(LOST_AFTER), *options],
                              env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    return deployed.stdout


def _start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([BIN / "prefect", "worker", "start", "--pool", "sqms", "--name", name], env=env, cwd="/",
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(*processes: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 60 s (a worker may be starting a scheduled run it will not finish)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 60
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _flow_runs(api: str, flow_name: str) -> list[dict]:
    return httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}}, "limit": 50},
                      timeout=10).json()


def _wait_for(what: str, probe, seconds: float, logs: list[Path] = ()):
    """Poll `probe` until it returns something truthy; fail naming `what` (with the logs' tails)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(2)
    pytest.fail(f"{what} did not happen within {seconds:.0f} s\n" +
                "\n".join(log.read_text(errors="replace")[-2500:] for log in logs))


def test_two_workers_run_the_monthly_report_and_the_ui_shows_it(prefect_server, postgres_database, tmp_path,
                                                                  smtp_server, browser):
    _truncate_postgres(postgres_database)
    env = _environment(prefect_server, postgres_database, tmp_path, smtp_server)
    from sqms.config import load_settings

    settings = load_settings(CONFIG, database_url=postgres_database, outbox_dir=tmp_path / "outbox",
                             reports_dir=tmp_path / "reports")
    seed_mixed(settings)

    deployed = _deploy(env)
    assert "deployed monthly-report/monthly (pool sqms" in deployed

    # the server's scheduler creates the coming runs (it did not with SQLAlchemy 2.1: see pyproject.toml)
    def scheduled():
        return [r for r in _flow_runs(prefect_server, "monthly-report") if r["state_type"] == "SCHEDULED"]

    upcoming = min(datetime.fromisoformat(r["expected_start_time"]) for r in _wait_for(
        "the scheduler creating monthly-report runs", scheduled, 120))
    local = upcoming.astimezone(ZoneInfo(settings.organisation.timezone))
    assert (local.day, local.hour, local.minute) == (1, 8, 0) and upcoming > datetime.now(timezone.utc)

    doctor = subprocess.run([BIN / "sqms", "doctor"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "[ok  ] deployment monthly-report/monthly" in doctor.stdout, doctor.stdout + doctor.stderr
    assert "[FAIL] workers of pool sqms" in doctor.stdout and doctor.returncode == 1  # none started yet

    workers = []
    try:
        for n in (1, 2):
            log = tmp_path / f"worker-{n}.log"
            workers.append((_start_worker(env, f"worker-{n}", log), log))
        triggered = subprocess.run(
            [BIN / "prefect", "deployment", "run", "monthly-report/monthly", "--param", f"period={PERIOD}",
             "--watch", "--watch-timeout", "300"], env=env, capture_output=True, text=True, timeout=360)
        logs = "\n".join(log.read_text(errors="replace")[-1500:] for _, log in workers)
        assert triggered.returncode == 0, triggered.stdout[-2000:] + triggered.stderr[-2000:] + logs
        assert "Completed" in triggered.stdout
        ran_on = [n for n, (_, log) in enumerate(workers, 1) if "monthly-report" in log.read_text(errors="replace")]
        assert ran_on, logs
    finally:
        _stop(*(worker for worker, _ in workers))

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
    # wide enough for the UI to spell the schedules out (narrower, it shows "+1")
    page = browser.new_page(viewport={"width": 2200, "height": 1400})
    try:
        page.goto(f"{ui}/deployments", wait_until="networkidle", timeout=60000)
        ARTIFACTS.mkdir(exist_ok=True)
        # more deployments than the list's first page holds: each is found through the UI's search
        search = page.locator("input[placeholder*='Search']").first
        try:
            search.wait_for(timeout=60000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "prefect-deployments.png"), full_page=True)
        from flows.deployments import PROCESSES

        for flow_name in sorted({p.flow.name for p in PROCESSES}):  # every process, through the UI's search
            search.fill(flow_name)
            for process in PROCESSES:
                if process.flow.name == flow_name:
                    # the list filters as one types: `expect` waits until the deployment's row is there
                    row = page.locator("tr").filter(has_text=flow_name).filter(has_text=process.schedule_name)
                    expect(row.first).to_be_visible(timeout=30000)
                    cron = settings.schedules[process.key].cron if process.key in settings.schedules else None
                    if cron in UI_SCHEDULES:
                        expect(row.first).to_contain_text(UI_SCHEDULES[cron], timeout=30000)
        search.fill("")
        page.goto(f"{ui}/runs/flow-run/{run['id']}?tab=Artifacts", wait_until="networkidle", timeout=60000)
        page.wait_for_selector("text=monthly-report", timeout=60000)
        page.screenshot(path=str(ARTIFACTS / "prefect-run-artifacts.png"), full_page=True)
        assert "complaint-report" in page.inner_text("body")
    finally:
        page.close()



def test_a_failed_run_reaches_the_admins_through_the_automation_too(prefect_server, postgres_database, tmp_path,
                                                                    smtp_server):
    """The run fails (its reports folder is a file): its hook mails the admins, and the automation runs
    flow-alert on a worker; both paths share one key, so each admin gets one mail."""
    _truncate_postgres(postgres_database)
    blocker = tmp_path / "reports-is-a-file"
    blocker.write_text("x")
    env = {**_environment(prefect_server, postgres_database, tmp_path, smtp_server), "SQMS_REPORTS_DIR": str(blocker),
           "SQMS_TASK_RETRIES": "0"}
    from sqms.config import load_settings

    settings = load_settings(CONFIG, database_url=postgres_database, outbox_dir=tmp_path / "outbox",
                             reports_dir=blocker)
    seed_mixed(settings)
    _deploy(env)
    log = tmp_path / "worker.log"
    worker = _start_worker(env, "worker-f", log)
    try:
        failed = subprocess.run(
            [BIN / "prefect", "deployment", "run", "monthly-report/monthly", "--param", f"period={PERIOD}",
             "--watch", "--watch-timeout", "300"], env=env, capture_output=True, text=True, timeout=360)
        assert failed.returncode != 0, failed.stdout[-2000:]
        [run] = [r for r in _flow_runs(prefect_server, "monthly-report") if r["state_type"] == "FAILED"]

        [alert] = _wait_for("flow-alert run by the automation", lambda: [
            r for r in _flow_runs(prefect_server, "flow-alert")
            if r["state_type"] == "COMPLETED" and r["parameters"]["flow_run_id"] == run["id"]], 180, [log])
    finally:
        _stop(worker)
    assert alert["parameters"]["reason"] == "failed"
    admins = sorted(a.email for a in settings.admins())
    failed_mails = [m for m in smtp_server.messages if "monthly-report" in m["Subject"]]
    assert sorted(m["To"].addresses[0].addr_spec for m in failed_mails) == admins  # the hook's and the automation's


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (the flow run runs in its own session under the worker)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_a_killed_worker_crashes_the_run_alerts_the_admins_and_a_rerun_completes_once(
        prefect_server, postgres_database, tmp_path, smtp_server):
    """The worker and its flow process are killed (SIGKILL, as when a machine dies) while the report is being
    made: no hook can run. The heartbeats stop, the automation marks the run Crashed, the failure automation
    runs flow-alert on the other worker; the rerun waits out the dead run's lock and completes, and every
    recipient has the month's report exactly once. Meanwhile a run that no worker starts is Late, and after
    `--late-after` the late-run automation alerts the admins too."""
    _truncate_postgres(postgres_database)
    env = _environment(prefect_server, postgres_database, tmp_path, smtp_server)
    from sqms.config import load_settings
    from sqms.locks import ProcessLock

    settings = load_settings(CONFIG, database_url=postgres_database, outbox_dir=tmp_path / "outbox",
                             reports_dir=tmp_path / "reports")
    seed_mixed(settings)
    _deploy(env, "--late-after", "1")
    logs = [tmp_path / "worker-doomed.log", tmp_path / "worker-survivor.log"]
    doomed = _start_worker(env, "worker-doomed", logs[0])
    survivor = None
    try:
        started = subprocess.run([BIN / "prefect", "deployment", "run", "monthly-report/monthly", "--param",
                                  f"period={PERIOD}"], env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr[-2000:]

        def holding_the_lock():
            with UnitOfWork(postgres_database) as uow:
                return uow.session.scalars(select(ProcessLock)).first()

        lock = _wait_for("the run taking the month's lock", holding_the_lock, 180, logs[:1])
        [run] = [r for r in _flow_runs(prefect_server, "monthly-report") if r["state_type"] == "RUNNING"]
        assert lock.holder == run["id"]
        for pid in [doomed.pid, *_descendants(doomed.pid)]:
            os.kill(pid, 9)
        doomed.wait(timeout=30)
        # no worker alive now: a run triggered meanwhile is Late, and stays so for more than a minute
        queued = subprocess.run([BIN / "prefect", "deployment", "run", "outbox-delivery/quarter-hourly"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert queued.returncode == 0, queued.stderr[-2000:]
        [waiting_id] = re.findall(r"UUID: ([0-9a-f-]{36})", queued.stdout)  # not the scheduler's future runs

        def crashed():
            [now] = [r for r in _flow_runs(prefect_server, "monthly-report") if r["id"] == run["id"]]
            return now if now["state_type"] == "CRASHED" else None

        crashed_run = _wait_for("the lost run marked Crashed", crashed, LOST_AFTER + 120)
        assert "heartbeat" in crashed_run["state"]["message"]
        _wait_for("the late-run automation", lambda: [
            r for r in _flow_runs(prefect_server, "flow-alert") if r["parameters"]["flow_run_id"] == waiting_id], 120)
        survivor = _start_worker(env, "worker-survivor", logs[1])

        def alerts_done():  # the server also has earlier tests' alerts
            return {r["parameters"]["flow_run_id"]: r["parameters"]["reason"] for r in _flow_runs(
                prefect_server, "flow-alert") if r["state_type"] == "COMPLETED"}

        _wait_for("flow-alert about the crashed and the late run",
                  lambda: {run["id"], waiting_id} <= alerts_done().keys(), 180, logs)
        assert alerts_done()[run["id"]] == "failed" and alerts_done()[waiting_id] == "late"

        rerun = subprocess.run(
            [BIN / "prefect", "deployment", "run", "monthly-report/monthly", "--param", f"period={PERIOD}",
             "--watch", "--watch-timeout", "300"], env=env, capture_output=True, text=True, timeout=360)
        assert rerun.returncode == 0 and "Completed" in rerun.stdout, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    finally:
        _stop(doomed)
        if survivor is not None:
            _stop(survivor)

    admins = sorted(a.email for a in settings.admins())
    crash_mails = [m for m in smtp_server.messages if "monthly-report" in m["Subject"]]
    assert sorted(m["To"].addresses[0].addr_spec for m in crash_mails) == admins
    assert all("Crashed" in m.get_body(("plain",)).get_content() for m in crash_mails)
    late_mails = [m for m in smtp_server.messages if "outbox-delivery" in m["Subject"]]
    assert sorted(m["To"].addresses[0].addr_spec for m in late_mails) == admins
    assert all("延迟未启动" in m["Subject"] for m in late_mails)
    body = late_mails[0].get_body(("plain",)).get_content()
    assert f"/runs/flow-run/{waiting_id}" in body
    distribution = sorted(getattr(r, "email", r) for r in settings.resolve_recipients(settings.report.distribution))
    report_mails = sorted(m["To"].addresses[0].addr_spec for m in smtp_server.messages if "服务质量月报" in m["Subject"])
    assert report_mails == distribution  # once each, whatever the killed run had done
