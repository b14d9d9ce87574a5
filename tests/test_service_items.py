"""Per service item (服务项目): the optional `service_item` column of service records and complaints,
the service catalogue of the configuration, `sqms kpi --json --by service_item` and the monthly
report's section by service item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sqms.cli import app
from sqms.db import UnitOfWork
from sqms.importers import spec_for
from sqms.ingest import ImportValidationError, import_file
from sqms.records.models import ServiceRecord
from sqms.monthly.report import build_monthly_report
from sqms.records.service import compute_and_store
from sqms.monthly.rendering import render_monthly_report

RECORDS = """record_id,department,channel,customer_id,opened_at,first_response_at,resolved_at,first_contact_resolved,service_item
R1,OPS,phone,,2026-03-02 09:00:00,2026-03-02 09:00:10,2026-03-02 15:00:00,true,repair
R2,OPS,phone,,2026-03-02 10:00:00,2026-03-02 10:00:50,2026-03-03 04:00:00,false,repair
R3,OPS,online,,2026-03-03 10:00:00,2026-03-03 10:00:20,2026-03-05 10:00:00,true,install
R4,CS,phone,,2026-03-04 10:00:00,2026-03-04 10:00:05,2026-03-04 11:00:00,true,HOTLINE
R5,CS,email,,2026-03-04 11:00:00,,,,
"""
OLD = """record_id,department,channel,customer_id,opened_at,first_response_at,resolved_at,first_contact_resolved
R6,SALES,phone,,2026-03-05 09:00:00,2026-03-05 09:00:10,2026-03-05 10:00:00,true
"""


@pytest.fixture
def cli(sqms_env, sqlite_url):
    settings = sqms_env(sqlite_url)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    assert invoke("init").exit_code == 0
    invoke.settings = settings
    return invoke


def _import(settings, tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return import_file(settings, spec_for("service-records"), path)


def test_service_items_import_and_old_files_still_import(cli, tmp_path: Path):
    settings = cli.settings
    assert _import(settings, tmp_path, "new.csv", RECORDS).inserted == 5
    assert _import(settings, tmp_path, "old.csv", OLD).inserted == 1  # no service_item column at all
    with UnitOfWork(settings.database_url) as uow:
        items = dict(uow.session.execute(select(ServiceRecord.record_id, ServiceRecord.service_item)).all())
    assert items == {"R1": "repair", "R2": "repair", "R3": "install", "R4": "hotline", "R5": None, "R6": None}
    bad = RECORDS.replace("R3,OPS,online,,2026-03-03 10:00:00,2026-03-03 10:00:20,2026-03-05 10:00:00,true,install",
                          "R3,OPS,online,,2026-03-03 10:00:00,2026-03-03 10:00:20,2026-03-05 10:00:00,true,plumbing")
    with pytest.raises(ImportValidationError) as error:
        _import(settings, tmp_path, "bad.csv", bad)
    [problem] = error.value.errors
    assert (problem.row, problem.column) == (4, "service_item") and "unknown service_item 'plumbing'" in problem.reason
    assert "repair" in problem.reason  # the codes it knows
    assert "row 4, column service_item" in str(error.value)


COMPLAINTS = """complaint_id,received_at,department,channel,severity,category,customer_id,responded_at,resolved_at,description,service_item
C1,2026-03-03 09:00:00,OPS,phone,normal,服务态度,,2026-03-03 10:00:00,2026-03-03 12:00:00,维修师傅迟到,repair
"""


def test_kpi_json_by_service_item_against_each_items_targets(cli, tmp_path: Path):
    _import(cli.settings, tmp_path, "new.csv", RECORDS)
    (tmp_path / "complaints.csv").write_text(COMPLAINTS, encoding="utf-8")
    assert import_file(cli.settings, spec_for("complaints"), tmp_path / "complaints.csv").inserted == 1
    result = cli("kpi", "--period", "2026-03", "--json", "--by", "service_item")
    assert result.exit_code == 0, result.output
    rows = {(r["service_item"], r["kpi"]): r for r in json.loads(result.stdout)}
    assert {item for item, _ in rows} == {"hotline", "repair", "install", "quotation"}
    repair = rows[("repair", "avg_handling_hours")]
    # R1 6 h, R2 18 h → 12 h: met against repair's own target ≤ 12 (the organisation's is 24)
    assert (repair["department"], repair["value"], repair["target"], repair["status"], repair["n"]) == (
        "OPS", 12.0, 12.0, "met", 2)
    assert rows[("repair", "fcr_pct")]["value"] == 50.0 and rows[("repair", "fcr_pct")]["target"] == 70.0
    assert rows[("install", "avg_handling_hours")]["target"] == 48.0  # 48 h, met
    assert rows[("hotline", "record_volume")]["value"] == 1
    assert rows[("repair", "complaint_rate_per_1000")]["value"] == 500.0  # 1 complaint on 2 repair records
    assert rows[("install", "complaint_rate_per_1000")]["value"] == 0.0
    assert rows[("quotation", "record_volume")]["value"] == 0 and rows[("quotation", "fcr_pct")]["status"] == "no_data"
    assert rows[("hotline", "csat_mean")]["status"] == "no_data"  # survey answers carry no service item
    table = cli("kpi", "--period", "2026-03", "--by", "service_item")
    assert table.exit_code == 0 and "== 故障报修 (repair, 运营部) ==" in table.output
    wrong = cli("kpi", "--period", "2026-03", "--by", "channel")
    assert wrong.exit_code != 0 and "expected department or service_item" in wrong.output


def test_the_monthly_report_has_a_section_by_service_item(cli, tmp_path: Path):
    settings = cli.settings
    _import(settings, tmp_path, "new.csv", RECORDS)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        computation = compute_and_store(uow.session, settings, "2026-03")
        report = build_monthly_report(uow.session, settings, "2026-03", computation)
        uow.commit()
    html = render_monthly_report(report, settings, tmp_path / "out")["html"].read_text(encoding="utf-8")
    section = html[html.index('id="service-items"'):html.index('<section id="trends">')]
    assert "按服务项目" in section and "故障报修" in section and "上门安装" in section and "报价与签约" in section
    repair = section[section.index("故障报修"):section.index("上门安装")]
    assert '<td class="s-met" title="目标 ≤12小时 · n=2">12.0小时<sup' in repair  # against repair's own target
    assert '<td class="s-missed" title="目标 ≥70% · n=2">50.0%<sup' in repair
    assert "本月另有 1 条服务记录未标明服务项目" in section
