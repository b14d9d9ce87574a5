"""服务质量月报: report data on hand-computed values, rendering (HTML, SVG, XLSX), versions."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
from markupsafe import Markup

from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.org.service import sync_organisation
from sqms.monthly.report import MonthlyReport, build_monthly_report
from sqms.records.service import compute_and_store, latest_computation
from sqms.reporting import charts
from sqms.reporting.excel import write_xlsx
from sqms.reporting.formatting import fmt_change, fmt_target, fmt_value, local_datetime
from sqms.monthly.rendering import (
    KIND,
    email_summary_context,
    monthly_report_markdown,
    produce_monthly_report,
    render_monthly_report,
)
from sqms.reporting.render import environment, render_template
from tests.xlsx_checks import assert_print_ready, numeric
from sqms.reporting.service import (
    files_checksum,
    latest_report,
    report_dir,
    save_report,
    verify_report,
)
from tests.factories import FORMULA, PERIOD, XSS, seed_all_met, seed_mixed


def build(settings: Settings, locale: str | None = None) -> MonthlyReport:
    with UnitOfWork(settings.database_url, actor="test") as uow:
        computation = compute_and_store(uow.session, settings, PERIOD)
        report = build_monthly_report(uow.session, settings, PERIOD, computation, locale=locale)
        uow.commit()
    return report


def org(report: MonthlyReport, kpi: str) -> dict:
    return report.kpis.set_index("kpi").loc[kpi].to_dict()


def dept(report: MonthlyReport, code: str, kpi: str) -> dict:
    frame = report.department_kpis
    return frame[(frame["department"] == code) & (frame["kpi"] == kpi)].iloc[0].to_dict()


# -- report data ------------------------------------------------------------------------


def test_report_data_on_hand_computed_values(settings: Settings) -> None:
    seed_mixed(settings)
    report = build(settings)

    assert report.period == PERIOD and report.organisation == "华信运营服务有限公司" and report.locale == "zh_CN"
    assert report.input_counts == {"records": 80, "complaints": 4, "responses": 0}
    assert org(report, "record_volume")["value"] == 80
    assert org(report, "avg_handling_hours")["value"] == pytest.approx(6.0)  # (40·2 + 40·10) / 80
    fcr = org(report, "fcr_pct")
    assert fcr["value"] == pytest.approx(85.0) and fcr["status"] == "met"  # 68 / 80
    assert fcr["previous_value"] == pytest.approx(70.0) and fcr["previous_status"] == "missed"
    assert fcr["change"] == pytest.approx(15.0) and fcr["trend"] == "up" and fcr["improved"] is True
    response = org(report, "response_within_target_pct")
    assert response["value"] == pytest.approx(87.5) and response["status"] == "missed"  # 70 / 80
    assert org(report, "complaint_rate_per_1000")["value"] == pytest.approx(50.0)  # 4 / 80 · 1000
    on_time = org(report, "complaint_on_time_pct")
    assert on_time["value"] == pytest.approx(100.0) and on_time["low_confidence"] and on_time["n"] == 4
    assert org(report, "nps")["status"] == "no_data"
    assert (report.met_count, report.missed_count, len(report.evaluated)) == (4, 2, 6)

    ops = dept(report, "OPS", "response_within_target_pct")
    assert ops["value"] == pytest.approx(75.0) and ops["status"] == "missed" and ops["department_name"] == "运营部"
    assert dept(report, "CS", "response_within_target_pct")["status"] == "met"
    matrix = report.status_matrix()
    assert list(matrix.index) == [d.code for d in settings.departments]
    assert matrix.loc["OPS", "response_within_target_pct"] == "missed"
    assert matrix.loc["HR", "fcr_pct"] == "no_data"

    cats = report.complaint_categories
    assert cats["category"].tolist() == ["服务态度", XSS, FORMULA] or cats["category"].tolist() == [
        "服务态度", FORMULA, XSS]
    assert cats["count"].tolist() == [2, 1, 1]
    assert cats["cumulative_pct"].tolist() == pytest.approx([50.0, 75.0, 100.0])

    trend = report.trend("fcr_pct")
    assert len(trend) == 13 and trend["period"].iloc[-1] == PERIOD and trend["period"].iloc[0] == "2025-03"
    assert trend["value"].iloc[-2] == pytest.approx(70.0) and trend["status"].iloc[0] == "no_data"
    transition = report.changes[(report.changes["department"].isna()) & (report.changes["kpi"] == "fcr_pct")]
    assert transition["transition"].iloc[0] == "recovered"

    text = "\n".join(report.summary)
    assert "组织整体 6 项考核指标中 4 项达标，2 项未达标" in text
    assert "响应及时率 87.5%（目标 ≥90%）" in text
    assert "运营部 响应及时率 75.0%（目标 ≥90%）" in text
    assert "千单投诉率 50.00‰（目标 ≤5‰）" in text
    assert "恢复达标：首次解决率（70.0% → 85.0%）" in text
    assert "样本量不足 30" in text and "投诉按时办结率（n=4）" in text
    assert "全部达标" not in text
    summary = report.summary_dict()
    assert summary["missed"] == 2 and {"department": "OPS", "kpi": "response_within_target_pct", "value": 75.0,
                                       "target": 90.0} in summary["missed_values"]


def test_all_met_is_said_plainly(settings: Settings) -> None:
    seed_all_met(settings)
    report = build(settings)
    assert report.missed_count == 0 and report.met_count == 4
    text = "\n".join(report.summary)
    assert "组织整体 4 项考核指标全部达标" in text
    assert "各部门考核指标全部达标" in text
    assert "本月全部指标均达到目标" in text
    assert "未达标" not in text.replace("全部达标", "")


def test_english_summary(sqlite_settings: Settings) -> None:
    seed_mixed(sqlite_settings)
    report = build(sqlite_settings, locale="en")
    text = " ".join(report.summary)
    assert "Organisation-wide, 4 of 6 KPIs with a target were met" in text
    assert "Operations: Responses within target 75.0% (target ≥90%)" in text and " — " not in text
    assert report.organisation == "Huaxin Operations Services Co., Ltd."


# -- rendering --------------------------------------------------------------------------


def test_monthly_report_files(sqlite_settings: Settings, tmp_path: Path) -> None:
    seed_mixed(sqlite_settings)
    report = build(sqlite_settings)
    files = render_monthly_report(report, sqlite_settings, tmp_path / "out")  # its time: `make bench` (c)
    assert files["html"].name == f"monthly-report-{PERIOD}.html"
    assert files["xlsx"].name == f"monthly-report-{PERIOD}.xlsx"

    html = files["html"].read_text(encoding="utf-8")
    assert "<title>服务质量月报 2026-03" in html and "华信运营服务有限公司" in html
    assert html.index("执行摘要") < html.index("一、组织整体指标")
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""<(link|script|img|iframe|object|embed)\b""", html, re.I)
    assert "@import" not in html and "url(http" not in html
    from sqms.kpi_catalog import KPIS

    # a trend and a department comparison per KPI (14 with those of issue 15) + 1 Pareto; no weekly
    # control chart: one baseline week of records (February's) is too few for limits
    assert report.weekly == [] and "基线期内有数据的周不足 8 周" in html
    assert html.count("<svg") == 2 * len(KPIS) + 1
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids must be unique across the inlined charts"
    # free text is escaped, never raw
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "运营部" in html and "响应及时率" in html and "服务质量分析会" in html
    assert "送达公司内所有相关人员（包括高层管理人员）" in html
    assert "†" in html and "n &lt; 30" in html
    assert "s-missed" in html
    assert "五、投诉分析" in html and "按期办结率" in html and "未结投诉账龄" in html

    book = openpyxl.load_workbook(files["xlsx"])
    assert book.sheetnames == ["摘要", "组织指标", "部门指标", "13个月趋势", "投诉类别", "部门投诉办结", "投诉纠正措施",
                               "环比变化", "持续改进PDCA"]
    assert_print_ready(book, "服务质量月报 2026-03")
    categories = book["投诉类别"]
    cells = {row[0].value: row[0] for row in categories.iter_rows(min_row=2)}
    assert set(cells) == {"服务态度", XSS, FORMULA}
    assert cells[FORMULA].data_type == "s" and cells[FORMULA].value == FORMULA
    assert not any(c.data_type == "f" for row in book["投诉类别"].iter_rows() for c in row)
    assert categories.freeze_panes == "A2"
    kpis = book["组织指标"]
    header = [c.value for c in kpis[1]]
    assert header[:4] == ["指标", "代码", "本月", "单位"]
    assert header[4:7] == ["目标", "目标方向", "状态"]
    line = next(r for r in kpis.iter_rows(min_row=2) if r[1].value == "response_within_target_pct")
    row = [c.value for c in line]
    # figures and targets are numbers with their unit as number format; the direction beside the target
    assert row[2] == 87.5 and row[4] == 90 and row[5] == "≥" and row[6] == "未达标"
    assert line[2].number_format == line[4].number_format == '0.0"%"'
    # a percentage KPI's month-over-month change is in percentage points, signed
    assert numeric(line[10].value) and line[10].number_format == '+0.0"个百分点";-0.0"个百分点";0.0"个百分点"'
    hours = next(r for r in kpis.iter_rows(min_row=2) if r[1].value == "avg_handling_hours")
    assert hours[4].number_format == '0.0"小时"' and hours[5].value == "≤" and numeric(hours[4].value)
    assert all(r[8] in (None, "†") for r in kpis.iter_rows(min_row=2, values_only=True))  # n<30: † or blank
    assert "†" in [r[10] for r in book["部门指标"].iter_rows(min_row=2, values_only=True)]
    summary = {r[0].value: r[1] for r in book["摘要"].iter_rows(min_row=2)}
    assert summary["组织整体达标指标数"].value == 4 and summary["组织整体考核指标数"].value == 6
    assert isinstance(summary["生成时间"].value, datetime) and summary["生成时间"].is_date
    long_row = next(r[1].row for r in book["摘要"].iter_rows(min_row=2) if r[0].value == "摘要 1")
    assert book["摘要"].row_dimensions[long_row].height >= 30  # a wrapped sentence gets its lines
    assert book["持续改进PDCA"]["A2"].value.startswith("目前没有改进循环")
    trend = book["13个月趋势"]
    assert [c.value for c in trend[1]][-1] == PERIOD

    md = monthly_report_markdown(report)
    assert md.startswith("# 服务质量月报 2026-03") and "| 响应及时率 | 87.5% | ≥90% | ❌ 未达标 |" in md
    assert XSS not in md and "\\<script\\>" in md  # free text is literal, never HTML, in the artifact
    email = email_summary_context(report)
    assert email["subject"]["period"] == PERIOD and email["summary"] == report.summary
    assert any(r["label"] == "响应及时率" and r["status"] == "missed" for r in email["rows"])
    assert {"department": "OPS", "department_name": "运营部", "label": "响应及时率", "value": "75.0%",
            "target": "≥90%"} in email["missed_values"]


