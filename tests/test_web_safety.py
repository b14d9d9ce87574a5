"""The customer forms under load, faults and hostile input: mail being sent meanwhile, concurrent
submits of one link, closed campaigns, odd values, control characters, security headers, and no
usable link left in the database. Both databases, a real SMTP server, `sqms web` for real."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

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


# -- 8: a link is used once, even by ten submits at the same moment on two web processes ----------------


@pytest.fixture
def two_web_processes(web_settings, tmp_path):
    """Two `sqms web` processes on the same database, as behind a load balancer; their base URLs."""
    import os
    import subprocess

    import httpx

    from tests.conftest import CONFIG, ROOT
    from tests.smtp import free_port

    env = {**os.environ, "SQMS_CONFIG": str(CONFIG), "SQMS_DATABASE_URL": web_settings.database_url,
           "SQMS_OUTBOX_DIR": str(tmp_path / "outbox"), "SQMS_REPORTS_DIR": str(tmp_path / "reports"),
           "SQMS_QUESTIONNAIRES_DIR": str(ROOT / "config" / "questionnaires")}
    servers, bases = [], []
    try:
        for n in range(2):
            port = free_port()
            log = (tmp_path / f"web-{n}.log").open("w")
            servers.append(subprocess.Popen([str(ROOT / ".venv" / "bin" / "sqms"), "web", "--port", str(port)],
                                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
            bases.append(f"http://127.0.0.1:{port}")
        for base, server in zip(bases, servers, strict=True):
            while True:  # up when /healthz answers; a server that exits fails the test
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                try:
                    server.wait(0.2)
                    raise AssertionError((tmp_path / "web-0.log").read_text() + (tmp_path / "web-1.log").read_text())
                except subprocess.TimeoutExpired:
                    pass
        yield bases
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)


def storm(bases: list[str], path: str, data: dict[str, str], n: int = 10) -> list:
    """n clients posting the same form at once, spread over the servers: [(status, body)]."""
    import httpx

    barrier = threading.Barrier(n)
    results: list = [None] * n

    def post(i: int) -> None:
        with httpx.Client(timeout=120) as client:
            barrier.wait()
            response = client.post(bases[i % len(bases)] + path, data=data)
            results[i] = (response.status_code, response.text)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return results


def test_ten_simultaneous_submits_of_a_link_store_one_answer(web_settings, smtp_server, two_web_processes):
    from sqms.audit_trail import AuditEntry
    from sqms.surveys.models import SurveyResponse

    settings, bases = web_settings, two_web_processes
    idents = resolved_complaints(settings, 4)
    invited(settings)
    assert deliver_pending(settings).sent == 4 + 3
    feedback_tokens, survey_tokens = links(smtp_server, "feedback"), links(smtp_server, "survey")
    assert len(feedback_tokens) == 4 and len(survey_tokens) == 3

    outcomes = []
    for token in feedback_tokens:
        outcomes.append(storm(bases, f"/feedback/{token}", {"score": "4", "comment": "及时"}))
    for token in survey_tokens:
        outcomes.append(storm(bases, f"/survey/{token}", {"csat": "5", "nps": "9", "comment": "好"}))
    for results in outcomes:
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] + [410] * 9, statuses
        assert all("已经提交过" in body for status, body in results if status == 410)

    with UnitOfWork(settings.database_url) as uow:
        for ident in idents:
            c = get(uow.session, ident)
            assert (c.status, c.feedback_score) == ("return_visited", 4)
            late = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity_id == ident,
                                                                AuditEntry.action == "feedback")).all()
            assert late == []  # no second answer recorded beside the visit
        responses = uow.session.scalars(select(SurveyResponse)).all()
        assert sorted(r.response_id for r in responses) == sorted({r.response_id for r in responses})
        assert len(responses) == 3


def invited(settings, code: str = "2026-Q3") -> None:
    """Three customers served in Q3, a campaign sampled and invited (three mails queued)."""
    from datetime import date

    from sqms.records.models import ServiceRecord
    from sqms.surveys.service import advance as advance_campaign
    from sqms.surveys.service import plan_campaign

    now = datetime.now(UTC)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        for i, dept in enumerate(("CS", "CS", "OPS")):
            opened = datetime(2026, 8, 3 + i, 2, tzinfo=UTC)
            uow.session.add(ServiceRecord(record_id=f"SR{i}", department=dept, channel="phone", customer_id=f"C{i}",
                                          opened_at=opened, first_response_at=opened, resolved_at=opened))
        campaign, _ = plan_campaign(uow.session, settings, kind="quarterly", code=code, seed=5,
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        advance_campaign(uow.session, settings, campaign, "sample", now)
        advance_campaign(uow.session, settings, campaign, "invite", now)
        uow.commit()


# -- 5, 9, 10: control characters, closed surveys, odd values -------------------------------------------


@pytest.fixture
def client(web_settings):
    with TestClient(create_app(lambda: web_settings)) as test_client:
        yield test_client


def test_control_characters_in_comments_are_removed_and_the_answer_stored(web_settings, smtp_server, client):
    from sqms.surveys.models import SurveyResponse

    settings = web_settings
    [ident] = resolved_complaints(settings)
    invited(settings)
    deliver_pending(settings)
    [feedback], survey = links(smtp_server, "feedback"), links(smtp_server, "survey")
    response = client.post(f"/feedback/{feedback}", data={"score": "5", "comment": "很\x00好\x07，\t谢谢\r\n再见\x1b"})
    assert response.status_code == 200, response.text
    assert complaint(settings, ident).feedback_comment == "很好，\t谢谢\r\n再见"
    response = client.post(f"/survey/{survey[0]}", data={"csat": "4\x00", "nps": "8", "comment": "\x00等待\x00太长"})
    assert response.status_code == 200, response.text
    with UnitOfWork(settings.database_url) as uow:
        [stored] = uow.session.scalars(select(SurveyResponse)).all()
    assert (stored.csat, stored.comment) == (4.0, "等待太长")


def test_a_closed_survey_says_so_and_stores_nothing(web_settings, smtp_server, client):
    from sqms.surveys.models import SurveyResponse
    from sqms.surveys.service import advance as advance_campaign
    from sqms.surveys.service import get as get_campaign

    settings = web_settings
    invited(settings)
    deliver_pending(settings)
    token = links(smtp_server, "survey")[0]
    assert client.get(f"/survey/{token}").status_code == 200
    with UnitOfWork(settings.database_url, actor="test") as uow:
        advance_campaign(uow.session, settings, get_campaign(uow.session, "2026-Q3"), "close", datetime.now(UTC))
        uow.commit()
    for step in ("closed", "analysed"):
        page = client.get(f"/survey/{token}")
        assert page.status_code == 410 and "调查已结束" in page.text and "不再接收答卷" in page.text
        english = client.get(f"/survey/{token}?lang=en")
        assert english.status_code == 410 and "This survey is closed" in english.text
        answer = client.post(f"/survey/{token}?lang=en", data={"csat": "5", "nps": "10"})
        assert answer.status_code == 410 and "takes no more answers" in answer.text
        with UnitOfWork(settings.database_url, actor="test") as uow:
            assert uow.session.scalars(select(SurveyResponse)).all() == []
            if step == "closed":
                advance_campaign(uow.session, settings, get_campaign(uow.session, "2026-Q3"), "analyse",
                                 datetime.now(UTC))
                uow.commit()
    assert client.get(f"/survey/{token}/opt-out").status_code == 200  # unsubscribing still works


ODD = ["", " ", "²", "³", "½", "Ⅴ", "-1", "+3", "0", "6", "11", "3.0", "1e1", "0x3", "五", "3 4", "\x00",
       "9" * 5000, "٣٣", "𝟓𝟓", "<script>", "'; drop table outbox; --"]


def acceptable(field: str, value: str) -> bool:
    """Whether the survey takes `value` for `field` (an empty item means "does not apply")."""
    low, high = {"csat": (1, 5), "nps": (0, 10)}.get(field, (1, 5))
    text = value.strip("\x00 ")
    return (not text and field not in ("csat", "nps")) or (text.isdecimal() and len(text) < 4 and low <= int(text) <= high)


def test_odd_form_values_get_a_4xx_page_in_the_forms_language(web_settings, smtp_server, client):
    settings = web_settings
    resolved_complaints(settings)
    invited(settings)
    deliver_pending(settings)
    [feedback], [survey, *_] = links(smtp_server, "feedback"), links(smtp_server, "survey")

    def check(response, lang):
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
        assert f'<html lang="{"en" if lang == "en" else "zh-CN"}">' in response.text
        for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
            assert name in response.headers

    for i, value in enumerate(ODD):
        lang = "en" if i % 2 else "zh_CN"
        response = client.post(f"/feedback/{feedback}?lang={lang}", data={"score": value, "comment": value})
        check(response, lang)
        if value not in ("", " ", "\x00"):
            assert ("Please choose a score" if lang == "en" else "请选择 1 到 5 分") in response.text
        for field in ("csat", "nps", "REL1"):
            if acceptable(field, value):
                continue
            form = {"csat": "4", "nps": "7", field: value, "comment": value}
            check(client.post(f"/survey/{survey}?lang={lang}", data=form), lang)
    # not a form at all, a form without its fields, bytes that are not UTF-8, a path that is not text
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    for lang in ("en", "zh_CN"):
        check(client.post(f"/feedback/{feedback}?lang={lang}", json={"score": 5}), lang)
        check(client.post(f"/feedback/{feedback}?lang={lang}"), lang)
        check(client.post(f"/survey/{survey}?lang={lang}"), lang)
        check(client.post(f"/feedback/{feedback}?lang={lang}", content=b"score=%FF%FE&comment=%ED%A0%80",
                          headers=form_type), lang)
        check(client.post(f"/survey/{survey}?lang={lang}", content=b"csat=%FF&nps=%00&%FF=1", headers=form_type),
              lang)
        check(client.get(f"/feedback/%ED%A0%80%00?lang={lang}"), lang)
        check(client.get(f"/survey/{'x' * 5000}?lang={lang}"), lang)
    # the link is still good for a real answer (odd values used nothing up)
    assert client.post(f"/feedback/{feedback}", data={"score": "５", "comment": "全角数字"}).status_code == 200
    assert client.post(f"/survey/{survey}", data={"csat": "5", "nps": "10"}).status_code == 200


# -- 11: security headers on every response; a health check that checks ----------------------------------


def test_every_response_carries_the_security_headers_and_healthz_checks_the_database(web_settings, tmp_path):
    from sqms.web.security import CONTENT_SECURITY_POLICY

    with TestClient(create_app(lambda: web_settings)) as client:
        for path in ("/", "/healthz", "/feedback/unknown", "/survey/unknown/opt-out", "/no-such-page"):
            response = client.get(path)
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "no-referrer"
        assert client.get("/healthz").json() == {"ok": True, "database": "ok"}

    if web_settings.database_url.startswith("sqlite"):  # the database file is damaged
        broken = tmp_path / "broken.db"
        broken.write_bytes(b"this is not a database" * 400)
        down = web_settings.model_copy(update={"database_url": f"sqlite:///{broken}"})
    else:  # the server answers, the database is gone
        down = web_settings.model_copy(update={"database_url": web_settings.database_url.rsplit("/", 1)[0]
                                               + "/sqms_no_such_database"})
    with TestClient(create_app(lambda: down)) as client:
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["ok"] is False
        assert health.headers["X-Frame-Options"] == "DENY"
        form = client.get("/feedback/some-token?lang=en")  # a customer meanwhile: told to come back
        assert form.status_code == 503 and "your link is still valid" in form.text
        assert form.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_forms_run_under_the_policy_in_chromium(web_settings, smtp_server, browser, tmp_path):
    """No inline script, style or form target refused by the CSP in a real browser."""
    import uvicorn

    from tests.smtp import free_port

    settings = web_settings
    resolved_complaints(settings)
    invited(settings)
    deliver_pending(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(lambda: settings), host="127.0.0.1", port=port,
                                          log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    page = browser.new_page()
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        while not server.started:
            thread.join(0.05)
        base = f"http://127.0.0.1:{port}"
        page.goto(f"{base}/survey/{links(smtp_server, 'survey')[0]}")
        page.check("input[name=csat][value='4']", force=True)
        page.check("input[name=nps][value='9']", force=True)
        page.click("#submit")
        page.wait_for_selector("#thanks")
        page.goto(f"{base}/feedback/{links(smtp_server, 'feedback')[0]}?lang=en")
        page.click("#submit")
        page.wait_for_selector("#score-error")
    finally:
        page.close()
        server.should_exit = True
        thread.join(10)
    assert refused == []


# -- 7: the database holds no usable link ------------------------------------------------------------------


def database_text(url: str, raw: bool = True) -> str:
    """Everything the database holds, as text: every row of every table (and, for SQLite with `raw`,
    the bytes of the file and its write-ahead log, deleted rows included)."""
    from pathlib import Path

    from sqlalchemy import text

    from sqms.db import get_engine

    engine = get_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sqlite = conn.connection.dbapi_connection
            dump = "\n".join(sqlite.iterdump())
            path = Path(engine.url.database)
            files = [p for p in (path, Path(f"{path}-wal")) if raw and p.exists()]
            return dump + "".join(p.read_bytes().decode("latin-1") for p in files)
        tables = conn.execute(text("select tablename from pg_tables where schemaname = 'public'")).scalars().all()
        return "\n".join(str(row[0]) for t in tables for row in conn.execute(text(f'select r::text from "{t}" r')))


def test_the_database_holds_no_usable_link(web_settings, smtp_server, client):
    from sqms.notify.models import OutboxMessage

    settings = web_settings
    resolved_complaints(settings, 3)
    invited(settings)
    with UnitOfWork(settings.database_url) as uow:  # reading the outbox through SQMS opens the seal
        queued = [m.body_text for m in uow.session.scalars(select(OutboxMessage))]
    assert len(queued) == 6 and all(f"{BASE}/" in body for body in queued)
    pending_dump = database_text(settings.database_url)

    assert deliver_pending(settings).sent == 6
    tokens = links(smtp_server, "feedback") + links(smtp_server, "survey")
    assert len(tokens) == 6
    sent_dump = database_text(settings.database_url)
    for token in tokens:
        assert token not in pending_dump and token not in sent_dump
    with UnitOfWork(settings.database_url) as uow:
        assert {(m.status, m.body_text, m.body_html) for m in uow.session.scalars(select(OutboxMessage))} == {
            ("sent", "", "")}  # sent: nothing kept
    assert client.get(f"/survey/{tokens[-1]}").status_code == 200  # the mailed links work


def test_a_sealed_mail_is_not_sent_with_another_key(web_settings, smtp_server, monkeypatch):
    from sqms.notify.models import OutboxMessage

    settings = web_settings
    resolved_complaints(settings)
    monkeypatch.setenv("SQMS_SECRET_KEY", "a-key-this-installation-never-had")
    report = deliver_pending(settings)
    assert (report.sent, report.failed) == (0, 1) and "SQMS_SECRET_KEY" in report.errors[0]
    monkeypatch.undo()
    with UnitOfWork(settings.database_url) as uow:
        [message] = uow.session.scalars(select(OutboxMessage)).all()
        assert message.status == "pending"
    assert deliver_pending(settings).sent == 1 and smtp_server.messages


def test_upgrading_seals_the_links_an_older_outbox_kept_in_clear(tmp_path, smtp_server):
    """A database of 0008 with feedback mails in clear (one sent, one pending): after `sqms init`
    (the migration) neither link is in the database, and the pending one is still delivered."""
    from alembic import command
    from sqlalchemy import text

    from sqms.db import alembic_config, get_engine, migrate

    url = f"sqlite:///{tmp_path}/old.db"
    command.upgrade(alembic_config(url), "0008")
    with get_engine(url).begin() as conn:
        for i, status in enumerate(("sent", "pending")):
            conn.execute(text(
                "INSERT INTO outbox (key, process, object, period, recipient, recipient_name, subject, body_text,"
                " body_html, attachments, extra_headers, status, attempts, created_at, updated_at)"
                " VALUES (:key, 'complaints', :obj, 'return-visit', 'c@example.net', '', '回访', :body, :html,"
                " '[]', '{}', :status, 0, '2026-11-01 00:00:00.000000', '2026-11-01 00:00:00.000000')"),
                {"key": f"k{i}", "obj": f"feedback:CP-{i}", "body": f"请评价 {BASE}/feedback/OLDTOKEN{i}",
                 "html": f'<a href="{BASE}/feedback/OLDTOKEN{i}">评价</a>', "status": status})
    migrate(url)
    # (the file's free pages may keep old bytes until a VACUUM; no row holds the link any more)
    assert "OLDTOKEN" not in database_text(url, raw=False)
    settings = make_settings(url, tmp_path, smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port))
    assert deliver_pending(settings).sent == 1
    assert f"{BASE}/feedback/OLDTOKEN1" in smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "OLDTOKEN" not in database_text(url, raw=False)
