"""Internal audits: the plan (independence, working days, checklist changes), the checklist workbook
round trip, findings → corrective actions, the cycle from plan to close."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from sqlalchemy import select

from sqms.actions.models import Action
from sqms.actions.service import ActionError, Update, advance as advance_action, record
from sqms.audits.models import AuditFinding, AuditSlot
from sqms.audits.service import (AuditError, FindingIn, advance_due, carry_over, get, open_cycle, plan_slots,
                                 record_findings, slot_of, slots_of)
from sqms.audits.workbook import HEADER_ROW, read_workbook, write_workbook
from sqms.calendar import is_working_day
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.reminders.service import send_reminders
from tests.conftest import ROOT, make_settings

TZ = ZoneInfo("Asia/Shanghai")
DEPTS = ["CS", "OPS", "SALES", "GMO", "HR", "FIN", "RND", "ADMIN"]


# -- the plan, as a property over random organisations ------------------------------------------------


@hsettings(max_examples=150, deadline=None)
@given(departments=st.lists(st.sampled_from(DEPTS), min_size=1, max_size=8, unique=True),
       auditors=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.sampled_from(DEPTS)),
                         min_size=1, max_size=5, unique_by=lambda a: a[0]),
       start=st.dates(date(2026, 1, 1), date(2026, 12, 20)), per_day=st.integers(1, 3))
def test_plan_never_breaks_independence(departments, auditors, start, per_day):
    auditors = [(f"{name}@x.cn", home) for name, home in auditors]
    home = dict(auditors)
    try:
        slots = plan_slots(departments, auditors, start, per_day)
    except AuditError as exc:  # only when some department has nobody from elsewhere
        assert any(all(h == d for _, h in auditors) for d in departments), exc
        return
    assert [s.department for s in slots] == departments
    for s in slots:
        assert home[s.auditor] != s.department  # independence
        assert is_working_day(s.day) and s.day >= start
    per = {}
    for s in slots:
        per.setdefault(s.day, []).append(s.auditor)
    assert all(len(v) <= per_day and len(set(v)) == len(v) for v in per.values())
    loads = [sum(1 for s in slots if s.auditor == a) for a, _ in auditors
             if any(h != d for d in departments for h in [home[a]])]
    assert max(loads, default=0) - min(loads, default=0) <= len(departments)


def test_no_possible_auditor_is_named():
    with pytest.raises(AuditError, match="department CS: no internal auditor from another department"):
        plan_slots(["CS"], [("li.na@x.cn", "CS")], date(2026, 6, 1), 2)


def test_open_cycle_plans_every_department(org):
    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle, new = open_cycle(uow.session, org, today=date(2026, 6, 1))
        assert new and cycle.code == "2026-H1" and cycle.status == "planned"
        slots = slots_of(uow.session, cycle)
        people = {p.email: p for p in org.people}
        assert sorted(s.department for s in slots) == sorted(DEPTS)
        for s in slots:
            assert people[s.auditor].department != s.department and "internal_auditor" in people[s.auditor].roles
            assert is_working_day(s.day) and s.changed_items == []
        assert cycle.first_day == date(2026, 6, 23)  # 15 working days after 1 June (端午 19 June is off)
        assert {s.checklist_code for s in slots if s.department in ("CS", "OPS", "SALES")} == {"service-operations"}
        assert open_cycle(uow.session, org, today=date(2026, 6, 2))[1] is False
        uow.commit()


def test_next_cycle_flags_changed_checklist_items(org, tmp_path):
    with UnitOfWork(org.database_url, actor="test") as uow:
        open_cycle(uow.session, org, today=date(2026, 6, 1))
        uow.commit()
    edited = tmp_path / "checklists"
    shutil.copytree(ROOT / "config" / "checklists", edited)
    text = (edited / "service-operations.yaml").read_text(encoding="utf-8")
    text = text.replace("是否每月召开服务质量分析会并跟踪改进措施？", "是否每月召开服务质量分析会，会议决议是否跟踪到位？")
    text += "  - code: C04\n    area: process\n    clause: \"投诉处理规定 第 7 条\"\n    question: 重大投诉是否立即上报总经理？\n"
    (edited / "service-operations.yaml").write_text(text, encoding="utf-8")
    later = make_settings(org.database_url, tmp_path, checklists_dir=edited)
    with UnitOfWork(later.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, later, today=date(2026, 12, 1))
        by = {s.department: s for s in slots_of(uow.session, cycle)}
        assert cycle.code == "2026-H2"
        assert by["CS"].changed_items == ["C02", "C04"] and by["HR"].changed_items == []


# -- the workbook round trip ----------------------------------------------------------------------------


def fill(path, rows: dict[str, dict[str, tuple]]):
    """rows: sheet -> item code -> (result, evidence, notes)."""
    book = openpyxl.load_workbook(path)
    for sheet_name, answers in rows.items():
        sheet = book[sheet_name]
        for row in range(HEADER_ROW + 1, sheet.max_row + 1):
            code = sheet.cell(row, 1).value
            if code in answers:
                for col, value in zip((7, 8, 9), answers[code]):
                    sheet.cell(row, col, value)
    book.save(path)


def conforming(slot: AuditSlot) -> dict[str, tuple]:
    return {i["code"]: ("符合", "记录齐全", None) for i in slot.items}


def test_workbook_round_trip_and_actions(org, tmp_path):
    now = datetime(2026, 6, 25, 17, tzinfo=TZ)  # the day of the last of the two audits (HR, 25 June)
    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, org, today=date(2026, 6, 1))
        cs, hr = slot_of(uow.session, cycle, "CS"), slot_of(uow.session, cycle, "HR")
        path = write_workbook(org, cycle, [cs, hr], tmp_path / "audit.xlsx")
        answers = conforming(cs) | {"C01": ("严重不符合", "3 件投诉超期未回访", "<script>x</script>"),
                                    "P02": ("minor", "2 名新员工未培训", None), "R02": ("观察项", None, "=1+1")}
        fill(path, {"客服部": answers, "人力资源部": conforming(hr)})
        read = read_workbook(cycle, slots_of(uow.session, cycle), path, org)
        assert read.errors == []
        for department, findings in read.by_department.items():
            record_findings(uow.session, org, cycle, slot_of(uow.session, cycle, department), findings,
                            actor="zheng.yu", now=now)
        uow.commit()
        findings = {f.item_code: f for f in uow.session.scalars(select(AuditFinding).where(
            AuditFinding.department == "CS"))}
        assert (findings["C01"].result, findings["P02"].result, findings["R02"].result) == ("major", "minor",
                                                                                             "observation")
        assert findings["R02"].notes == "=1+1" and findings["C01"].notes == "<script>x</script>"
        major = uow.session.get(Action, findings["C01"].action_id)
        minor = uow.session.get(Action, findings["P02"].action_id)
        assert findings["R02"].action_id is None
        assert (major.type, major.owner, major.due_on, major.verifier) == (
            "corrective", "wang.fang@example.com", date(2026, 7, 25), cs.auditor)
        assert minor.due_on == date(2026, 8, 24) and major.source == "audit_finding"
        assert cs.recorded_at and hr.recorded_at


def test_a_badly_filled_workbook_records_nothing(org, tmp_path):
    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, org, today=date(2026, 6, 1))
        cs = slot_of(uow.session, cycle, "CS")
        path = write_workbook(org, cycle, [cs], tmp_path / "bad.xlsx")
        answers = conforming(cs)
        answers["P01"] = ("很好", None, None)
        answers["P02"] = (None, None, None)
        answers["C01"] = ("major", None, None)  # a nonconformity without evidence
        fill(path, {"客服部": answers})
        book = openpyxl.load_workbook(path)
        sheet = book["客服部"]
        row = {i["code"]: HEADER_ROW + 1 + n for n, i in enumerate(cs.items)}
        for col in range(1, 10):  # the R01 line emptied
            sheet.cell(row["R01"], col).value = None
        sheet.cell(sheet.max_row + 1, 1, "Z99")
        book.create_sheet("XX")
        book.save(path)
        read = read_workbook(cycle, slots_of(uow.session, cycle), path, org)
        text = "\n".join(read.errors)
        assert f"sheet 客服部, row {row['P01']}, column G: '很好' is not a result" in text
        assert f"sheet 客服部, row {row['P02']}, column G: the result is required" in text
        assert f"sheet 客服部, row {row['C01']}, column H: a nonconformity needs the evidence seen" in text
        assert "column A: item 'Z99' is not on checklist service-operations" in text
        assert "sheet XX: not a department of 2026-H1's plan" in text
        assert "sheet 客服部: item R01 is missing" in text
        broken = tmp_path / "not.xlsx"
        broken.write_bytes(b"not a workbook")
        assert "cannot read the workbook" in read_workbook(cycle, [cs], broken).errors[0]


# -- the whole cycle -------------------------------------------------------------------------------------


def outbox(settings, like: str) -> list[OutboxMessage]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.object.like(like))))


def test_cycle_from_plan_to_close(org):
    def run(day: date):
        """The audits' daily run, then the reminder engine's, which mails the notices before each audit."""
        with UnitOfWork(org.database_url, actor="test") as uow:
            now = datetime(day.year, day.month, day.day, 9, 30, tzinfo=TZ)
            done = advance_due(uow.session, org, now=now)
            reminded = send_reminders(uow.session, org, today=day, now=now).mails
            uow.commit()
        return [step for _, step in done] + (["remind"] if reminded else [])

    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, org, today=date(2026, 6, 1))
        uow.commit()
        first = cycle.first_day
    assert run(date(2026, 6, 1)) == ["notify"]
    plan_mails = outbox(org, "2026-H1:plan")
    with UnitOfWork(org.database_url) as uow:
        slots = slots_of(uow.session, get(uow.session, "2026-H1"))
    expected = {s.auditor for s in slots} | {org.department_manager(s.department).email for s in slots}
    assert {m.recipient for m in plan_mails} == expected
    assert run(first - timedelta(days=14)) == ["remind"]  # 9 June: 14 days before the first audits
    assert run(first - timedelta(days=14)) == []           # once
    notices = outbox(org, "2026-H1:%:in-14d")
    firsts = [s for s in slots if s.day == first]
    assert {m.object for m in notices} == {f"2026-H1:{s.department}:in-14d" for s in firsts}
    assert {m.recipient for m in notices} == ({s.auditor for s in firsts}
                                              | {org.department_manager(s.department).email for s in firsts})
    assert all(m.process == "internal-audit" for m in notices)
    assert run(first) == ["start", "remind"]  # later audits of the plan are within 7 days now
    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle = get(uow.session, "2026-H1")
        for slot in slots_of(uow.session, cycle):
            findings = [FindingIn(i["code"], "conforming") for i in slot.items]
            if slot.department == "OPS":
                findings[0] = FindingIn(slot.items[0]["code"], "minor", "排班表缺少签字")
            if slot.department == "FIN":
                findings[0] = FindingIn(slot.items[0]["code"], "major", "无培训计划")
            record_findings(uow.session, org, cycle, slot, findings, actor=slot.auditor)
        uow.commit()
    day = first + timedelta(days=10)
    assert run(day) == ["complete_findings", "issue_report", "follow_up"]
    assert outbox(org, "2026-H1:report")
    with pytest.raises(AuditError, match="report is issued"):
        with UnitOfWork(org.database_url, actor="test") as uow:
            cycle = get(uow.session, "2026-H1")
            record_findings(uow.session, org, cycle, slot_of(uow.session, cycle, "CS"), [], actor="x")
    assert run(day) == []  # two nonconformities still open

    with UnitOfWork(org.database_url, actor="test") as uow:
        ops = uow.session.scalars(select(AuditFinding).where(AuditFinding.department == "OPS",
                                                             AuditFinding.result == "minor")).one()
        fin = uow.session.scalars(select(AuditFinding).where(AuditFinding.department == "FIN",
                                                             AuditFinding.result == "major")).one()
        action = uow.session.get(Action, ops.action_id)
        record(uow.session, org, action, Update(root_cause="签批流程不清"))
        advance_action(uow.session, org, action, "complete")
        with pytest.raises(ActionError, match="its verifier is"):
            advance_action(uow.session, org, action, "verify", by="li.na@example.com"
                           if action.verifier != "li.na@example.com" else "huang.li@example.com")
        advance_action(uow.session, org, action, "verify", by=action.verifier, comment="已整改")
        with pytest.raises(AuditError, match="say why"):
            carry_over(uow.session, fin, " ", actor="test")
        carry_over(uow.session, fin, "需下半年预算，转入 2026-H2 跟踪", actor="test")
        uow.commit()
    assert run(day + timedelta(days=1)) == ["close"]


# -- the printed form (issue 20) --------------------------------------------------------------------------


def pdf_pages(soffice: str, workbook, out_dir) -> int:
    """Convert with LibreOffice headless (its own profile, so parallel runs do not share one) and count pages."""
    import subprocess

    profile = out_dir / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out_dir), str(workbook)], check=True, capture_output=True, timeout=300)
    info = subprocess.run(["pdfinfo", str(out_dir / (workbook.stem + ".pdf"))], check=True, capture_output=True,
                          text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def test_checklist_workbook_prints_as_a_form(org, tmp_path, soffice):
    from tests.xlsx_checks import assert_print_ready

    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, org, today=date(2026, 6, 1))
        slots = slots_of(uow.session, cycle)
        path = write_workbook(org, cycle, slots, tmp_path / "audit.xlsx")
    book = openpyxl.load_workbook(path)
    names = {s.department: org.department(s.department).name for s in slots}
    assert book.sheetnames == [names[s.department] for s in slots]  # Chinese titles, not CS / OPS
    assert_print_ready(book, f"{cycle.code} 内部审核检查表")
    sheet = book["客服部"]
    assert sheet["A2"].value == "检查表: 运营服务实施部门内审检查表"  # the checklist's title, not its YAML code
    assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows == "$6:$6"
    assert [c.value for c in sheet[HEADER_ROW]][:4] == ["编号", "领域", "条款", "检查内容"]
    first = HEADER_ROW + 1
    assert sheet.row_dimensions[first].height >= 30  # a wrapped question is not cut to one line
    assert sheet.cell(first, 6).value is None  # blank, not an empty string
    (validation,) = sheet.data_validations.dataValidation
    assert validation.showErrorMessage and validation.errorStyle in (None, "stop")
    assert "符合" in validation.formula1 and "请从下拉列表中选择" in validation.error
    assert str(validation.sqref) == f"G{first}:G{first + len(slots[0].items) - 1}"
    # printed: one or two pages per department, never question and result on different sheets
    pages = pdf_pages(soffice, path, tmp_path)
    assert len(slots) <= pages <= 2 * len(slots), (pages, len(slots))


def test_english_checklist_uses_name_en_and_adding_it_flags_nothing(org, tmp_path):
    """Issue 20 item 10: a checklist item may carry its question in English (`name_en`), shown in English
    workbooks; adding an English wording does not mark the item as changed for the next cycle."""
    with UnitOfWork(org.database_url, actor="test") as uow:
        open_cycle(uow.session, org, today=date(2026, 6, 1))
        uow.commit()
    edited = tmp_path / "checklists"
    shutil.copytree(ROOT / "config" / "checklists", edited)
    text = (edited / "service-operations.yaml").read_text(encoding="utf-8")
    text = text.replace("    evidence: 岗位说明书、培训记录、考核成绩\n",
                        "    evidence: 岗位说明书、培训记录、考核成绩\n"
                        "    name_en: Are duties defined, and was every agent trained and assessed before starting?\n", 1)
    (edited / "service-operations.yaml").write_text(text, encoding="utf-8")
    later = make_settings(org.database_url, tmp_path, checklists_dir=edited)
    english = later.model_copy(update={"organisation": later.organisation.model_copy(update={"locale": "en"})})
    with UnitOfWork(later.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, later, today=date(2026, 12, 1))
        cs = slot_of(uow.session, cycle, "CS")
        assert cs.changed_items == []
        path = write_workbook(english, cycle, [cs], tmp_path / "en.xlsx")
    sheet = openpyxl.load_workbook(path)["Customer Service"]
    questions = {sheet.cell(r, 1).value: sheet.cell(r, 4).value for r in range(HEADER_ROW + 1, sheet.max_row + 1)}
    assert questions["P01"].startswith("Are duties defined")
    assert sheet["A2"].value == "Checklist: Internal audit checklist — operating departments"
