"""内审报告: the internal audit report on two small cycles computed by hand — counts by department,
result and area, nonconformities with their actions, repeat findings, the previous cycle's follow-up,
the summary sentences — and its files (HTML, XLSX, versions) in both languages. No Prefect here.

The previous cycle 2025-H2 audited CS, OPS and HR; the current one 2026-H1 audits CS, OPS, SALES and HR
against the same four items (one per area). The report is taken as of 2026-07-01 10:00 local time.

    2025-H2   Q01 people   Q02 resources  Q03 technology  Q04 process
    CS        conforming   conforming     observation     minor (A1 verified)
    OPS       major (A2 in progress, due 2026-01-31: overdue; carried over)  conforming  conforming  minor (A3 done)
    HR        conforming   conforming     conforming      minor (no action)

    2026-H1
    CS        conforming   improvement    conforming      minor (A4 open, due 2026-08-31)   ← repeat
    OPS       major (no action yet)  ← repeat   conforming  observation  conforming
    SALES     conforming   minor (A5 open, due 2026-06-30: overdue; carried over)  observation  conforming
    HR        conforming   conforming     conforming      (not recorded)
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from sqms.actions.models import Action
from sqms.actions.service import NewAction, open_action
from sqms.audits.models import AuditCycle, AuditFinding, AuditSlot
from sqms.audits.rendering import audit_report_markdown, produce_audit_report
from sqms.audits.report import build_audit_report
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.reporting.formatting import records
from sqms.reporting.service import report_dir, verify_report
from tests.xlsx_checks import assert_print_ready
from tests.factories import FORMULA, XSS

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 7, 1, 10, 0, tzinfo=TZ)
RESULTS = ("conforming", "major", "minor", "observation", "improvement")

ITEMS = [
    {"code": "Q01", "area": "people", "clause": "制度 5.1 人员管理", "question": "服务人员是否经过培训并考核合格？",
     "evidence": "培训记录", "fingerprint": "a1"},
    {"code": "Q02", "area": "resources", "clause": "制度 4.3 资源保障", "question": "服务设施是否按要求维护？",
     "evidence": "维护记录", "fingerprint": "a2"},
    {"code": "Q03", "area": "technology", "clause": "制度 4.4 技术支持", "question": "系统故障是否有记录并通知？",
     "evidence": "故障单", "fingerprint": "a3"},
    {"code": "Q04", "area": "process", "clause": "制度 6.1 投诉处理", "question": "投诉是否在期限内办结？",
     "evidence": "投诉台账", "fingerprint": "a4"},
]


def _cycle(session, code: str, first: date, last: date, status: str) -> AuditCycle:
    cycle = AuditCycle(code=code, status=status, opened_at=datetime(first.year, first.month, 1, tzinfo=TZ),
                       first_day=first, last_day=last, created_by="test")
    session.add(cycle)
    session.flush()
    return cycle


def _slot(session, cycle: AuditCycle, dept: str, auditor: str, day: date, changed: tuple[str, ...] = ()) -> AuditSlot:
    checklist = "service-operations" if dept in ("CS", "OPS", "SALES") else "support-functions"
    slot = AuditSlot(cycle_id=cycle.id, department=dept, auditor=auditor, day=day, checklist_code=checklist,
                     items=ITEMS, changed_items=list(changed), recorded_at=None)
    session.add(slot)
    session.flush()
    return slot


def _action(session, settings: Settings, cycle: AuditCycle, dept: str, item: str, status: str, due: date) -> Action:
    action = open_action(session, settings, NewAction(
        source="audit_finding", source_ref=f"{cycle.code}:{dept}:{item}", type="corrective",
        title=f"内审{cycle.code} {dept} {item} 整改", department=dept, due_on=due),
        actor="test", now=datetime(cycle.first_day.year, cycle.first_day.month, cycle.first_day.day, 12, tzinfo=TZ))
    action.status = status
    if status in ("done", "verified"):
        action.root_cause = "原因"
    return action


def _findings(session, cycle: AuditCycle, slot: AuditSlot, results: dict[str, str], **extra: dict) -> None:
    """`results`: item code → result; `extra`: item code → more columns (evidence, notes, action, ...)."""
    for code, result in results.items():
        more = dict(extra.get(code, {}))
        action = more.pop("action", None)
        session.add(AuditFinding(
            cycle_id=cycle.id, slot_id=slot.id, department=slot.department, item_code=code,
            area=more.pop("area", next(i["area"] for i in ITEMS if i["code"] == code)), result=result,
            action_id=action.id if action else None, carried_over=more.pop("carried_over", False),
            recorded_by="test", recorded_at=datetime.combine(slot.day, datetime.min.time(), TZ), **more))
    session.flush()


def seed(settings: Settings) -> dict[str, str]:
    """The two cycles of the module docstring; returns the action refs by name (A1–A5)."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        s = uow.session
        prev = _cycle(s, "2025-H2", date(2025, 12, 8), date(2025, 12, 12), "closed")
        cs, ops, hr = (_slot(s, prev, "CS", "zheng.yu@example.com", date(2025, 12, 8)),
                       _slot(s, prev, "OPS", "li.na@example.com", date(2025, 12, 9)),
                       _slot(s, prev, "HR", "huang.li@example.com", date(2025, 12, 12)))
        a1 = _action(s, settings, prev, "CS", "Q04", "verified", date(2026, 2, 6))
        a2 = _action(s, settings, prev, "OPS", "Q01", "in_progress", date(2026, 1, 31))
        a3 = _action(s, settings, prev, "OPS", "Q04", "done", date(2026, 2, 6))
        _findings(s, prev, cs, {"Q01": "conforming", "Q02": "conforming", "Q03": "observation", "Q04": "minor"},
                  Q04={"action": a1, "notes": "投诉超期 3 件"})
        _findings(s, prev, ops, {"Q01": "major", "Q02": "conforming", "Q03": "conforming", "Q04": "minor"},
                  Q01={"action": a2, "notes": "新员工未培训即上岗", "carried_over": True,
                       "carry_over_reason": "培训计划下半年完成"},
                  Q04={"action": a3})
        _findings(s, prev, hr, {"Q01": "conforming", "Q02": "conforming", "Q03": "conforming", "Q04": "minor"})

        cur = _cycle(s, "2026-H1", date(2026, 6, 15), date(2026, 6, 26), "findings_recorded")
        cs, ops, sales, hr = (_slot(s, cur, "CS", "zheng.yu@example.com", date(2026, 6, 15), ("Q02",)),
                              _slot(s, cur, "OPS", "li.na@example.com", date(2026, 6, 16)),
                              _slot(s, cur, "SALES", "huang.li@example.com", date(2026, 6, 22)),
                              _slot(s, cur, "HR", "huang.li@example.com", date(2026, 6, 26)))
        a4 = _action(s, settings, cur, "CS", "Q04", "open", date(2026, 8, 31))
        a5 = _action(s, settings, cur, "SALES", "Q02", "open", date(2026, 6, 30))
        _findings(s, cur, cs, {"Q01": "conforming", "Q02": "improvement", "Q03": "conforming", "Q04": "minor"},
                  Q02={"notes": XSS}, Q04={"action": a4, "evidence": XSS, "notes": FORMULA})
        _findings(s, cur, ops, {"Q01": "major", "Q02": "conforming", "Q03": "observation", "Q04": "conforming"},
                  Q01={"notes": "仍有 2 名新员工未培训"}, Q03={"notes": "故障单未写处理结果"})
        # an area left empty on the finding: the report takes it from the slot's checklist item
        _findings(s, cur, sales, {"Q01": "conforming", "Q02": "minor", "Q03": "observation", "Q04": "conforming"},
                  Q02={"action": a5, "area": None, "notes": XSS, "carried_over": True,
                       "carry_over_reason": "等待系统改造"})
        _findings(s, cur, hr, {"Q01": "conforming", "Q02": "conforming", "Q03": "conforming"})
        refs = {name: a.ref for name, a in zip(("A1", "A2", "A3", "A4", "A5"), (a1, a2, a3, a4, a5))}
        uow.commit()
    return refs


