"""The complaint feedback form (回访) in a real headless Chromium against a real `sqms web` server:
the customer's mail, its single-use link, the form, the thank-you page, reuse refused, a low
score reopening the complaint, expired and unknown links."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.complaints.service import Step, advance, get, queue_feedback_request, register
from sqms.db import UnitOfWork
from sqms.notify.service import deliver_pending
from sqms.org.models import Customer
from sqms.org.service import sync_organisation
from sqms.tokens import issue
from tests.conftest import ARTIFACTS

UTC = timezone.utc


@pytest.fixture
def web(web_server):
    settings, base = web_server
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.session.add(Customer(customer_id="C1", name="赵先生", email="zhao@example.net", opted_out=False))
        uow.commit()
    return settings, base


def resolved_complaint(settings, category="收费") -> str:
    received = datetime.now(UTC) - timedelta(days=1)
    with UnitOfWork(settings.database_url, actor="wang.fang") as uow:
        c = register(uow.session, settings, received_at=received, department="CS", channel="phone", severity="normal",
                     category=category, customer_id="C1", description="多收了费用")
        for action, step in [("acknowledge", Step()), ("investigate", Step()), ("propose", Step(solution="退款")),
                             ("resolve", Step(answer="已退还多收的 30 元"))]:
            advance(uow.session, settings, c, action, step)
        assert queue_feedback_request(uow.session, settings, c)
        assert not queue_feedback_request(uow.session, settings, c)  # asked once
        uow.commit()
        return c.complaint_id


def link_from_mail(smtp_server, base: str) -> str:
    message = smtp_server.messages[-1]
    assert message["To"].addresses[0].addr_spec == "zhao@example.net"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = re.search(re.escape(base) + r"/feedback/[A-Za-z0-9_-]+", text).group(0)
    assert f'href="{link}"' in html
    return link


def complaint(settings, ident):
    with UnitOfWork(settings.database_url) as uow:
        return get(uow.session, ident)


def test_feedback_form_in_chromium(web, browser, smtp_server):
    settings, base = web
    ident = resolved_complaint(settings)
    assert deliver_pending(settings).sent == 1
    link = link_from_mail(smtp_server, base)
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    try:
        response = page.goto(link)
        assert response.status == 200
        assert ident in page.inner_text("main") and "已退还多收的 30 元" in page.inner_text("main")
        page.click("#submit")  # no score: the form says so and keeps the link usable
        assert page.locator("#score-error").is_visible()
        page.check("input[name=score][value='5']", force=True)
        page.fill("#comment", "<script>alert(1)</script> 处理很及时")
        page.click("#submit")
        page.wait_for_selector("#thanks")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "feedback-thanks.png"))
        assert "感谢您的评价" in page.inner_text("#thanks")

        c = complaint(settings, ident)
        assert (c.status, c.feedback_score, c.feedback_channel) == ("return_visited", 5, "web")
        assert c.feedback_comment == "<script>alert(1)</script> 处理很及时"
        with UnitOfWork(settings.database_url) as uow:
            actors = {e.actor for e in uow.session.scalars(select(AuditEntry).where(AuditEntry.entity_id == ident))}
        assert "customer:zhao@example.net" in actors

        again = page.goto(link)  # the link is used up
        assert again.status == 410 and "已经提交过" in page.inner_text("main")
        english = page.goto(link + "?lang=en")
        assert english.status == 410 and "already sent" in page.inner_text("main")
    finally:
        page.close()


def test_a_low_score_reopens_and_bad_links_say_why(web, browser, smtp_server):
    settings, base = web
    ident = resolved_complaint(settings, category="<b>态度</b>")
    deliver_pending(settings)
    link = link_from_mail(smtp_server, base)
    page = browser.new_page()
    try:
        page.goto(link + "?lang=en")
        assert "<b>态度</b>" in page.inner_text("main")  # shown as text, not markup
        page.check("input[name=score][value='1']", force=True)
        page.click("#submit")
        page.wait_for_selector("#thanks")
        assert "reopened" in page.inner_text("main")
        c = complaint(settings, ident)
        assert (c.status, c.reopen_count, c.resolved_at) == ("investigating", 1, None)

        with UnitOfWork(settings.database_url) as uow:
            old = issue(uow.session, purpose="complaint-feedback", subject_id=ident, email="zhao@example.net",
                        valid_days=1, now=datetime.now(UTC) - timedelta(days=3))
            uow.commit()
        expired = page.goto(f"{base}/feedback/{old.token}")
        assert expired.status == 410 and "已过期" in page.inner_text("main")
        unknown = page.goto(f"{base}/feedback/not-a-real-token")
        assert unknown.status == 404 and "未找到此链接" in page.inner_text("main")
        health = page.goto(f"{base}/healthz")
        assert health.status == 200
    finally:
        page.close()


# -- the satisfaction survey form -----------------------------------------------------------------------


def invited_campaign(settings, smtp_server, base) -> dict[str, str]:
    """Three customers served in Q3, a campaign sampled and invited; the links from the real mails."""
    from datetime import date

    from sqms.records.models import ServiceRecord
    from sqms.surveys.service import advance as advance_campaign
    from sqms.surveys.service import plan_campaign

    now = datetime.now(UTC)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        for i, dept in enumerate(("CS", "CS", "OPS")):
            uow.session.add(Customer(customer_id=f"S{i}", name=f"客户{i}", email=f"s{i}@example.net", opted_out=False))
            opened = datetime(2026, 8, 3 + i, 2, tzinfo=UTC)
            uow.session.add(ServiceRecord(record_id=f"SR{i}", department=dept, channel="phone", customer_id=f"S{i}",
                                          opened_at=opened, first_response_at=opened, resolved_at=opened))
        campaign, _ = plan_campaign(uow.session, settings, kind="quarterly", code="2026-Q3", seed=5,
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        advance_campaign(uow.session, settings, campaign, "sample", now)
        advance_campaign(uow.session, settings, campaign, "invite", now)
        uow.commit()
    assert deliver_pending(settings).sent == 3
    links = {}
    for message in smtp_server.messages:
        text = message.get_body(preferencelist=("plain",)).get_content()
        links[message["To"].addresses[0].addr_spec] = re.search(re.escape(base) + r"/survey/[A-Za-z0-9_-]+",
                                                                text).group(0)
        assert "/opt-out" in text
    return links


def test_survey_form_in_chromium(web_server, browser, smtp_server):
    from sqms.surveys.models import SurveyResponse
    from sqms.surveys.service import advance as advance_campaign
    from sqms.surveys.service import get as get_campaign

    settings, base = web_server
    links = invited_campaign(settings, smtp_server, base)
    first, second = links["s0@example.net"], links["s1@example.net"]
    page = browser.new_page(viewport={"width": 390, "height": 844})
    alerts = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    try:
        assert page.goto(first).status == 200
        assert "客户满意度季度调查" in page.inner_text("main")
        page.click("#submit")  # nothing chosen: CSAT and NPS are required
        page.wait_for_selector("#csat-error")
        assert page.locator("#nps-error").is_visible()
        page.check("input[name=csat][value='2']", force=True)
        page.check("input[name=nps][value='4']", force=True)
        page.check("input[name=REL1][value='3']", force=True)
        page.fill("#comment", "<script>alert('x')</script> 等待时间太长")
        page.click("#submit")
        page.wait_for_selector("#thanks")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "survey-thanks.png"))
        assert page.goto(first).status == 410  # one response per link
        assert "已经提交过" in page.inner_text("main")

        page.goto(second + "/opt-out?lang=en")  # the second customer unsubscribes
        page.click("#confirm")
        page.wait_for_selector("#opted-out")
        assert page.goto(second).status == 410
    finally:
        page.close()

    with UnitOfWork(settings.database_url, actor="test") as uow:
        [response] = list(uow.session.scalars(select(SurveyResponse)))
        assert (response.csat, response.nps, response.answers) == (2.0, 4, {"REL1": 3.0})
        assert [c.customer_id for c in uow.session.scalars(select(Customer).where(Customer.opted_out))] == ["S1"]
        campaign = get_campaign(uow.session, "2026-Q3")
        now = datetime.now(UTC)
        assert advance_campaign(uow.session, settings, campaign, "remind", now) == 1  # not the one who answered,
        advance_campaign(uow.session, settings, campaign, "close", now)               # nor the one who opted out
        assert advance_campaign(uow.session, settings, campaign, "analyse", now) == 1  # a detractor: return visit
        advance_campaign(uow.session, settings, campaign, "report", now)
        uow.commit()
        from sqms.reporting.models import GeneratedReport

        report = uow.session.get(GeneratedReport, campaign.report_id)
    # the report in the browser: the comment is text, no script runs
    view = browser.new_page()
    try:
        view.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
        view.goto(f"file://{report.files['html']}")
        assert "<script>alert('x')</script> 等待时间太长" in view.inner_text("#comments")
        view.screenshot(path=str(ARTIFACTS / "survey-report.png"), full_page=True)
    finally:
        view.close()
    assert alerts == []
