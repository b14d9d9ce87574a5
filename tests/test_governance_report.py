"""The monthly report shows the standards register (reviews, trainings), the SOP training KPI and the
month's suggestions with their adoption rate. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import openpyxl

from sqms.db import UnitOfWork
from sqms.records.service import compute_and_store
from sqms.monthly.rendering import produce_monthly_report
from sqms.standards.demo import seed_register
from sqms.suggestions.service import evaluate, submit
from tests.factories import PERIOD, seed_mixed

TZ = ZoneInfo("Asia/Shanghai")


def test_monthly_report_has_the_register_training_and_suggestions(settings):
    seed_mixed(settings)
    year, month = (int(x) for x in PERIOD.split("-"))
    at = datetime.combine(date(year, month, 10), time(10), tzinfo=TZ).astimezone(timezone.utc)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        seed_register(uow.session, settings, now=at)
        a = submit(uow.session, settings, text="增加夜间客服", source="customer", department="CS", received_at=at)
        b = submit(uow.session, settings, text="员工餐补", received_at=at)
        submit(uow.session, settings, text="工单模板", received_at=at)
        evaluate(uow.session, settings, a, "accept", by="li.na@example.com", reason="可行", now=at)
        evaluate(uow.session, settings, b, "reject", by="li.na@example.com", reason="不属于服务质量", now=at)
        computation = compute_and_store(uow.session, settings, PERIOD, as_of=at)  # the register as of then
        report = produce_monthly_report(uow.session, settings, computation)
        uow.commit()
    html = open(report.files["html"], encoding="utf-8").read()
    assert "本月收到合理化建议 3 条（员工 2、客户 1），已评估 2 条，采纳 1 条，采纳率 50.0%，待评估 1 条。" in html
    assert ("现行制度/规范 5 项；逾期未评审 1 项（QP-CS-01）；30 天内到期评审 2 项；待审批版本 1 个；"
            "培训未完成 2 人次（其中逾期 0）。") in html
    assert "制度培训按期完成率" in html
    book = openpyxl.load_workbook(report.files["xlsx"], read_only=True)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row]
    assert "制度培训按期完成率" in cells


def test_the_review_pack_has_the_training_kpi_the_register_and_the_years_suggestions(settings):
    from sqms.org.service import sync_organisation
    from sqms.reviews.pack import build_pack
    from sqms.reviews.service import open_review

    at = datetime(2026, 3, 10, 2, tzinfo=timezone.utc)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        seed_register(uow.session, settings, now=at)
        for text, decision in (("增加夜间客服", "accept"), ("员工餐补", "reject"), ("工单模板", None)):
            s = submit(uow.session, settings, text=text, department="CS", received_at=at)
            if decision:
                evaluate(uow.session, settings, s, decision, by="li.na@example.com", reason="评估", now=at)
        review, _ = open_review(uow.session, settings, year=2026, today=date(2027, 1, 11))
        pack = build_pack(uow.session, settings, review, as_of=datetime(2027, 1, 11, 2, tzinfo=timezone.utc))
        uow.commit()
    assert "sop_training_completion_pct" in set(pack.kpi_completion["kpi"])
    assert pack.summary[-1].startswith("制度/规范现行 5 项") and (
        "全年收到合理化建议 3 条，已评估 2 条，采纳 1 条，采纳率 50.0%。") in pack.summary[-1]
