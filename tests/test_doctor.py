"""`sqms doctor` against a healthy installation and broken ones (database down or behind, SMTP
unreachable, a deployment missing or with the wrong schedule)."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from sqms.cli import app
from sqms.doctor import check_calendar, run_checks
from tests.conftest import CONFIG, make_settings
from tests.smtp import free_port

runner = CliRunner()


def by_name(checks):
    return {c.name: c for c in checks}


def test_healthy_core_checks(settings, tmp_path, smtp_server):
    healthy = make_settings(settings.database_url, tmp_path, smtp={"host": smtp_server.host, "port": smtp_server.port})
    checks = by_name(run_checks(healthy, today=date(2026, 3, 1)))
    assert all(c.ok for c in checks.values()), [c.line() for c in checks.values()]
    from sqms.db import schema_revision

    head = schema_revision(settings.database_url)[1]
    assert f"schema {head} (latest)" in checks["database"].detail
    assert "NotoSansCJK" in checks["pdf font"].detail
    # `make dev` installs libharfbuzz-subset0: the fast subsetter, no warning
    assert "subsetting by HarfBuzz" in checks["pdf font"].detail and not checks["pdf font"].warning
    assert smtp_server.messages == []  # nothing is sent


def test_pdf_font_check_says_when_chinese_would_be_boxes(monkeypatch, tmp_path):
    from sqms import doctor

    empty = tmp_path / "fonts.conf"  # fontconfig that knows no font at all
    empty.write_text('<?xml version="1.0"?><fontconfig><cachedir>' + str(tmp_path) + '</cachedir></fontconfig>')
    monkeypatch.setenv("FONTCONFIG_FILE", str(empty))
    check = doctor.check_pdf_font()
    assert not check.ok and "fonts-noto-cjk" in check.detail


def test_broken_core_checks(tmp_path):
    broken = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/nowhere", tmp_path,
                           smtp={"host": "127.0.0.1", "port": free_port()})
    checks = by_name(run_checks(broken))
    assert not checks["database"].ok and "OperationalError" in checks["database"].detail
    assert not checks["smtp"].ok and not checks["smtp"].warning


def test_database_behind_the_code(tmp_path):
    from sqms.db import alembic_config, migrate

    url = f"sqlite:///{tmp_path}/old.db"
    migrate(url, "0003")
    check = by_name(run_checks(make_settings(url, tmp_path)))["database"]
    assert not check.ok and "schema 0003" in check.detail and "sqms init" in check.detail
    assert alembic_config(url)


def test_calendar_coverage():
    settings = make_settings("sqlite:///unused.db", __import__("pathlib").Path("/tmp"))
    assert check_calendar(settings, date(2026, 3, 1)).ok
    december = check_calendar(settings, date(2026, 12, 1))  # 2027 not published yet: a warning
    assert not december.ok and december.warning and "2027" in december.detail
    late = check_calendar(settings, date(2026, 12, 20))  # deadlines of the next 30 days need 2027
    assert not late.ok and not late.warning


@pytest.mark.prefect
def test_doctor_command_with_prefect(prefect_harness, sqms_env, sqlite_url, smtp_server, tmp_path):
    from flows.deployments import PROCESSES, apply_served

    settings = sqms_env(sqlite_url, **smtp_server.env())
    missing = runner.invoke(app, ["doctor"])
    assert missing.exit_code == 1
    assert "[FAIL] deployment monthly-report/monthly" in missing.output and "missing" in missing.output

    apply_served(settings)  # what `sqms serve` registers before serving: deployments and automations
    healthy = runner.invoke(app, ["doctor"])
    assert healthy.exit_code == 0, healthy.output
    assert healthy.output.count("[ok  ] deployment") == len(PROCESSES) and "all good" in healthy.output

    edited = tmp_path / "sqms.yaml"  # the configuration moved the report to 07:00; the deployment did not follow
    edited.write_text(CONFIG.read_text(encoding="utf-8").replace('monthly-report: {cron: "0 8 1 * *"}',
                                                                 'monthly-report: {cron: "0 7 1 * *"}'),
                      encoding="utf-8")
    wrong = sqms_env(sqlite_url, SQMS_CONFIG=str(edited), **smtp_server.env())
    assert wrong.schedules["monthly-report"].cron == "0 7 1 * *"
    drifted = runner.invoke(app, ["doctor"])
    assert drifted.exit_code == 1 and "expected 0 7 1 * *" in drifted.output

    smtp_server.stop()
    down = runner.invoke(app, ["doctor", "--no-prefect"])
    assert down.exit_code == 1 and "[FAIL] smtp" in down.output


@pytest.mark.prefect
def test_deploy_creates_the_pool_and_every_deployment_idempotently(prefect_harness, sqms_env, sqlite_url):
    from prefect.client.orchestration import get_client

    from flows.deployments import PROCESSES
    from tests.conftest import ROOT

    settings = sqms_env(sqlite_url)
    for _ in range(2):  # a second deploy updates in place
        result = runner.invoke(app, ["deploy", "--home", str(ROOT), "--pool", "sqms-test"])
        assert result.exit_code == 0, result.output
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("sqms-test").type == "process"
        for process in PROCESSES:
            deployment = client.read_deployment_by_name(process.deployment_name)
            assert deployment.work_pool_name == "sqms-test" and deployment.parameters == process.parameters
            assert deployment.pull_steps == [{"prefect.deployments.steps.set_working_directory":
                                              {"directory": str(ROOT)}}]
            if process.key not in settings.schedules:  # flow-alert: run by the automations
                assert deployment.schedules == [] and deployment.tags == ["sqms-alert", "flow-alert"]
                continue
            [schedule] = deployment.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone) == (
                settings.schedules[process.key].cron, "Asia/Shanghai")
    from prefect.automations import Automation

    from flows.deployments import AUTOMATION_LATE, AUTOMATION_LOST, AUTOMATIONS

    for name in AUTOMATIONS:  # one each, however often deployed
        with get_client(sync_client=True) as client:
            assert len(client.read_automations_by_name(name=name)) == 1
    late = Automation.read(name=AUTOMATION_LATE)
    assert late.trigger.within.total_seconds() == 3600 and late.actions[0].parameters["reason"] == "late"
    assert late.actions[0].parameters["flow_run_id"] == {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"}
    lost = Automation.read(name=AUTOMATION_LOST)
    assert lost.trigger.within.total_seconds() == 600 and lost.actions[0].state.value == "CRASHED"

    doctor = runner.invoke(app, ["doctor"])  # deployed to a pool no worker polls yet
    assert doctor.exit_code == 1 and "[FAIL] workers of pool sqms-test" in doctor.output
    assert "no worker online" in doctor.output and "[ok  ] automation sqms: a run lost its worker" in doctor.output