def test_english_report_headings(sqlite_settings: Settings, tmp_path: Path) -> None:
    seed_all_met(sqlite_settings)
    report = build(sqlite_settings, locale="en")
    files = render_monthly_report(report, sqlite_settings, tmp_path)
    html = files["html"].read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    for heading in ("Service Quality Monthly Report 2026-03", "Executive summary", "1. Organisation-wide KPIs",
                    "2. KPIs by department", "5. Complaint analysis", "Complaint categories (Pareto)",
                    "quality-analysis meeting"):
        assert heading in html
    assert "执行摘要" not in html and "Every target was met this month." in html
    assert "No complaints in this period" in html
    assert openpyxl.load_workbook(files["xlsx"]).sheetnames == [
        "Summary", "KPIs", "Departments", "13-month trend", "Complaint categories", "Complaints by department",
        "Complaint actions", "Changes", "Improvement (PDCA)"]


# -- versions ---------------------------------------------------------------------------


def test_versions_and_checksums(settings: Settings, tmp_path: Path) -> None:
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        computation = compute_and_store(uow.session, settings, PERIOD)
        saved = []
        for version in (1, 2):
            folder = report_dir(settings, KIND, PERIOD, version)
            assert folder == Path(settings.reports_dir) / KIND / PERIOD / f"v{version}"
            folder.mkdir(parents=True)
            (folder / "r.html").write_text(f"<p>v{version}</p>", encoding="utf-8")
            (folder / "r.xlsx").write_bytes(b"xlsx bytes %d" % version)
            files = {"xlsx": folder / "r.xlsx", "html": folder / "r.html"}
            saved.append(save_report(uow.session, kind=KIND, period=PERIOD, files=files, locale="zh_CN",
                                     kpi_computation_id=computation.id, summary={"met": version}))
        uow.commit()
    assert [r.version for r in saved] == [1, 2]
    # html, pdf (made from the html when the version is saved), xlsx: in sorted order of the format
    pdf = Path(saved[1].files["pdf"])
    assert pdf == Path(saved[1].files["html"]).with_suffix(".pdf") and pdf.read_bytes().startswith(b"%PDF-")
    expected = hashlib.sha256(b"<p>v2</p>" + pdf.read_bytes() + b"xlsx bytes 2").hexdigest()
    assert saved[1].checksum == expected == files_checksum(saved[1].files)
    with UnitOfWork(settings.database_url) as uow:
        latest = latest_report(uow.session, KIND, PERIOD)
        assert latest.version == 2 and latest.actor == "test" and latest.summary == {"met": 2}
        assert latest.kpi_computation_id == computation.id and verify_report(latest)
        assert latest_report(uow.session, KIND, "2026-04") is None
    Path(saved[1].files["html"]).write_text("tampered", encoding="utf-8")
    assert not verify_report(saved[1])


