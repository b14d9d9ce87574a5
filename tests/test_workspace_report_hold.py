"""Issue 17 §1 in the workspace: the quality manager writes the analysis of a monthly report held as a
draft (`report.hold_hours`) and sends it on the web, with the rules of `sqms report comment|release`;
in a real Chromium against a real `sqms web`, at desktop and phone sizes, on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.calendar import utcnow
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.reporting.models import ReportHold
from tests.test_meetings import monthly_report
from tests.test_workspace import CS_MANAGER, QM, shot, sign_in, workspace  # noqa: F401

ANALYSIS = "运营部在线渠道响应率下降，主因是排班缺口。\n已调整排班规范，下月复查。<b>不应成为粗体</b>"


def hold(settings, period: str) -> None:
    """The month's report made and held for a day, as the monthly flow leaves it with hold_hours = 24."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        report = monthly_report(uow.session, settings, period, date(2026, 11, 2))
        uow.session.add(ReportHold(kind="monthly-report", period=period, report_id=report.id, created_at=utcnow(),
                                   until=utcnow() + timedelta(hours=24), also=[]))
        uow.commit()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_quality_manager_writes_the_analysis_of_a_held_report(workspace, browser, smtp_server,  # noqa: F811
                                                                       viewport, request):
    settings, base = workspace
    hold(settings, "2026-09")
    size = request.node.callspec.id.split("-")[-1]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        sign_in(page, base, smtp_server, QM)
        page.goto(f"{base}/app/reports/")
        page.click("#holds a[href='/app/reports/held/2026-09']")
        page.wait_for_selector("#form-analysis")
        assert "暂缓" in page.inner_text("#hold-state")
        page.click("#save")  # nothing written: refused in the form's language
        page.wait_for_selector("#error")
        assert "请填写质量经理分析" in page.inner_text("#error")
        page.fill("#text", ANALYSIS)
        page.click("#save")
        page.wait_for_selector("#commented")
        assert page.input_value("#text") == ANALYSIS  # kept as typed, the markup is text
        shot(page, f"report-hold-{size}")
        with UnitOfWork(settings.database_url) as uow:
            kept = uow.session.scalars(select(ReportHold).where(ReportHold.period == "2026-09")).one()
            assert kept.commentary == ANALYSIS and kept.commented_by == QM and kept.released_at is None
            entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "report",
                                                                 AuditEntry.action == "comment")).one()
            assert entry.actor == QM and entry.entity_id == "monthly-report:2026-09"

        # a department manager reads the reports but has no draft to hold, and a forged POST is refused
        page.click("#logout")
        sign_in(page, base, smtp_server, CS_MANAGER)
        page.goto(f"{base}/app/reports/")
        assert page.locator("#holds").count() == 0
        assert page.request.get(f"{base}/app/reports/held/2026-09").status == 403
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert page.request.post(f"{base}/app/reports/held/2026-09/comment",
                                 form={"csrf_token": token, "text": "x"}).status == 403
    finally:
        context.close()


def test_the_held_report_goes_out_with_the_analysis_from_the_browser(workspace, browser, smtp_server):  # noqa: F811
    """A real report (KPIs, files, summary) held by the monthly flow's step; released on the web with an
    analysis: a new version printing it goes to the distribution list, once."""
    from sqms.monthly.rendering import produce_monthly_report
    from sqms.monthly.messaging import hold_or_queue
    from sqms.records.service import compute_and_store
    from sqms.reporting.models import GeneratedReport
    from tests.factories import PERIOD, seed_mixed

    settings, base = workspace
    seed_mixed(settings)
    held_for_a_day = settings.model_copy(update={"report": settings.report.model_copy(update={"hold_hours": 24})})
    with UnitOfWork(settings.database_url, actor="test") as uow:
        draft = produce_monthly_report(uow.session, settings, compute_and_store(uow.session, settings, PERIOD))
        assert hold_or_queue(uow.session, held_for_a_day, draft, now=utcnow())["held_until"] is not None
        uow.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, base, smtp_server, QM)
        page.goto(f"{base}/app/reports/held/{PERIOD}")
        page.fill("#text", ANALYSIS)
        page.click("#save")
        page.wait_for_selector("#commented")
        page.click("#release")
        page.wait_for_selector("#released")
        assert "已发送" in page.inner_text("#hold-state") and "v2" in page.inner_text("#released")
        assert page.locator("#form-analysis").count() == 0
        with UnitOfWork(settings.database_url) as uow:
            sent = uow.session.scalars(select(ReportHold).where(ReportHold.period == PERIOD)).one()
            assert sent.released_by == QM and sent.released_at is not None
            final = uow.session.get(GeneratedReport, sent.released_report_id)
            assert final.version == 2
            html = open(final.files["html"], encoding="utf-8").read()
            assert "已调整排班规范" in html and "&lt;b&gt;不应成为粗体&lt;/b&gt;" in html  # printed, escaped
            queued = sorted(uow.session.scalars(select(OutboxMessage.recipient).where(
                OutboxMessage.process == "monthly-report", OutboxMessage.object == "report")))
            wanted = sorted({getattr(r, "email", r) for r in settings.resolve_recipients(settings.report.distribution)})
            assert queued == wanted  # the list gets the version with the analysis
        again = page.request.post(f"{base}/app/reports/held/{PERIOD}/release", form={
            "csrf_token": page.locator("input[name=csrf_token]").first.get_attribute("value")})
        assert again.status == 422 and "已经发送" in again.text()  # a second release sends nothing
    finally:
        context.close()
