"""The complaint feedback form (回访) in a real headless Chromium against a real `sqms web` server:
the customer's mail, its single-use link, the form, the thank-you page, reuse refused, a low
score reopening the complaint, expired and unknown links."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import uvicorn
from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.complaints.service import Step, advance, get, queue_feedback_request, register
from sqms.db import UnitOfWork
from sqms.notify.service import deliver_pending
from sqms.org.models import Customer
from sqms.org.service import sync_organisation
from sqms.tokens import issue
from sqms.web.app import create_app
from tests.conftest import ARTIFACTS
from tests.smtp import free_port

UTC = timezone.utc


@pytest.fixture
def web(sqms_env, sqlite_url, smtp_server):
    """`sqms web` on a free loopback port, pointed at a fresh database and the test SMTP server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = sqms_env(sqlite_url, SQMS_WEB__BASE_URL=base, **smtp_server.env())
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.session.add(Customer(customer_id="C1", name="赵先生", email="zhao@example.net", opted_out=False))
        uow.commit()
    yield settings, base
    server.should_exit = True
    thread.join(timeout=10)


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