def test_whole_pipeline(settings: Settings) -> None:
    seed_mixed(settings)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        computation = compute_and_store(uow.session, settings, PERIOD)
        first = produce_monthly_report(uow.session, settings, computation)
        uow.commit()
    assert first.version == 1 and set(first.files) == {"html", "xlsx", "pdf"}
    assert Path(first.files["html"]).parent == report_dir(settings, KIND, PERIOD, 1)
    assert first.checksum == files_checksum(first.files) and first.summary["missed"] == 2
    assert first.kpi_computation_id == computation.id and first.locale == "zh_CN"
    html = Path(first.files["html"]).read_text(encoding="utf-8")
    assert "· 版本 v1</div>" in html and "生成于" in html  # the version and generation time on the page
    with UnitOfWork(settings.database_url, actor="test") as uow:
        second = produce_monthly_report(uow.session, settings, latest_computation(uow.session, PERIOD))
        uow.commit()
    assert "· 版本 v2</div>" in Path(second.files["html"]).read_text(encoding="utf-8")


# -- the shared mechanisms --------------------------------------------------------------


def test_charts_are_inline_svg_with_text(tmp_path: Path) -> None:
    periods = [f"2025-{m:02d}" for m in range(3, 13)] + ["2026-01", "2026-02", "2026-03"]
    trend = charts.trend_chart(periods, [80, None, *range(81, 92)], targets=[90] * 13,
                               statuses=["missed"] * 12 + ["met"], low_confidence=[False] * 12 + [True],
                               unit="%", title="首次解决率：近 13 个月趋势")
    bars = charts.department_bars(["客服部", "运营部", XSS], [92.0, 75.0, None], targets=[90, 90, None],
                                  statuses=["met", "missed", "no_data"], unit="%", title="响应及时率")
    pareto = charts.pareto_chart(["服务态度", XSS, FORMULA], [5, 3, 1], title="投诉类别")
    for svg in (trend, bars, pareto):
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
        assert len(svg.encode()) < 40_000
        assert not re.search(r"""(src|href)=["'](https?:)?//""", svg)
        assert "<path d=\"M -" not in svg[:0]  # glyphs are not outlines: text stays text
        assert "<text" in svg and "Noto Sans CJK SC" in svg
    assert re.search(r"<text[^>]*>10</text>", trend) and "目标" in trend and "n &lt; 30" in trend
    assert re.search(r"<text[^>]*>客服部</text>", bars) and "无数据" in bars
    assert re.search(r"<text[^>]*>服务态度</text>", pareto) and "累计占比" in pareto
    assert XSS not in bars and XSS not in pareto and "&lt;script&gt;" in pareto
    assert charts.COLOURS["missed"] in bars and charts.COLOURS["met"] in bars
    assert "本期无投诉" in charts.pareto_chart([], [])


