"""投诉分析: the complaint analysis on a small data set computed by hand, its own report (HTML, XLSX,
versions), its section in the monthly report and the mail that carries both. No Prefect here.

The calendar matters: 2026-10-01..07 is the National Day holiday, Saturday 10 October is a make-up
working day, 31 October and 1 November are a weekend. The analysis is taken as of Monday
2026-11-02 10:00 local time, as the monthly report would be.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from sqms.actions.models import Action, ActionLink
from sqms.complaints.models import Complaint
from sqms.complaints.report import ComplaintAnalysis, build_complaint_analysis
from sqms.complaints.service import deadline_for
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.org.models import Customer
from sqms.monthly.messaging import queue_monthly_report_mails
from sqms.monthly.report import complaint_categories as old_name
from sqms.records.service import compute_and_store
from sqms.complaints.rendering import KIND, produce_complaint_report
from sqms.monthly.rendering import produce_monthly_report
from sqms.reporting.service import files_checksum, report_dir, verify_report
from tests.xlsx_checks import assert_print_ready, numeric
from tests.factories import FORMULA, XSS

TZ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
PERIOD = "2026-10"
AS_OF = datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
MARKUP_NAME = "<img src=x onerror=alert(1)>"


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def _complaint(settings: Settings, ident: str, received: datetime, dept: str, channel: str, category: str,
               customer: str | None, *, severity: str = "normal", resolved: datetime | None = None,
               status: str | None = None, score: int | None = None, comment: str | None = None,
               reopened: int = 0, description: str | None = None) -> Complaint:
    return Complaint(
        complaint_id=ident, received_at=received, department=dept, channel=channel, severity=severity,
        category=category, customer_id=customer, resolved_at=resolved, description=description,
        deadline_at=deadline_for(received, severity, settings),
        status=status or ("resolved" if resolved else "investigating"), feedback_score=score,
        feedback_comment=comment, reopen_count=reopened)


def _action(ident: int, source: str, status: str, due: date, *, title: str = "整改", dept: str = "CS",
            owner: str = "wang.fang@example.com", created: datetime = at(10, 12), verified: datetime | None = None,
            complaints: tuple[str, ...] = ()) -> Action:
    action = Action(id=ident, source=source, type="corrective", title=title, department=dept, owner=owner,
                    due_on=due, status=status, created_at=created, created_by="test", verified_at=verified,
                    root_cause="cause" if status in ("done", "verified") else None)
    action.links = [ActionLink(entity="complaint", entity_id=c) for c in complaints]
    return action


def seed(settings: Settings) -> None:
    """October: 9 complaints; around them the ones that must not count (September, July, November)."""
    c = lambda *a, **k: _complaint(settings, *a, **k)  # noqa: E731
    rows = [
        # received on a holiday: due at the end of the 2nd working day after it, 9 Oct; settled in time
        c("K01", at(10, 2), "CS", "phone", "服务态度", "C1", resolved=at(10, 9, 18)),
        # due 12 Oct thanks to the make-up Saturday (without it: 13 Oct); settled 13 Oct: late
        c("K02", at(10, 9, 9), "CS", "online", "服务态度", "C1", resolved=at(10, 13, 9), status="closed", score=4),
        # special (5 working days: 15 Oct), never settled: overdue, 17 working days old
        c("K03", at(10, 9, 15), "OPS", "email", XSS, "C2", severity="special", description=XSS),
        # due 3 Nov (31 Oct and 1 Nov are a weekend): not judged yet; 1 working day old
        c("K04", at(10, 30, 11), "OPS", "phone", FORMULA, "C3", description=FORMULA),
        c("K05", at(10, 13), "SALES", "onsite", "服务态度", "C4", resolved=at(10, 14), status="return_visited",
          score=5),
        # a return-visit score of 2 reopened it: no longer settled, past its deadline (28 Oct), 5 working days old
        c("K06", at(10, 26), "CS", "phone", "响应不及时", "C5", status="investigating", score=2,
          comment="<b>还是没人处理</b>", reopened=1),
        c("K10", at(10, 1, 0, 10), "OPS", "online", "响应不及时", None, resolved=at(10, 8)),  # 30 Sep 16:10 UTC
        c("K15", at(10, 31, 23, 50), "CS", "online", "服务态度", "C1", resolved=at(11, 2, 9)),  # the last minutes
        # settled an hour after the as-of time: closed for the closure rate, still open (and late) at as-of
        c("K16", at(10, 20), "CS", "phone", "服务态度", "C7", resolved=at(11, 2, 11)),
        # not October's
        c("K08", at(9, 30, 23, 30), "CS", "phone", "服务态度", "C1"),  # open since September, 19 working days
        c("K09", at(9, 10), "OPS", "phone", "处理质量", "C2", resolved=at(9, 11)),
        c("K11", at(9, 1), "ADMIN", "email", "设施环境", "C6"),  # open, 40 working days
        c("K12", at(7, 1), "OPS", "phone", "处理质量", "C3", resolved=at(7, 2)),  # before the 90 days
        c("K13", at(7, 5), "SALES", "phone", "服务态度", "C4", resolved=at(7, 6)),  # within them
        c("K17", at(11, 1, 9), "OPS", "phone", "处理质量", "C8"),  # November's
    ]
    actions = [
        _action(1, "complaint", "open", date(2026, 10, 27), complaints=("K01", "K02", "K15")),  # overdue, 3 days
        _action(2, "manual", "in_progress", date(2026, 11, 20), title=f"{XSS} 整改", dept="OPS",
                owner="liu.yang@example.com", complaints=("K03",)),
        _action(3, "complaint", "done", date(2026, 10, 20)),
        _action(4, "complaint", "verified", date(2026, 10, 10), verified=at(10, 15)),
        _action(5, "complaint", "verified", date(2026, 9, 10), verified=at(9, 20)),  # verified before October
        _action(6, "audit_finding", "open", date(2026, 10, 1)),  # not about complaints
        _action(7, "complaint", "open", date(2026, 12, 1), created=at(11, 5)),  # after the as-of time
    ]
    with UnitOfWork(settings.database_url, actor="test") as uow:
        uow.session.add_all(rows)
        uow.session.add_all([Customer(customer_id="C1", name="张三"), Customer(customer_id="C2", name=MARKUP_NAME)])
        uow.session.flush()
        uow.session.add_all(actions)
        uow.commit()


def analyse(settings: Settings, locale: str | None = None) -> ComplaintAnalysis:
    with UnitOfWork(settings.database_url) as uow:
        return build_complaint_analysis(uow.session, settings, PERIOD, as_of=AS_OF, locale=locale)


@pytest.fixture
def seeded(org: Settings) -> Settings:
    seed(org)
    return org


def by(frame, key: str) -> dict:
    return {r[key]: r for r in frame.to_dict("records")}


# -- the figures ---------------------------------------------------------------------------


def test_volumes_and_rates_on_hand_computed_values(seeded: Settings) -> None:
    assert deadline_for(at(10, 9, 9), "normal", seeded) == datetime(2026, 10, 12, 23, 59, 59, tzinfo=TZ)
    a = analyse(seeded)
    assert sorted(a.complaints["complaint_id"]) == ["K01", "K02", "K03", "K04", "K05", "K06", "K10", "K15", "K16"]

    counts = lambda dim: dict(zip(a.volumes[dim]["key"], a.volumes[dim]["count"]))  # noqa: E731
    assert counts("channel") == {"phone": 4, "online": 3, "email": 1, "onsite": 1}
    assert list(a.volumes["channel"]["label"]) == ["电话", "在线", "电子邮件", "现场"]
    assert counts("severity") == {"normal": 8, "special": 1}
    assert counts("department") == {"CS": 5, "OPS": 3, "SALES": 1, "GMO": 0, "HR": 0, "FIN": 0, "RND": 0, "ADMIN": 0}
    assert a.volumes["department"]["share_pct"].iloc[0] == pytest.approx(500 / 9)
    assert counts("category") == {"服务态度": 5, "响应不及时": 2, XSS: 1, FORMULA: 1}

    cats = a.categories
    assert cats["category"].tolist() == ["服务态度", "响应不及时", XSS, FORMULA]
    assert cats["cumulative_pct"].tolist() == pytest.approx([500 / 9, 700 / 9, 800 / 9, 100.0])
    with UnitOfWork(seeded.database_url) as uow:  # the monthly report's old name still answers the same
        assert old_name(uow.session, seeded, PERIOD).equals(cats)

    k = a.totals
    # closure: 6 of 9 have an answer (K16's came after as-of, it still counts, as in the KPI)
    assert (k["received"], k["resolved"], k["closure_pct"]) == (9, 6, pytest.approx(200 / 3))
    # on time: due are all but K04 (8); in time K01, K05, K10, K15 → 50 %
    assert (k["due"], k["on_time"], k["on_time_pct"]) == (8, 4, pytest.approx(50.0))
    assert (k["closure_status"], k["on_time_status"]) == ("missed", "missed")
    assert (k["special"], k["reopened"], k["vital_categories"]) == (1, 1, 3)

    dept = by(a.departments_table, "department")
    cs, ops, sales, gmo = dept["CS"], dept["OPS"], dept["SALES"], dept["GMO"]
    assert (cs["received"], cs["resolved"], cs["due"], cs["on_time"]) == (5, 4, 5, 2)
    assert (cs["closure_pct"], cs["on_time_pct"]) == (pytest.approx(80.0), pytest.approx(40.0))
    assert (ops["received"], ops["resolved"], ops["due"], ops["on_time"]) == (3, 1, 2, 1)
    assert ops["special"] == 1 and ops["on_time_status"] == "missed" and ops["department_name"] == "运营部"
    assert (sales["on_time_pct"], sales["on_time_status"], sales["feedback_mean"]) == (100.0, "met", 5.0)
    assert gmo["received"] == 0 and gmo["on_time_status"] == "no_data" and pd_missing(gmo["closure_pct"])
    assert (cs["open"], cs["overdue_open"], ops["open"], ops["overdue_open"], dept["ADMIN"]["open"]) == (3, 3, 2, 1, 1)


def pd_missing(value) -> bool:
    return value is None or value != value


def test_rates_agree_with_the_kpis(seeded: Settings) -> None:
    """Same definitions as DESIGN.md §4: the analysis shows the stored KPI values, per department too."""
    with UnitOfWork(seeded.database_url, actor="test") as uow:
        values = {(v.kpi, v.department): v for v in compute_and_store(uow.session, seeded, PERIOD, AS_OF).values}
        uow.commit()
    a = analyse(seeded)
    assert values[("complaint_on_time_pct", None)].value == pytest.approx(a.totals["on_time_pct"])
    assert values[("complaint_on_time_pct", None)].n == a.totals["due"]
    assert values[("complaint_closure_pct", None)].value == pytest.approx(a.totals["closure_pct"])
    for row in a.departments_table.to_dict("records"):
        kpi = values[("complaint_on_time_pct", row["department"])]
        assert (kpi.value is None and pd_missing(row["on_time_pct"])) or kpi.value == pytest.approx(row["on_time_pct"])
        assert kpi.status == row["on_time_status"]


def test_ageing_of_open_complaints(seeded: Settings) -> None:
    a = analyse(seeded)
    open_ = a.open_complaints
    # oldest first; K17 is November's, the settled ones are gone, K16 was still open at as-of
    assert open_["complaint_id"].tolist() == ["K11", "K08", "K03", "K16", "K06", "K04"]
    assert open_["age_working_days"].tolist() == [40, 19, 17, 9, 5, 1]
    assert open_["bucket"].tolist() == [">10", ">10", ">10", "6–10", "3–5", "0–2"]
    assert open_["overdue"].tolist() == [True, True, True, True, True, False]
    assert open_["in_period"].tolist() == [False, False, True, True, True, True]
    assert by(a.ageing, "bucket") == {
        "0–2": {"bucket": "0–2", "count": 1, "overdue": 0}, "3–5": {"bucket": "3–5", "count": 1, "overdue": 1},
        "6–10": {"bucket": "6–10", "count": 1, "overdue": 1}, ">10": {"bucket": ">10", "count": 3, "overdue": 3}}
    k = a.totals
    assert (k["open"], k["open_overdue"], k["open_in_period"], k["oldest_open_days"]) == (6, 5, 4, 40)
    assert "未结投诉 6 件（其中本月受理 4 件），已超期 5 件，最久的已受理 40 个工作日" in "\n".join(a.summary)


def test_repeat_complainants(seeded: Settings) -> None:
    r = analyse(seeded).repeat_customers
    # C1: three this month and one on 30 Sep; C2 and C4 complained in the 90 days before (C3's was
    # on 1 July, before them); C5, C7 complained once; K10 has no customer
    assert r["customer_id"].tolist() == ["C1", "C2", "C4"]
    c1, c2 = r.iloc[0], r.iloc[1]
    assert (c1["complaints"], c1["previous"], bool(c1["repeat"]), bool(c1["returning"])) == (3, 1, True, True)
    assert c1["complaint_ids"] == "K01, K02, K15" and c1["categories"] == "服务态度" and c1["customer_name"] == "张三"
    assert (c2["complaints"], c2["previous"], bool(c2["repeat"]), c2["customer_name"]) == (1, 1, False, MARKUP_NAME)
    assert pd_missing(r.iloc[2]["customer_name"])  # C4 is not in the customers file
    totals = analyse(seeded).totals
    assert (totals["repeat_customers"], totals["returning_customers"]) == (1, 3)


def test_return_visits_and_actions(seeded: Settings) -> None:
    a = analyse(seeded)
    assert a.return_visits["complaint_id"].tolist() == ["K06", "K02", "K05"]  # lowest score first
    k = a.totals
    assert (k["return_visits"], k["feedback_mean"], k["low_scores"]) == (3, pytest.approx(11 / 3), 1)

    actions = by(a.actions, "id")
    assert sorted(actions) == [1, 2, 3, 4]  # not: verified in September, the audit's, the one opened later
    assert dict(zip(a.action_states["status"], a.action_states["count"])) == {
        "open": 1, "in_progress": 1, "done": 1, "verified": 1}
    assert a.action_states["label"].tolist() == ["待实施", "实施中", "已完成待验证", "已验证关闭"]
    overdue = a.overdue_actions.to_dict("records")
    assert len(overdue) == 1 and overdue[0]["ref"] == "CAPA-00001"
    assert (overdue[0]["owner"], overdue[0]["owner_name"], overdue[0]["due_on"]) == (
        "wang.fang@example.com", "王芳", date(2026, 10, 27))
    assert overdue[0]["late_working_days"] == 3 and overdue[0]["complaints"] == "K01, K02, K15"
    assert actions[2]["complaints"] == "K03" and not actions[3]["overdue"]  # done: waiting for verification
    assert (k["actions_open"], k["actions_to_verify"], k["actions_overdue"]) == (2, 1, 1)


def test_a_month_without_complaints(org: Settings) -> None:
    a = analyse(org, locale="en")
    assert a.totals["received"] == 0 and a.totals["open"] == 0 and a.totals["on_time_pct"] is None
    assert a.categories.empty and a.repeat_customers.empty and a.actions.empty
    assert a.summary[0] == "No complaints were received in 2026-10." and "no complaint is open" in a.summary[1]


# -- the report ----------------------------------------------------------------------------


def produce(settings: Settings, locale: str | None = None):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        report = produce_complaint_report(uow.session, settings, PERIOD, AS_OF, locale=locale)
        uow.commit()
    return report


def test_complaint_report_files_and_versions(seeded: Settings) -> None:
    first, second = produce(seeded), produce(seeded)
    assert (first.kind, first.version, second.version) == (KIND, 1, 2)
    html_path, xlsx_path = Path(second.files["html"]), Path(second.files["xlsx"])
    assert html_path.parent == report_dir(seeded, KIND, PERIOD, 2)
    assert (html_path.name, xlsx_path.name) == (f"complaint-report-{PERIOD}-v2.html", f"complaint-report-{PERIOD}-v2.xlsx")
    assert second.checksum == files_checksum(second.files) and verify_report(second) and second.locale == "zh_CN"
    assert second.summary["totals"]["on_time_pct"] == pytest.approx(50.0)
    assert second.summary["ageing"] == {"0–2": 1, "3–5": 1, "6–10": 1, ">10": 3}

    html = html_path.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "<title>投诉分析报告 2026-10 · 华信运营服务有限公司" in html
    for heading in ("分析摘要", "一、投诉受理情况", "二、投诉办结情况（办结率、按期办结率）", "三、未结投诉账龄",
                    "四、投诉类别分析（帕累托）", "五、重复投诉客户", "六、回访满意度", "七、纠正措施跟踪", "八、口径说明"):
        assert heading in html
    assert "按期办结率 50.0%（应办结 8 件，按期 4 件）" in html and "CAPA-00001" in html and "王芳" in html
    # self-contained, the look of the monthly report (same layout), every chart inline
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""<(link|script|img|iframe|object|embed)\b""", html, re.I)
    assert html.count("<svg") == 5 and 'class="top"' in html and "--missed:#c62828" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    # free text escaped: categories, descriptions, action titles, customer names, visit comments
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert MARKUP_NAME not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>还是没人处理</b>" not in html and "&lt;b&gt;还是没人处理&lt;/b&gt;" in html

    book = openpyxl.load_workbook(xlsx_path)
    assert book.sheetnames == ["摘要", "受理分布", "部门投诉办结", "未结投诉账龄", "未结投诉明细", "投诉类别",
                               "重复投诉客户", "回访满意度", "投诉纠正措施"]
    sheet = book["未结投诉明细"]
    header = [c.value for c in sheet[1]]
    k04 = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "K04")
    for column in ("投诉类别", "投诉内容"):
        cell = k04[header.index(column)]
        assert cell.value == FORMULA and cell.data_type == "s" and cell.quotePrefix
    assert k04[header.index("受理时间")].value == datetime(2026, 10, 30, 11, 0)  # local time
    assert not any(c.data_type == "f" for ws in book.worksheets for row in ws.iter_rows() for c in row)
    departments = {r[0]: r for r in book["部门投诉办结"].iter_rows(min_row=2, values_only=True)}
    assert departments["客服部"][2:6] == (5, 0, 4, 80.0)
    assert numeric(departments["客服部"][6]) and departments["客服部"][7] == "≥"  # target: number + direction
    assert_print_ready(book, "投诉分析报告 2026-10")
    summary = {r[0].value: r[1] for r in book["摘要"].iter_rows(min_row=2)}
    assert numeric(summary["办结率"].value) and summary["办结率"].number_format == '0.0"%"'
    assert numeric(summary["按期办结率"].value) and summary["生成时间"].is_date

    markdown = second.summary["markdown"]
    assert markdown.startswith("# 投诉分析报告 2026-10") and "| 客服部 | 5 | 80.0% | 40.0% | 3 | 3 |" in markdown
    assert XSS not in markdown and "\\<script\\>" in markdown


