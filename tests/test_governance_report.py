"""The monthly report shows the standards register (reviews, trainings), the SOP training KPI and the
month's suggestions with their adoption rate. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import openpyxl

from sqms.db import UnitOfWork
from sqms.records.service import compute_and_store
from sqms.reporting.monthly import produce_monthly_report
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