def test_render_environment(sqlite_settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "x.html.j2").write_text(
        "{{ t('你好', 'hello') }} {{ name }} {{ v|fmt_value('fcr_pct') }} {{ tg|fmt_target('avg_handling_hours') }}"
        " {{ at|local_dt }} {{ svg }} {{ code|dept_name }}", encoding="utf-8")
    (folder / "x.txt.j2").write_text("{{ name }}", encoding="utf-8")
    (folder / "y.html.j2").write_text("{{ missing }}", encoding="utf-8")
    settings = sqlite_settings.model_copy(update={"templates_dir": folder})
    at = datetime(2026, 3, 1, 0, 30, tzinfo=ZoneInfo("UTC"))
    html = render_template(settings, "x.html.j2", name="<b>&", v=91.234, tg=24, at=at, svg=Markup("<svg/>"),
                           code="OPS")
    assert html == "你好 &lt;b&gt;&amp; 91.2% ≤24小时 2026-03-01 08:30 <svg/> 运营部"
    assert render_template(settings, "x.html.j2", locale="en", name="", v=None, tg=None, at=at, svg="",
                           code="OPS").startswith("hello  — — 2026-03-01 08:30")
    assert render_template(settings, "x.txt.j2", name="A & <B>") == "A & <B>"  # plain text is not escaped
    with pytest.raises(Exception, match="missing"):
        render_template(settings, "y.html.j2")
    assert environment(settings) is environment(settings)
    assert (Path(environment().loader.searchpath[0]) / "reports" / "monthly_report.html.j2").is_file()


