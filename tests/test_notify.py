"""The outbox against a real SMTP server (aiosmtpd) and the .eml transport; both databases."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sqms.config import SmtpSettings
from sqms.db import UnitOfWork
from sqms.notify.messages import header_safe
from sqms.notify.models import OutboxMessage
from sqms.notify.service import Email, deliver_pending, enqueue
from tests.conftest import ROOT, make_settings


def _queue(settings, recipients, *, subject="服务质量月报 2026-10", attachments=()):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        for r in recipients:
            enqueue(uow.session, process="monthly-report", obj="report", period="2026-10", email=Email(
                recipient=r, recipient_name="王芳", subject=subject, body_text="正文 <b>不是 HTML</b>",
                body_html="<p>正文</p>", attachments=attachments))
        uow.commit()


def _count(settings, status):
    with UnitOfWork(settings.database_url) as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == status))


def test_smtp_delivery_is_exactly_once_across_outage(db_url, tmp_path, smtp_server):
    settings = make_settings(db_url, tmp_path, smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port))
    attachment = tmp_path / "报告.xlsx"
    attachment.write_bytes(b"PK\x03\x04 fake xlsx")
    recipients = ["a@example.com", "b@example.com", "c@example.com"]

    smtp_server.stop()  # outage: everything stays pending, with the error recorded
    _queue(settings, recipients, attachments=[attachment])
    report = deliver_pending(settings)
    assert (report.sent, report.ok) == (0, False)
    assert _count(settings, "pending") == 3
    with UnitOfWork(settings.database_url) as uow:
        row = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        assert row.attempts == 1 and "Connection" in (row.last_error or "")

    smtp_server.start()
    _queue(settings, recipients, attachments=[attachment])  # a rerun queues the same keys again
    report = deliver_pending(settings)
    assert (report.sent, report.failed) == (3, 0)
    _queue(settings, recipients, attachments=[attachment])  # and once more after they were sent
    assert deliver_pending(settings).sent == 0

    assert sorted(smtp_server.recipients()) == recipients
    message = smtp_server.messages[0]
    assert message["Subject"] == "服务质量月报 2026-10"
    assert message.get_content_type() == "multipart/mixed"
    body = message.get_body(preferencelist=("plain",))
    assert "<b>不是 HTML</b>" in body.get_content()
    assert message.get_body(preferencelist=("html",)).get_content().strip() == "<p>正文</p>"
    files = [part.get_filename() for part in message.iter_attachments()]
    assert files == ["报告.xlsx"]
    assert "王芳" in str(message["To"])
    assert message["Message-ID"]


def test_header_injection_is_neutralised(sqlite_settings, tmp_path):
    _queue(sqlite_settings, ["x@example.com"], subject="月报\r\nBcc: victim@example.com")
    assert deliver_pending(sqlite_settings).sent == 1
    [eml] = list(Path(sqlite_settings.outbox_dir).glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Bcc"] is None
    assert message["Subject"] == "月报 Bcc: victim@example.com"
    assert header_safe("a\nb\u2028c") == "a b c"


def test_eml_files_when_no_smtp_host(sqlite_settings):
    _queue(sqlite_settings, ["a@example.com", "b@example.com"])
    assert deliver_pending(sqlite_settings).sent == 2
    _queue(sqlite_settings, ["a@example.com", "b@example.com"])
    assert deliver_pending(sqlite_settings).sent == 0
    files = sorted(Path(sqlite_settings.outbox_dir).glob("*.eml"))
    assert len(files) == 2
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["X-SQMS-Key"].startswith("monthly-report:report:2026-10:")


def test_pending_message_is_refreshed_sent_one_is_not(sqlite_settings):
    _queue(sqlite_settings, ["a@example.com"], subject="v1")
    _queue(sqlite_settings, ["a@example.com"], subject="v2")
    with UnitOfWork(sqlite_settings.database_url) as uow:
        assert [m.subject for m in uow.session.scalars(select(OutboxMessage))] == ["v2"]
    deliver_pending(sqlite_settings)
    _queue(sqlite_settings, ["a@example.com"], subject="v3")
    with UnitOfWork(sqlite_settings.database_url) as uow:
        [m] = uow.session.scalars(select(OutboxMessage)).all()
        assert (m.subject, m.status) == ("v2", "sent")


def test_refused_recipient_fails_for_good_others_go(sqlite_settings, tmp_path, smtp_server):
    import smtplib

    class Refusing:
        name = "smtp"

        def __init__(self):
            self.sent = []

        def send(self, mime):
            if "bad@" in str(mime["To"]):
                raise smtplib.SMTPRecipientsRefused({"bad@example.com": (550, b"no such user")})
            self.sent.append(str(mime["To"]))

        def close(self):
            pass

    _queue(sqlite_settings, ["bad@example.com", "good@example.com"])
    transport = Refusing()
    report = deliver_pending(sqlite_settings, transport=transport)
    assert (report.sent, report.failed) == (1, 1)
    assert _count(sqlite_settings, "failed") == 1
    assert deliver_pending(sqlite_settings, transport=transport).sent == 0


def test_smtp_user_without_password_is_one_clear_error_and_mails_stay_pending(sqlite_settings, tmp_path,
                                                                           smtp_server):
    """Issue 19.30: it used to fail inside yagmail with `NameError: keyring is not imported`."""
    settings = make_settings(sqlite_settings.database_url, tmp_path,
                             smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port, user="sqms@example.com"))
    _queue(settings, ["a@example.com", "b@example.com"])
    report = deliver_pending(settings)
    assert (report.sent, report.failed) == (0, 1)  # the first one tells; the rest wait without trying
    assert report.errors == ["a@example.com: SmtpConfigError: smtp.user is 'sqms@example.com' but no password "
                             "is set: set SQMS_SMTP__PASSWORD in the environment (or remove smtp.user to send "
                             "without login)"]
    assert _count(settings, "pending") == 2 and smtp_server.messages == []


def test_flood_guard_holds_the_excess_and_says_so(sqlite_settings, tmp_path, smtp_server):
    """Issue 19.6: a bug or an import must not send one person thousands of mails in a run."""
    from typer.testing import CliRunner

    from sqms.cli import app
    from sqms.config import OutboxSettings

    settings = make_settings(sqlite_settings.database_url, tmp_path,
                             smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port),
                             outbox=OutboxSettings(max_per_recipient_per_run=3))
    with UnitOfWork(settings.database_url, actor="test") as uow:
        for i in range(10):
            enqueue(uow.session, process="complaints", obj=f"special:K{i}", period="notice", email=Email(
                recipient="zhang.wei@example.com", subject=f"[重大投诉] K{i}", body_text="x", body_html="<p>x</p>"))
        uow.commit()
    _queue(settings, ["other@example.com"])
    report = deliver_pending(settings)
    assert report.held == {"zhang.wei@example.com": 7}
    admins = sorted(a.email for a in settings.admins())
    got = sorted((m["To"].addresses[0].addr_spec, str(m["Subject"])) for m in smtp_server.messages)
    assert [s for r, s in got if r == "zhang.wei@example.com" and s.startswith("[重大投诉]")] == [
        "[重大投诉] K0", "[重大投诉] K1", "[重大投诉] K2"]
    told = sorted(r for r, s in got if s.startswith("[SQMS 邮件保护]"))
    assert told == sorted({"zhang.wei@example.com", *admins})
    notice = next(m for m in smtp_server.messages if str(m["Subject"]).startswith("[SQMS 邮件保护]"))
    assert "7 封" in str(notice["Subject"])
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "- [重大投诉] K3\n- [重大投诉] K4\n" in text and "sqms outbox release --recipient zhang.wei@example.com" in text
    assert ("other@example.com", "服务质量月报 2026-10") in got
    assert _count(settings, "held") == 7 and _count(settings, "pending") == 0

    # the next run sends nothing more of it; a person releases them explicitly
    before = len(smtp_server.messages)
    assert deliver_pending(settings).sent == 0 and len(smtp_server.messages) == before
    env = {"SQMS_CONFIG": str(ROOT / "config" / "sqms.yaml"), "SQMS_DATABASE_URL": settings.database_url,
           "SQMS_SMTP__HOST": smtp_server.host, "SQMS_SMTP__PORT": str(smtp_server.port),
           "SQMS_OUTBOX__MAX_PER_RECIPIENT_PER_RUN": "3", "SQMS_OUTBOX_DIR": str(tmp_path / "outbox")}
    from sqms.config import get_settings

    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        get_settings.cache_clear()
        listed = CliRunner().invoke(app, ["outbox", "list", "--status", "held"])
        assert len(listed.output.strip().splitlines()) == 7 and "[重大投诉] K9" in listed.output
        released = CliRunner().invoke(app, ["outbox", "release", "--recipient", "Zhang.Wei@example.com"])
        get_settings.cache_clear()
    assert released.exit_code == 0, released.output
    assert "released 7, sent 7" in released.output
    assert _count(settings, "held") == 0 and len(smtp_server.messages) == before + 7
