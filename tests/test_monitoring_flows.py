"""The inspections and staff-grading flows as Prefect runs them, with a real SMTP server (issue 15)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import parseaddr

import pytest

from sqms.db import UnitOfWork
from sqms.importers import spec_for
from sqms.ingest import import_file
from sqms.org.service import sync_organisation

pytestmark = pytest.mark.prefect


def test_plan_then_grade_a_quarter(prefect_harness, sqlite_url, sqms_env, smtp_server, tmp_path):
    from flows.monitoring import inspections, staff_grading
    from sqms.monitoring.service import ItemResult, NewInspection, record_inspection
    from sqms.monitoring.templates import load_templates

    settings = sqms_env(sqlite_url, **smtp_server.env())
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    (tmp_path / "staff.csv").write_text("staff_id,name,department\nCS1,客服甲,CS\nOPS1,运营乙,OPS\nOPS2,运营丙,OPS\n",
                                        encoding="utf-8")
    import_file(settings, spec_for("staff"), tmp_path / "staff.csv")

    planned = inspections(period="2026-09", return_state=True)
    assert planned.is_completed(), planned.message
    assert planned.result()["planned"] == 3  # the last month of the quarter takes everyone not inspected
    assert all("[服务检查计划] 2026-09" in m["Subject"] for m in smtp_server.messages)
    assert inspections(period="2026-09", return_state=True).result()["sent"] == 0  # never twice

    templates = load_templates(settings)
    full = {i.code: i.points for i in templates["service-counter"].items()}
    with UnitOfWork(settings.database_url, actor="test") as uow:
        record_inspection(uow.session, settings, NewInspection(
            "I-1", "service-counter", "OPS", "li.na@example.com", datetime(2026, 9, 9, 2, tzinfo=UTC),
            [ItemResult(c, p) for c, p in full.items()], staff_id="OPS1"), templates=templates)
        uow.commit()
    smtp_server.clear()
    assert staff_grading(today=date(2026, 10, 9), return_state=True).result() == {
        "skipped": "not the first working day after a quarter"}
    graded = staff_grading(today=date(2026, 10, 8), return_state=True)
    assert graded.is_completed(), graded.message
    assert graded.result()["quarter"] == "2026Q3" and graded.result()["graded"] == 3
    subjects = {parseaddr(m["To"])[1]: m["Subject"] for m in smtp_server.messages}
    assert subjects["zhao.lei@example.com"].startswith("[服务质量考核] 2026Q3")
    ops = next(m for m in smtp_server.messages if parseaddr(m["To"])[1] == "liu.yang@example.com")
    html = next(p for p in ops.iter_attachments() if p.get_filename().endswith(".html")).get_content()
    assert "运营乙" in html and "客服甲" not in html