def test_formatting() -> None:
    assert fmt_value(91.25, "fcr_pct") == "91.2%" or fmt_value(91.25, "fcr_pct") == "91.3%"
    assert fmt_value(1234, "record_volume") == "1,234"
    assert fmt_value(3.456, "complaint_rate_per_1000") == "3.46‰"
    assert fmt_value(float("nan"), "nps") == fmt_value(None, "nps") == "—"
    assert fmt_target(95, "complaint_on_time_pct") == "≥95%" and fmt_target(4.2, "csat_mean") == "≥4.2"
    assert fmt_target(24, "avg_handling_hours", "en") == "≤24 h" and fmt_target(5, "record_volume") == "—"
    assert fmt_change(1.25, "fcr_pct") in ("+1.2个百分点", "+1.3个百分点") and fmt_change(-2, "nps", "en") == "−2.0"
    assert local_datetime(datetime(2026, 1, 1, 16, 0), "Asia/Shanghai") == "2026-01-02 00:00"


def test_xlsx_neutralises_formulas(tmp_path: Path) -> None:
    risky = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", XSS]
    frame = pd.DataFrame({"类别": risky, "n": range(len(risky)), "v": [1.5] * len(risky)})
    path = write_xlsx(tmp_path / "t.xlsx", [("投诉类别", frame), ("a/b:c*?", frame.head(1), {"v": "0.00"})])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["投诉类别", "a_b_c__"]
    sheet = book["投诉类别"]
    assert [c.value for c in sheet[1]] == ["类别", "n", "v"] and sheet.freeze_panes == "A2"
    values = [row[0] for row in sheet.iter_rows(min_row=2)]
    # xlsxwriter stores a CR as Excel's escape _x000D_ (Excel shows the CR; openpyxl leaves the escape)
    assert [c.value for c in values] == [v.replace("\r", "_x000D_") for v in risky] or [
        c.value for c in values] == risky
    assert all(c.data_type == "s" for c in values)
    assert all(c.quotePrefix for c in values[:6]) and not values[6].quotePrefix
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    assert sheet.column_dimensions["A"].width >= 10


def test_monthly_workbook_has_the_pdca_board(sqlite_settings: Settings, tmp_path: Path) -> None:
    """Issue 19 item 26: the monthly XLSX carries the PDCA status board, figures as numbers."""
    seed_mixed(sqlite_settings)
    report = build(sqlite_settings)
    report.improvement = [{
        "ref": "PDCA-0001", "department": "运营部", "kpi": "response_within_target_pct", "kpi_label": "响应及时率",
        "status": "check", "iteration": 2, "owner": "li.na@example.com", "opened": "2026-01", "baseline": 75.0,
        "target": 90.0, "check_period": "2026-03", "check_value": 87.5, "check_met": False, "actions": 3,
        "actions_done": 2, "standard": None, "standard_version": None}]
    files = render_monthly_report(report, sqlite_settings, tmp_path / "out", version=3)
    book = openpyxl.load_workbook(files["xlsx"])
    sheet = book["持续改进PDCA"]
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2])}
    assert row["循环"].value == "PDCA-0001" and row["阶段"].value == "检查" and row["轮次"].value == 2
    assert row["基线"].value == 75.0 and row["目标"].value == 90 and row["目标方向"].value == "≥"
    assert row["检查值"].number_format == '0.0"%"' and row["检查结果"].value == "未达标"
    assert (row["措施数"].value, row["已完成措施"].value) == (3, 2)
    assert "第 3 版" in sheet.oddHeader.right.text and "2026-03" in sheet.oddHeader.center.text
