"""Inspections on templates drawn from the seeds: scoring, red line, corrective action, import (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sqms.actions.models import Action
from sqms.config import load_settings
from sqms.db import UnitOfWork
from sqms.ingest import ImportValidationError
from sqms.monitoring.inspections import import_inspections
from sqms.monitoring.models import Inspection
from sqms.monitoring.service import (
    InspectionError,
    ItemResult,
    NewInspection,
    record_inspection,
    score,
)
from sqms.monitoring.templates import load_templates
from sqms.notify.models import OutboxMessage
from tests.conftest import CONFIG


@pytest.fixture(scope="module")
def templates():
    return load_templates(load_settings(CONFIG))


def test_templates_cover_the_five_areas_and_the_phone_rule(templates):
    counter = templates["service-counter"]
    assert [a.area for a in counter.areas] == ["环境", "仪容仪表", "服务用语", "流程规范", "记录"]
    assert any("铃响三声内接听" in i.text for i in counter.items())
    courier = templates["courier-visit"]
    assert [i.code for i in courier.items() if i.red_line] == ["PROC-3", "PROC-4"]


def test_score_is_the_weighted_share_and_a_red_line_zeroes_it(templates):
    t = templates["service-counter"]
    full = {i.code: i.points for i in t.items()}
    assert score(t, full) == (100.0, False)
    # LANG-2 (weight 1.5) half its points, REC-2 not applicable: weights total 13.5 - 1 = 12.5
    half = full | {"LANG-2": 5.0, "REC-2": None}
    assert score(t, half) == (round(100 * (12.5 - 0.75) / 12.5, 2), False)
    assert score(t, full | {"PROC-3": 0.0}) == (0.0, True)
    with pytest.raises(InspectionError):
        score(t, {code: None for code in full})


def _new(ident, results, when, **kw):
    return NewInspection(inspection_id=ident, template="service-counter", department="CS",
                         inspector="zheng.yu@example.com", inspected_at=when,
                         items=[ItemResult(c, p, None, ["photo.jpg"] if p == 0 else []) for c, p in results.items()],
                         **kw)


def test_red_line_failure_opens_one_corrective_action_mailed_to_the_manager(org, templates):
    now = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)
    full = {i.code: i.points for i in templates["service-counter"].items()}
    with UnitOfWork(org.database_url, actor="test") as uow:
        good, _ = record_inspection(uow.session, org, _new("I-1", full, now), templates=templates, now=now)
        bad, outcome = record_inspection(uow.session, org, _new("I-2", full | {"PROC-3": 0}, now),
                                         templates=templates, now=now)
        again, second = record_inspection(uow.session, org, _new("I-2", full | {"PROC-3": 0}, now),
                                          templates=templates, now=now)
        uow.commit()
    assert good.action_id is None and (bad.score, bad.red_line_failed, outcome, second) == (
        0.0, True, "inserted", "unchanged")
    with UnitOfWork(org.database_url) as uow:
        actions = uow.session.scalars(select(Action)).all()
        mails = uow.session.scalars(select(OutboxMessage)).all()
    assert [(a.source, a.department, a.owner, a.source_ref) for a in actions] == [
        ("inspection", "CS", "wang.fang@example.com", "I-2")]
    assert [m.recipient for m in mails] == ["wang.fang@example.com"]


def test_history_below_threshold_opens_an_action_without_mail(org, templates):
    now = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)
    low = {i.code: 0.0 if i.code in ("ENV-1", "ENV-2", "LANG-1", "PROC-1") else i.points
           for i in templates["service-counter"].items()}
    with UnitOfWork(org.database_url, actor="test") as uow:
        row, _ = record_inspection(uow.session, org, _new("I-3", low, now - timedelta(days=60)),
                                   templates=templates, now=now)
        uow.commit()
        assert row.score < org.monitoring.score_threshold and row.action_id is not None
    with UnitOfWork(org.database_url) as uow:
        assert uow.session.scalars(select(OutboxMessage)).all() == []


HEADER = "inspection_id,template,department,staff_id,inspector,inspected_at,item,result,note,evidence\n"


def test_import_one_row_per_item_and_mystery_shopper_through_a_mapping(org, tmp_path):
    path = tmp_path / "inspections.csv"
    path.write_text(HEADER + "".join(
        f"I-9,courier-visit,OPS,,li.na@example.com,2026-10-08 10:00,{code},pass,,\n"
        for code in ("VEH-1", "APP-1", "LANG-1", "PROC-1", "PROC-3")) +
        "I-9,courier-visit,OPS,,li.na@example.com,2026-10-08 10:00,REC-1,4,记录不全,rec.jpg\n", encoding="utf-8")
    outcome = import_inspections(org, path)
    assert (outcome.rows, outcome.inserted) == (6, 1)
    assert import_inspections(org, path).unchanged == 1  # idempotent
    shopper = tmp_path / "shopper.csv"
    shopper.write_text("编号,模板,部门,评估员,日期,项目,结果\n"
                       "MS-1,service-counter,客服部,第三方公司,2026-10-08 15:00,LANG-2,fail\n"
                       "MS-1,service-counter,客服部,第三方公司,2026-10-08 15:00,LANG-1,pass\n", encoding="utf-8")
    mapping = tmp_path / "shopper.yaml"
    mapping.write_text("columns: {编号: inspection_id, 模板: template, 部门: department, 评估员: inspector, "
                       "日期: inspected_at, 项目: item, 结果: result}\ndefaults: {source: mystery_shopper}\n",
                       encoding="utf-8")
    import_inspections(org, shopper, mapping=mapping)
    with UnitOfWork(org.database_url) as uow:
        rows = {r.inspection_id: r for r in uow.session.scalars(select(Inspection))}
    assert rows["I-9"].source == "internal" and rows["I-9"].score == pytest.approx(100 * (7 - 0.6) / 7, abs=0.01)
    assert (rows["MS-1"].source, rows["MS-1"].score) == ("mystery_shopper", 50.0)  # LANG-1 and LANG-2 weigh alike


def test_import_errors_name_row_and_column_and_nothing_is_written(org, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER +
                    "I-1,service-counter,CS,,li.na@example.com,2026-10-08 10:00,ENV-1,pass,,\n"
                    "I-1,service-counter,CS,,li.na@example.com,2026-10-08 10:00,XX-9,pass,,\n"
                    "I-1,service-counter,CS,,li.na@example.com,2026-10-08 10:00,LANG-1,11,,\n"
                    "I-1,service-counter,CS,,li.na@example.com,2026-10-08 10:00,PROC-3,fail,,\n"
                    "I-2,nope,CS,S404,li.na@example.com,2026-10-08 10:00,ENV-1,pass,,\n", encoding="utf-8")
    with pytest.raises(ImportValidationError) as caught:
        import_inspections(org, path)
    assert [str(e) for e in caught.value.errors] == [
        "row 3, column item: 'XX-9' is not an item of service-counter",
        "row 4, column result: 11 is outside 0–10 points",
        "row 5, column evidence: PROC-3 failed: evidence is required",
        "row 6, column staff_id: unknown staff_id 'S404'",
        "row 6, column template: unknown template 'nope' (known: courier-visit, service-counter)",
    ]
    with UnitOfWork(org.database_url) as uow:
        assert uow.session.scalars(select(Inspection)).all() == []


def test_service_error_from_a_valid_complaint_takes_its_department_and_person(org, tmp_path):
    from sqms.importers import spec_for
    from sqms.ingest import import_file
    from sqms.monitoring.service import add_compliment, add_service_error

    (tmp_path / "staff.csv").write_text("staff_id,name,department\nS1,甲,OPS\n", encoding="utf-8")
    import_file(org, spec_for("staff"), tmp_path / "staff.csv")
    (tmp_path / "c.csv").write_text(
        "complaint_id,received_at,department,channel,severity,category,customer_id,responded_at,resolved_at,"
        "description,staff_id\nCP1,2026-10-01 09:00,OPS,phone,normal,预约爽约,C1,,,没按约定时间上门,S1\n",
        encoding="utf-8")
    import_file(org, spec_for("complaints"), tmp_path / "c.csv")
    with UnitOfWork(org.database_url, actor="test") as uow:
        error = add_service_error(uow.session, org, error_id="SE1", category="missed_appointment",
                                  severity="major", complaint_id="CP1")
        assert (error.department, error.staff_id, error.origin, error.source_ref) == ("OPS", "S1", "complaint", "CP1")
        add_compliment(uow.session, org, compliment_id="P1", department="OPS", staff_id="S1",
                       received_at=datetime(2026, 10, 2, tzinfo=UTC))
        with pytest.raises(InspectionError, match="staff_id: unknown staff_id 'S9'"):
            add_compliment(uow.session, org, compliment_id="P2", department="OPS", staff_id="S9",
                           received_at=datetime(2026, 10, 2, tzinfo=UTC))
        with pytest.raises(InspectionError, match="already recorded"):
            add_service_error(uow.session, org, error_id="SE1", category="other", severity="minor",
                              department="OPS")
        uow.commit()


def test_mystery_shopper_xlsx_through_the_example_mapping(org, tmp_path):
    import openpyxl

    from tests.conftest import ROOT

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["评估编号", "被评部门", "评估时间", "评估机构", "检查点", "得分", "评语"])
    for point, given in (("问候用语", 10), ("三声内接听", 4), ("专业解答", 10), ("环境整洁", "na")):
        sheet.append(["MS-2026-11-01", "客服部", "2026/11/05 14:30", "某某调研公司", point, given,
                      "响铃五声才接" if given == 4 else None])
    path = tmp_path / "visits.xlsx"
    book.save(path)
    outcome = import_inspections(org, path, mapping=ROOT / "config" / "mappings" / "example-mystery-shopper.yaml")
    assert outcome.inserted == 1
    with UnitOfWork(org.database_url) as uow:
        row = uow.session.get(Inspection, "MS-2026-11-01")
        items = {i.item: (i.points, i.note) for i in row.items}
    assert (row.source, row.template, row.department, row.inspector) == (
        "mystery_shopper", "service-counter", "CS", "某某调研公司")
    assert items["LANG-2"] == (4.0, "响铃五声才接") and items["ENV-1"] == (None, None)
    # LANG-1, LANG-2, PROC-1 weigh 1.5 each: (1.5 + 0.6 + 1.5) / 4.5
    assert row.score == pytest.approx(100 * 3.6 / 4.5, abs=0.01)
