"""`sqms` as a user types it: exit codes, messages, the JSON of DESIGN.md §4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sqms.cli import app
from sqms.kpi_catalog import KPI_CODES
from tests.conftest import CONFIG, ROOT
from tests.factories import PERIOD, seed_mixed

runner = CliRunner()


@pytest.fixture
def cli(sqms_env, sqlite_url):
    settings = sqms_env(sqlite_url)

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    invoke.settings = settings
    return invoke


def test_init_is_idempotent(cli):
    first = cli("init")
    assert first.exit_code == 0, first.output
    assert "organisation:" in first.output
    second = cli("init")
    assert second.exit_code == 0 and "organisation: 0 change(s)" in second.output


def test_kpi_json_follows_the_contract(cli):
    seed_mixed(cli.settings)
    result = cli("kpi", "--period", PERIOD, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert all(set(r) >= {"kpi", "department", "value", "target", "status", "n"} for r in rows)
    assert {r["status"] for r in rows} <= {"met", "missed", "no_target", "no_data"}
    org = {r["kpi"]: r for r in rows if r["department"] is None}
    assert len(org) == len(KPI_CODES)  # the ten of DESIGN §4 and the four of §9 (issue 15)
    # 80 records, 72 known FCR of which 36 + 32 true → 85 %; two departments' phone/online mix → 87.5 %
    assert org["record_volume"]["value"] == 80 and org["record_volume"]["status"] == "no_target"
    assert org["fcr_pct"]["value"] == pytest.approx(100 * 68 / 80)
    assert org["response_within_target_pct"]["value"] == pytest.approx(100 * 70 / 80)
    cs = [r for r in rows if r["department"] == "CS"]
    assert {r["kpi"] for r in cs} == set(org)


def test_kpi_table_for_one_department(cli):
    seed_mixed(cli.settings)
    result = cli("kpi", "--period", PERIOD, "--department", "OPS")
    assert result.exit_code == 0, result.output
    assert "OPS" in result.output and "CS " not in result.output


@pytest.mark.parametrize("args, message", [
    (("kpi", "--period", "2026-13"), "2026-13"),
    (("kpi", "--period", "October"), "October"),
    (("kpi", "--period", PERIOD, "--department", "XX"), "unknown department 'XX'"),
    (("run", "monthly-report", "--period", "2026/10"), "2026/10"),
])
def test_bad_arguments_exit_non_zero_with_a_clear_message(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_import_error_names_row_and_column_and_writes_nothing(cli, tmp_path: Path):
    cli("init")
    bad = tmp_path / "records.csv"
    bad.write_text(
        "record_id,department,channel,customer_id,opened_at,first_response_at,resolved_at,first_contact_resolved\n"
        "R1,CS,phone,C1,2026-03-02 09:00,2026-03-02 09:00:10,2026-03-02 10:00,true\n"
        "R2,CS,fax,C2,2026-03-02 09:00,,,\n"
        "R3,XX,phone,C3,2026-02-30 09:00,,,\n", encoding="utf-8")
    result = cli("import", "service-records", str(bad))
    assert result.exit_code == 1
    assert "row 3, column channel" in result.output
    assert "row 4, column department" in result.output and "row 4, column opened_at" in result.output
    assert "0 inserted" not in result.output
    assert json.loads(cli("kpi", "--period", PERIOD, "--json", "--department", "org").stdout)[0]["value"] == 0

    skipped = cli("import", "service-records", str(bad), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "1 inserted" in skipped.output
    assert (tmp_path / "records.csv.rejects.csv").is_file()


def test_import_prints_the_conflicts_it_kept(cli, tmp_path: Path):
    """Issue 19.1: what an older export would have undone is said, not silently chosen."""
    cli("init")
    path = tmp_path / "complaints.csv"
    path.write_text("complaint_id,received_at,department,channel,severity,category,customer_id,responded_at,"
                    "resolved_at,description\n"
                    "K1,2026-10-09 09:00,CS,phone,normal,服务态度,C1,,,a\n", encoding="utf-8")
    assert cli("import", "complaints", str(path)).exit_code == 0
    for action, extra in (("acknowledge", []), ("investigate", []), ("propose", ["--solution", "退款"]),
                          ("resolve", ["--answer", "已退款"])):
        done = cli("complaint", "advance", "K1", action, *extra)
        assert done.exit_code == 0, done.output
    again = cli("import", "complaints", str(path))
    assert again.exit_code == 0, again.output
    assert "conflict: K1 resolved_at: kept 2026-" in again.output
    assert "the file has empty (the file has no such step" in again.output
    assert "2 conflict(s) kept the stored value (audited)" in again.output
    shown = cli("complaint", "show", "K1")
    assert "resolved" in shown.output and "import-conflict" in shown.output


def test_check_config_names_the_key(cli, tmp_path: Path, monkeypatch):
    from sqms.config import get_settings

    broken = tmp_path / "sqms.yaml"
    broken.write_text(CONFIG.read_text(encoding="utf-8").replace("fcr_pct: 75", "fcr_pct: lots"), encoding="utf-8")
    monkeypatch.setenv("SQMS_CONFIG", str(broken))
    get_settings.cache_clear()
    result = cli("check-config")
    assert result.exit_code == 2
    assert "kpi.targets.fcr_pct" in result.output


def test_check_config_refuses_an_absurd_target(cli, tmp_path: Path, monkeypatch):
    from sqms.config import get_settings

    broken = tmp_path / "sqms.yaml"
    broken.write_text(CONFIG.read_text(encoding="utf-8").replace("csat_mean: 4.2", "csat_mean: 42"), encoding="utf-8")
    monkeypatch.setenv("SQMS_CONFIG", str(broken))
    get_settings.cache_clear()
    result = cli("check-config")
    assert result.exit_code == 2
    assert "kpi.targets.csat_mean: 42 is outside the CSAT scale (1–5)" in result.output


def test_check_config_smtp_user_without_password(cli, monkeypatch):
    from sqms.config import get_settings

    monkeypatch.setenv("SQMS_SMTP__HOST", "mail.example.com")
    monkeypatch.setenv("SQMS_SMTP__USER", "sqms@example.com")
    get_settings.cache_clear()
    result = cli("check-config")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: smtp.user is 'sqms@example.com' but no password is set: set "
                                     "SQMS_SMTP__PASSWORD in the environment (or remove smtp.user to send "
                                     "without login)")
    monkeypatch.setenv("SQMS_SMTP__PASSWORD", "s3cret")
    get_settings.cache_clear()
    assert cli("check-config").exit_code == 0


def test_the_installed_command(sqlite_url, tmp_path: Path):
    """The real entry point in a fresh process: `sqms --help` and `sqms kpi --json` on an empty month."""
    env = {**os.environ, "SQMS_CONFIG": str(CONFIG), "SQMS_DATABASE_URL": sqlite_url,
           "SQMS_OUTBOX_DIR": str(tmp_path / "outbox"), "SQMS_REPORTS_DIR": str(tmp_path / "reports")}
    sqms = Path(sys.executable).parent / "sqms"
    shown = subprocess.run([sqms, "--help"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert shown.returncode == 0 and "import" in shown.stdout and "kpi" in shown.stdout
    kpis = subprocess.run([sqms, "kpi", "--period", "2026-10", "--json"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60)
    assert kpis.returncode == 0, kpis.stderr
    rows = json.loads(kpis.stdout)
    assert len(rows) == len(KPI_CODES) * 9  # every KPI, the organisation and its eight departments
    assert {r["status"] for r in rows if r["kpi"] != "record_volume"} == {"no_data"}
    # `sqms deploy` without a Prefect server to deploy to says so instead of starting a temporary one
    bare = {k: v for k, v in env.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "prefect")}
    deploy = subprocess.run([sqms, "deploy"], capture_output=True, text=True, env=bare, cwd=ROOT, timeout=120)
    assert deploy.returncode == 2 and "PREFECT_API_URL is not set" in deploy.stderr + deploy.stdout


@pytest.mark.parametrize("process", ["survey", "audit", "review"])
def test_run_due_steps_of_the_long_processes(cli, process):
    assert cli("init").exit_code == 0
    result = cli(process, "run")
    assert result.exit_code == 0, result.output
    assert "nothing due" in result.output


def test_audit_run_takes_the_due_steps(cli):
    assert cli("init").exit_code == 0
    opened = cli("audit", "open", "--code", "2026-H2")
    assert opened.exit_code == 0, opened.output
    result = cli("audit", "run")
    assert result.exit_code == 0 and "2026-H2: notify" in result.output


def test_survey_import_and_show_count_answers(cli, tmp_path):
    """Issue 19 item 16 / issue 20 item 8: `sqms survey show` counts imported answers, not 0."""
    assert cli("init").exit_code == 0
    planned = cli("survey", "plan", "--kind", "adhoc", "--code", "paper-2026", "--from", "2026-07-01", "--to", "2026-09-30")
    assert planned.exit_code == 0, planned.output
    path = tmp_path / "answers.csv"
    path.write_text("response_id,submitted_at,department,customer_id,nps,csat,comment\n"
                    "A1,2026-10-06 10:00,CS,C1,9,5,\nA2,2026-10-06 11:00,OPS,C2,3,2,\n", encoding="utf-8")
    imported = cli("survey", "import", "paper-2026", str(path))
    assert imported.exit_code == 0, imported.output
    assert "0 of 0 invitees answered (—); 2 answers in all" in imported.output
    shown = cli("survey", "show", "paper-2026")
    assert shown.exit_code == 0 and "answers 2" in shown.output, shown.output


def test_survey_sample_keeps_to_the_number_asked_and_says_how(cli):
    """Issue 20 item 9: `--sample 4` over 3 departments with a minimum of 20 each invites 4, not 60,
    and the output says the minimum was reduced."""
    from datetime import datetime, timezone

    from sqms.db import UnitOfWork
    from sqms.org.models import Customer
    from sqms.records.models import ServiceRecord

    assert cli("init").exit_code == 0
    with UnitOfWork(cli.settings.database_url, actor="test") as uow:
        for i, dept in enumerate(["CS"] * 5 + ["OPS"] * 5 + ["SALES"] * 5):
            uow.session.add(Customer(customer_id=f"K{i:02d}", name=f"客户{i}", email=f"k{i}@example.net"))
            opened = datetime(2026, 8, 10, 2, i, tzinfo=timezone.utc)
            uow.session.add(ServiceRecord(record_id=f"RK{i:02d}", department=dept, channel="phone",
                                          customer_id=f"K{i:02d}", opened_at=opened, first_response_at=opened,
                                          resolved_at=opened, first_contact_resolved=True))
        uow.commit()
    planned = cli("survey", "plan", "--kind", "adhoc", "--code", "s4", "--from", "2026-07-01", "--to", "2026-09-30",
                  "--sample", "4", "--seed", "1")
    assert planned.exit_code == 0, planned.output
    sampled = cli("survey", "advance", "s4", "sample")
    assert sampled.exit_code == 0, sampled.output
    assert "s4: sample (4)" in sampled.output
    assert "sample 4 of 15 customers served (asked 4), at least 1 per department" in sampled.output
    assert "minimum 20 per department was reduced" in sampled.output


def test_survey_list_shows_a_missing_rate_as_a_dash(cli, tmp_path):
    test_survey_import_and_show_count_answers(cli, tmp_path)
    assert cli("survey", "advance", "paper-2026", "sample").exit_code == 0
    for step in ("invite", "close", "analyse"):
        result = cli("survey", "advance", "paper-2026", step)
        assert result.exit_code == 0, result.output
    listed = cli("survey", "list")
    assert "rate —, CSAT 3.50" in listed.output and "rate 0.0%" not in listed.output, listed.output


def test_help_and_listing_commands_load_neither_prefect_nor_pandas(sqms_env, sqlite_url):
    """`sqms --help` and the interactive commands start fast: Prefect, pandas, Alembic and the
    configuration models are imported by the commands that need them only (checked in a fresh process)."""
    probe = (
        "import sys\n"
        "from sqms.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, sys.argv[1:])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(' '.join(m for m in ('prefect', 'pandas', 'alembic', 'pydantic_settings', 'rich') if m in sys.modules))\n"
    )
    sqms_env(sqlite_url)
    env = dict(os.environ)
    loaded = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, env=env,
                            cwd=ROOT, check=True).stdout.split()
    assert loaded == []
    subprocess.run([sys.executable, "-m", "sqms.cli", "init"], capture_output=True, env=env, cwd=ROOT, check=True)
    loaded = subprocess.run([sys.executable, "-c", probe, "complaint", "list"], capture_output=True, text=True,
                            env=env, cwd=ROOT, check=True).stdout.split()
    assert "prefect" not in loaded and "pandas" not in loaded and "alembic" not in loaded