@pytest.fixture
def seeded(org: Settings) -> tuple[Settings, dict[str, str]]:
    return org, seed(org)


def english(settings: Settings) -> Settings:
    return settings.model_copy(update={"organisation": settings.organisation.model_copy(update={"locale": "en"})})


def build(settings: Settings, code: str = "2026-H1"):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        cycle = uow.session.query(AuditCycle).filter_by(code=code).one()
        return build_audit_report(uow.session, settings, cycle, as_of=AS_OF)


def produce(settings: Settings, code: str = "2026-H1"):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        cycle = uow.session.query(AuditCycle).filter_by(code=code).one()
        generated = produce_audit_report(uow.session, settings, cycle, as_of=AS_OF)
        uow.commit()
    return generated


def counts(frame, key: str) -> dict[str, tuple[int, ...]]:
    return {row[key]: tuple(row[r] for r in (*RESULTS, "total")) for row in records(frame)}


# -- the data ---------------------------------------------------------------------------------------


def test_scope_and_counts(seeded) -> None:
    settings, _ = seeded
    report = build(settings)
    assert report.cycle_code == "2026-H1" and report.previous_code == "2025-H2"
    assert (report.first_day, report.last_day) == (date(2026, 6, 15), date(2026, 6, 26))
    scope = records(report.scope)
    assert [(s["department_name"], s["auditor_name"], s["items"], s["changed_items"], s["recorded"]) for s in scope] == [
        ("客服部", "郑宇", 4, 1, 4), ("运营部", "李娜", 4, 0, 4), ("销售部", "黄丽", 4, 0, 4), ("人力资源部", "黄丽", 4, 0, 3)]
    #                         conforming major minor observation improvement total
    assert counts(report.by_department, "department") == {
        "CS": (2, 0, 1, 0, 1, 4), "OPS": (2, 1, 0, 1, 0, 4), "SALES": (2, 0, 1, 1, 0, 4), "HR": (3, 0, 0, 0, 0, 3)}
    assert counts(report.by_area, "area") == {
        "people": (3, 1, 0, 0, 0, 4), "resources": (2, 0, 1, 0, 1, 4), "technology": (2, 0, 0, 2, 0, 4),
        "process": (2, 0, 1, 0, 0, 3)}
    assert report.by_area["area_label"].tolist() == ["人员", "资源", "技术", "过程"]
    k = report.totals
    assert (k["departments"], k["auditors"], k["items"], k["recorded"], k["unrecorded"]) == (4, 3, 16, 15, 1)
    assert (k["conforming"], k["major"], k["minor"], k["observation"], k["improvement"]) == (9, 1, 2, 2, 1)
    assert (k["nonconformities"], k["with_action"], k["without_action"], k["overdue_actions"], k["carried_over"]) == (
        3, 2, 1, 1, 1)