def test_english_report(seeded: Settings) -> None:
    report = produce(seeded, locale="en")
    html = Path(report.files["html"]).read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "<title>Complaint Analysis 2026-10 · Huaxin Operations Services" in html
    for heading in ("1. Complaints received", "2. Settlement (closure, settled on time)",
                    "3. Ageing of open complaints", "5. Repeat complainants", "7. Corrective actions", "8. Definitions",
                    "settled on time 50.0% (4 of 8 due)"):
        assert heading in html
    assert "投诉分析报告" not in html and "一、" not in html and "Operations" in html
    # categories with a configured name_en read in English; the others as stored
    assert "Staff attitude" in html and "服务态度" not in html and "Slow response" in html
    categories = [r[0] for r in openpyxl.load_workbook(report.files["xlsx"])["Complaint categories"].iter_rows(
        min_row=2, values_only=True)]
    assert "Staff attitude" in categories and XSS in categories
    assert openpyxl.load_workbook(report.files["xlsx"]).sheetnames == [
        "Summary", "Volumes", "Complaints by department", "Ageing", "Open complaints", "Complaint categories",
        "Repeat complainants", "Return visits", "Complaint actions"]


# -- in the monthly report, and in its mail --------------------------------------------------------


def test_monthly_section_and_mail(seeded: Settings) -> None:
    with UnitOfWork(seeded.database_url, actor="test") as uow:
        computation = compute_and_store(uow.session, seeded, PERIOD, AS_OF)
        monthly = produce_monthly_report(uow.session, seeded, computation)
        complaints = produce_complaint_report(uow.session, seeded, PERIOD, computation.as_of)
        queued = queue_monthly_report_mails(uow.session, seeded, monthly, [complaints])
        uow.commit()
        messages = list(uow.session.scalars(select(OutboxMessage)))
    recipients = seeded.resolve_recipients(seeded.report.distribution)
    assert queued == len(recipients) == len(messages)
    assert {Path(p).name for p in messages[0].attachments} == {
        f"monthly-report-{PERIOD}-v1.html", f"monthly-report-{PERIOD}-v1.xlsx", f"monthly-report-{PERIOD}-v1.pdf",
        f"complaint-report-{PERIOD}-v1.html", f"complaint-report-{PERIOD}-v1.xlsx", f"complaint-report-{PERIOD}-v1.pdf"}

    analysis = monthly.summary["complaint_analysis"]
    assert analysis["totals"]["on_time_pct"] == pytest.approx(50.0)  # as of the computation
    html = Path(monthly.files["html"]).read_text(encoding="utf-8")
    section = html[html.index('<section id="complaints">'):html.index('<section id="changes">')]
    assert "五、投诉分析" in section and "按受理渠道" in section and "未结投诉账龄" in section
    assert "受理最久的未结投诉" in section and "K11" in section and "CAPA-00001" in section
    assert f"complaint-report-{PERIOD}）" in section and section.count("<svg") == 1  # the Pareto
    assert XSS not in html and MARKUP_NAME not in html
    book = openpyxl.load_workbook(monthly.files["xlsx"])
    actions = list(book["投诉纠正措施"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in actions] == ["CAPA-00004", "CAPA-00003", "CAPA-00001", "CAPA-00002"]  # by due day


def test_open_complaints_table_keeps_names_whole(seeded: Settings, browser) -> None:
    """Issue 20 item 10: in the Chinese open-complaints table a department name is never broken
    (客服/部), even on a narrow page."""
    html = Path(produce(seeded).files["html"]).read_text(encoding="utf-8")
    page = browser.new_page(viewport={"width": 700, "height": 900})
    try:
        page.set_content(html)
        broken = page.evaluate("""() => [...document.querySelectorAll('td.nowrap')].filter(td => {
            const range = document.createRange();
            range.selectNodeContents(td);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
        }).map(td => td.textContent)""")
        names = page.evaluate("[...document.querySelectorAll('td.nowrap')].map(td => td.textContent)")
    finally:
        page.close()
    assert "客服部" in names and broken == []


def test_a_long_list_is_cut_in_the_report_and_whole_in_the_workbook(seeded: Settings) -> None:
    """report.detail_rows: the report prints that many rows of a long list and says where the rest is."""
    short = seeded.model_copy(update={"report": seeded.report.model_copy(update={"detail_rows": 2})})
    report = produce(short)
    html = Path(report.files["html"]).read_text(encoding="utf-8")
    section = html[html.index("未结投诉明细（受理最久的在前）"):html.index('id="categories"')]
    listed = re.findall(r'<td class="nowrap">(K\d\d)</td>', section)
    assert listed == ["K11", "K08"]  # the two oldest of the six open complaints
    assert "此处列出前 2 条，共 6 条；全部明细见工作簿「未结投诉明细」工作表。" in section
    repeat = html[html.index('id="repeat"'):html.index('id="visits"')]
    assert "C1" in repeat and "C4" not in repeat and "此处列出前 2 条，共 3 条" in repeat
    book = openpyxl.load_workbook(report.files["xlsx"])
    assert [r[0] for r in book["未结投诉明细"].iter_rows(min_row=2, values_only=True)] == [
        "K11", "K08", "K03", "K16", "K06", "K04"]
    assert len(list(book["重复投诉客户"].iter_rows(min_row=2))) == 3
    whole = Path(produce(seeded).files["html"]).read_text(encoding="utf-8")  # the default, 100: no note
    assert "此处列出前" not in whole and "K04" in whole
