"""The customer forms under load, faults and hostile input: mail being sent meanwhile, concurrent
submits of one link, closed campaigns, odd values, control characters, security headers, and no
usable link left in the database. Both databases, a real SMTP server, `sqms web` for real."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from sqms.complaints.service import Step, advance, get, queue_feedback_request, register
from sqms.config import SmtpSettings, WebSettings
from sqms.db import UnitOfWork
from sqms.notify.service import Email, deliver_pending, enqueue
from sqms.org.models import Customer
from sqms.org.service import sync_organisation
from sqms.web.app import create_app
from tests.conftest import make_settings

UTC = timezone.utc
BASE = "http://forms.example.test"


@pytest.fixture
def web_settings(db_url, tmp_path, smtp_server):
    """The demo organisation and three customers on the parametrised database; mail to the test server."""
    settings = make_settings(db_url, tmp_path, smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port),
                             web=WebSettings(base_url=BASE))
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        for i in range(3):
            uow.session.add(Customer(customer_id=f"C{i}", name=f"客户{i}", email=f"c{i}@example.net", opted_out=False))
        uow.commit()
    return settings


def resolved_complaints(settings, n: int = 1) -> list[str]:
    """n complaints resolved yesterday, each with a feedback request queued to its customer."""
    idents = []
    with UnitOfWork(settings.database_url, actor="wang.fang") as uow:
        for i in range(n):
            c = register(uow.session, settings, received_at=datetime.now(UTC) - timedelta(days=1), department="CS",
                         channel="phone", severity="normal", category="收费", customer_id=f"C{i % 3}",
                         description="多收了费用")
            for action, step in [("acknowledge", Step()), ("investigate", Step()), ("propose", Step(solution="退款")),
                                 ("resolve", Step(answer="已退还"))]:
                advance(uow.session, settings, c, action, step)
            assert queue_feedback_request(uow.session, settings, c)
            idents.append(c.complaint_id)
        uow.commit()
    return idents


def links(smtp_server, kind: str) -> list[str]:
    """The token of every `kind` link (feedback, survey) in the mails the SMTP server received."""
    found = []
    for message in smtp_server.messages:
        text = message.get_body(preferencelist=("plain",)).get_content()
        found += re.findall(re.escape(BASE) + rf"/{kind}/([A-Za-z0-9_-]+)", text)
    return list(dict.fromkeys(found))


def complaint(settings, ident):
    with UnitOfWork(settings.database_url) as uow:
        return get(uow.session, ident)


# -- 4: no write transaction across SMTP -------------------------------------------------------------------


def test_a_form_is_answered_while_the_outbox_waits_for_the_smtp_server(web_settings, smtp_server):
    settings = web_settings
    [ident] = resolved_complaints(settings)
    assert deliver_pending(settings).sent == 1
    [token] = links(smtp_server, "feedback")
    with UnitOfWork(settings.database_url, actor="test") as uow:
        enqueue(uow.session, process="monthly-report", obj="report", period="2026-10",
                email=Email(recipient="gm@example.com", subject="月报", body_text="正文", body_html="<p>正文</p>"))
        uow.commit()

    smtp_server.release.clear()  # the server takes the next message's DATA and does not answer yet
    smtp_server.receiving.clear()
    results = []
    delivery = threading.Thread(target=lambda: results.append(deliver_pending(settings)))
    delivery.start()
    try:
        assert smtp_server.receiving.wait(30)
        with TestClient(create_app(lambda: settings)) as client:
            response = client.post(f"/feedback/{token}", data={"score": "4", "comment": "好"})
        assert response.status_code == 200, response.text
        assert complaint(settings, ident).feedback_score == 4  # stored while the mail was still on its way
    finally:
        smtp_server.release.set()
        delivery.join(60)
    assert results[0].sent == 1
    assert smtp_server.recipients()[-1] == "gm@example.com"


def test_a_message_left_sending_by_a_dead_delivery_is_sent_again_with_its_message_id(web_settings, smtp_server):
    from sqlalchemy import update

    from sqms.notify.models import OutboxMessage

    settings = web_settings
    with UnitOfWork(settings.database_url, actor="test") as uow:
        row, _ = enqueue(uow.session, process="monthly-report", obj="report", period="2026-10",
                         email=Email(recipient="gm@example.com", subject="月报", body_text="正文", body_html="<p/>"))
        message_id = row.message_id
        uow.commit()
    with UnitOfWork(settings.database_url, actor="test") as uow:  # a delivery claimed it and died mid-send
        uow.session.execute(update(OutboxMessage).values(status="sending", attempts=1,
                                                         updated_at=datetime.now(UTC) - timedelta(minutes=5)))
        uow.commit()
    assert deliver_pending(settings).sent == 0  # it may still be on its way
    with UnitOfWork(settings.database_url, actor="test") as uow:
        uow.session.execute(update(OutboxMessage).values(updated_at=datetime.now(UTC) - timedelta(minutes=16)))
        uow.commit()
    assert deliver_pending(settings).sent == 1  # the outcome is unknown: at least once
    assert smtp_server.messages[-1]["Message-ID"].strip() == message_id
    assert deliver_pending(settings).sent == 0