def test_nonconformities_and_other_findings(seeded) -> None:
    settings, refs = seeded
    report = build(settings)
    ncs = records(report.nonconformities)
    # major first, then departments in configured order
    assert [(n["department"], n["item_code"], n["result_label"]) for n in ncs] == [
        ("OPS", "Q01", "严重不符合"), ("CS", "Q04", "一般不符合"), ("SALES", "Q02", "一般不符合")]
    ops, cs, sales = ncs
    assert ops["action_ref"] is None and ops["repeat"] and ops["clause"] == "制度 5.1 人员管理"
    assert (cs["action_ref"], cs["owner_name"], cs["due_on"], cs["action_status_label"], cs["overdue"]) == (
        refs["A4"], "王芳", date(2026, 8, 31), "待实施", False)
    assert cs["question"] == "投诉是否在期限内办结？" and cs["evidence"] == XSS and cs["notes"] == FORMULA
    assert (sales["action_ref"], sales["owner_name"], sales["overdue"], sales["area"]) == (
        refs["A5"], "陈杰", True, "resources")
    assert sales["carried_over"] and sales["carry_over_reason"] == "等待系统改造" and not sales["repeat"]
    assert re.fullmatch(r"CAPA-\d{5}", refs["A4"])
    assert [(o["department"], o["item_code"]) for o in records(report.observations)] == [
        ("OPS", "Q03"), ("SALES", "Q03")]
    assert [(o["department"], o["item_code"], o["notes"]) for o in records(report.improvements)] == [
        ("CS", "Q02", XSS)]


def test_comparison_repeats_and_previous_follow_up(seeded) -> None:
    settings, refs = seeded
    report = build(settings)
    assert [(c["result"], c["previous"], c["current"], c["change"]) for c in records(report.comparison)] == [
        ("conforming", 7, 9, 2), ("major", 1, 1, 0), ("minor", 3, 2, -1), ("observation", 1, 2, 1),
        ("improvement", 0, 1, 1)]
    repeats = records(report.repeat_findings)
    assert [(r["department"], r["item_code"], r["previous_result"], r["result"]) for r in repeats] == [
        ("OPS", "Q01", "major", "major"), ("CS", "Q04", "minor", "minor")]
    prev = {(p["department"], p["item_code"]): p for p in records(report.previous_nonconformities)}
    assert set(prev) == {("CS", "Q04"), ("OPS", "Q01"), ("OPS", "Q04"), ("HR", "Q04")}
    assert (prev["CS", "Q04"]["action_ref"], prev["CS", "Q04"]["verified"], prev["CS", "Q04"]["repeat"]) == (
        refs["A1"], True, True)
    assert (prev["OPS", "Q01"]["action_status"], prev["OPS", "Q01"]["overdue"], prev["OPS", "Q01"]["carried_over"],
            prev["OPS", "Q01"]["owner_name"]) == ("in_progress", True, True, "刘洋")
    assert (prev["OPS", "Q04"]["action_status_label"], prev["OPS", "Q04"]["verified"]) == ("已完成待验证", False)
    assert prev["HR", "Q04"]["action_ref"] is None and not prev["HR", "Q04"]["carried_over"]
    k = report.totals
    assert (k["previous_nonconformities"], k["previous_verified"], k["previous_done"], k["previous_in_progress"],
            k["previous_overdue"], k["previous_no_action"], k["previous_carried_over"], k["repeat"]) == (
        4, 1, 1, 1, 1, 1, 1, 2)


def test_summary_sentences(seeded) -> None:
    settings, _ = seeded
    assert build(settings).summary == [
        "本次内审覆盖 4 个部门（2026-06-15 至 2026-06-26，内审员 3 名），审核检查项 16 项，共发现严重不符合 1 项、"
        "一般不符合 2 项、观察项 2 项、改进机会 1 项；尚有 1 项未记录审核结果。",
        "不符合项分布在人员（1 项）、资源（1 项）、过程（1 项）方面，涉及客服部、运营部、销售部；"
        "已开具纠正措施 2 项，尚未开具 1 项。",
        "与上次内审（2025-H2）相比，不符合项由 4 项减少为 3 项，其中重复发现 2 项（同一部门同一检查项再次不符合）。",
        "上次内审的 4 项不符合项：已验证关闭 1 项，已完成待验证 1 项，整改中 1 项（其中逾期 1 项），未开具措施 1 项；"
        "转入本次跟踪 1 项。",
    ]
    en = build(english(settings)).summary
    assert en[0] == ("The internal audit covered 4 departments (2026-06-15 to 2026-06-26, 3 auditors) and 16 "
                     "checklist items: 1 major and 2 minor nonconformities, 2 observations and 1 opportunity for "
                     "improvement; 1 item has no result recorded yet.")
    assert en[1].startswith("Nonconformities by area: people (1), resources (1), process (1); in Customer Service, "
                            "Operations, Sales;")
    assert en[2] == ("Compared with the previous audit (2025-H2), nonconformities went from 4 down to 3; 2 are repeat "
                     "findings (same department and item again).")
    assert en[3] == ("The previous audit's 4 nonconformities: 1 verified, 1 done awaiting verification, 1 in progress "
                     "(1 overdue), 1 without an action; 1 carried over into this audit.")


def test_first_cycle_has_nothing_to_compare(seeded) -> None:
    settings, _ = seeded
    report = build(settings, "2025-H2")
    assert report.previous_code is None and report.previous_nonconformities.empty and report.repeat_findings.empty
    assert report.comparison["previous"].isna().all() and report.comparison["current"].tolist() == [7, 1, 3, 1, 0]
    assert report.summary[2:] == ["本次为首次内审，无上次结果可供比较。"]
    assert report.totals["previous_nonconformities"] is None
    assert "已开具纠正措施 3 项，尚未开具 1 项" in report.summary[1]


# -- the files --------------------------------------------------------------------------------------


def test_report_files_versions_and_escaping(seeded) -> None:
    settings, refs = seeded
    first, second = produce(settings), produce(settings)
    assert (first.kind, first.period, first.version, second.version) == ("audit-report", "2026-H1", 1, 2)
    folder = report_dir(settings, "audit-report", "2026-H1", 2)
    assert second.files == {"html": str(folder / "audit-report-2026-H1-v2.html"),
                            "xlsx": str(folder / "audit-report-2026-H1-v2.xlsx"),
                            "pdf": str(folder / "audit-report-2026-H1-v2.pdf")}
    assert verify_report(first) and verify_report(second)
    figures = second.summary
    json.dumps(figures)
    assert figures["cycle"] == "2026-H1" and figures["previous"] == "2025-H2"
    assert figures["totals"]["major"] == 1 and figures["by_department"]["CS"]["minor"] == 1
    assert figures["by_area"]["technology"]["observation"] == 2 and figures["repeat_findings"] == ["OPS:Q01", "CS:Q04"]
    assert figures["summary"] == build(settings).summary

    html = Path(second.files["html"]).read_text(encoding="utf-8")
    assert "· 版本 v2</div>" in html  # the version on the page
    assert '<html lang="zh-CN">' in html and "<title>内审报告 2026-H1 · " in html
    for heading in ("审核摘要", "一、审核范围", "二、审核发现", "三、不符合项及纠正措施", "四、观察项与改进机会",
                    "五、与上次内审比较", "重复发现", "六、上次不符合项整改情况", "严重不符合", "一般不符合", "观察项",
                    "改进机会"):
        assert heading in html
    assert html.count("<svg") == 2 and "不符合项：按部门" in html and "不符合项：按审核要素" in html
    assert refs["A4"] in html and "王芳" in html and "郑宇" in html and "等待系统改造" in html
    assert "本次内审覆盖 4 个部门" in html
    # self-contained; free text escaped (notes and evidence), never markup
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))

    book = openpyxl.load_workbook(second.files["xlsx"])
    assert book.sheetnames == ["摘要", "审核范围", "按部门统计", "按审核要素统计", "不符合项", "观察项与改进机会",
                               "与上次比较", "重复发现", "上次不符合项整改情况"]
    sheet = book["不符合项"]
    header = [c.value for c in sheet[1]]
    cs = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "客服部")
    notes = cs[header.index("说明")]
    assert notes.value == FORMULA and notes.data_type == "s" and notes.quotePrefix
    assert cs[header.index("审核证据")].value == XSS and cs[header.index("纠正措施")].value == refs["A4"]
    assert cs[header.index("完成期限")].value == datetime(2026, 8, 31)
    assert not any(c.data_type == "f" for ws in book.worksheets for row in ws.iter_rows() for c in row)
    by_dept = {r[0]: r[1:] for r in book["按部门统计"].iter_rows(min_row=2, values_only=True)}
    assert by_dept["运营部"] == (2, 1, 0, 1, 0, 4)
    follow_up = {(r[0], r[1]): r for r in book["上次不符合项整改情况"].iter_rows(min_row=2, values_only=True)}
    assert follow_up["运营部", "Q01"][-1] == "" or follow_up["运营部", "Q01"][-1] is None  # not verified
    assert follow_up["客服部", "Q04"][-1] == "是"
    assert_print_ready(book, "内审报告 2026-H1")
    scope = {r[0]: r for r in book["审核范围"].iter_rows(min_row=2, values_only=True)}
    assert scope["客服部"][4] == "运营服务实施部门内审检查表"  # the checklist's title, not service-operations


def test_markdown_artifact(seeded) -> None:
    settings, refs = seeded
    markdown = audit_report_markdown(build(settings))
    assert markdown.startswith("# 内审报告 2026-H1\n")
    assert "严重不符合 1 · 一般不符合 2 · 观察项 2 · 改进机会 1 · 重复发现 2" in markdown
    assert "- 本次内审覆盖 4 个部门" in markdown
    assert f"| 销售部 | Q02 | 一般不符合 | \\<script\\>alert(1)\\</script\\> | {refs['A5']} | 待实施 |" in markdown
    assert XSS not in markdown


def test_english_report(seeded) -> None:
    settings, _ = seeded
    report = produce(english(settings))
    html = Path(report.files["html"]).read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "<title>Internal Audit Report 2026-H1 · " in html
    for heading in ("1. Audit scope", "2. Audit findings", "3. Nonconformities and corrective actions",
                    "4. Observations and opportunities for improvement", "5. Compared with the previous audit",
                    "Repeat findings", "6. Follow-up of the previous nonconformities", "Major nonconformity",
                    "Customer Service", "People"):
        assert heading in html
    assert "内审报告" not in html and "一、" not in html and "严重不符合" not in html
    assert openpyxl.load_workbook(report.files["xlsx"]).sheetnames == [
        "Summary", "Scope", "By department", "By area", "Nonconformities", "Observations, improvements",
        "Comparison", "Repeat findings", "Previous follow-up"]
    assert audit_report_markdown(build(english(settings))).startswith("# Internal Audit Report 2026-H1\n")


def test_cycle_without_slots(org: Settings) -> None:
    """A cycle just opened: an empty but valid report, not an error."""
    with UnitOfWork(org.database_url, actor="test") as uow:
        _cycle(uow.session, "2026-H2", date(2026, 12, 1), date(2026, 12, 10), "planned")
        uow.commit()
    report = build(org, "2026-H2")
    assert report.scope.empty and report.nonconformities.empty and report.totals["items"] == 0
    assert report.summary[1] == "本次内审未发现不符合项。"
    assert produce(org, "2026-H2").version == 1
