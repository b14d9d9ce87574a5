"""Complaint mails that must go out at once and say what matters: the special-complaint notice says
when the complaint is already overdue and by how much (issue 19 item 22); a complaint reopened by a
low return-visit score is mailed to its handler (item 21)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqms.calendar import utcnow
from sqms.complaints.service import Step, advance, overdue_by, register
from sqms.config import SmtpSettings
from sqms.db import UnitOfWork
from sqms.notify.service import deliver_pending
from tests.conftest import make_settings
from tests.factories import TZ

GM = "zhou.min@example.com"


def smtp_settings(settings, tmp_path, smtp_server):
    return make_settings(settings.database_url, tmp_path,
                         smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port))


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_overdue_by_in_working_days_and_hours(org):
    with UnitOfWork(org.database_url, actor="test") as uow:
        received = datetime(2026, 10, 9, 10, tzinfo=TZ)  # Friday; 5 working days: 10 (make-up Sat), 12–15 Oct
        c = register(uow.session, org, received_at=received, department="CS", channel="phone", severity="special",
                     category="服务态度")
        assert c.deadline_at.astimezone(TZ) == datetime(2026, 10, 15, 23, 59, 59, tzinfo=TZ)
        assert overdue_by(c, org, datetime(2026, 10, 15, 20, tzinfo=TZ)) is None
        assert overdue_by(c, org, datetime(2026, 10, 16, 9, 30, tzinfo=TZ)) == "已超期 9 小时"
        assert overdue_by(c, org, datetime(2026, 10, 19, 9, tzinfo=TZ)) == "已超期 1 个工作日"  # Friday 16th
        assert overdue_by(c, org, datetime(2026, 10, 22, 9, tzinfo=TZ)) == "已超期 4 个工作日"


def test_special_notice_of_a_late_registered_complaint_says_it_is_overdue(org, tmp_path, smtp_server):
    settings = smtp_settings(org, tmp_path, smtp_server)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        register(uow.session, settings, received_at=utcnow() - timedelta(days=30), department="CS",
                 channel="phone", severity="special", category="服务态度", description="上月电话投诉，补登")
        register(uow.session, settings, received_at=utcnow() - timedelta(minutes=5), department="OPS",
                 channel="phone", severity="special", category="收费")
        uow.commit()
    assert deliver_pending(settings).sent == 2
    late = next(m for m in smtp_server.messages if "补登" in text_of(m))
    fresh = next(m for m in smtp_server.messages if "补登" not in text_of(m))
    assert "已超期" in str(late["Subject"]) and "个工作日" in str(late["Subject"])
    assert "已超期" in text_of(late) and "尚未办结" in text_of(late)
    html = late.get_body(preferencelist=("html",)).get_content()
    assert "已超期" in html
    assert "已超期" not in str(fresh["Subject"]) and "已超期" not in text_of(fresh)


def test_reopened_by_a_low_score_mails_the_handler(org, tmp_path, smtp_server):
    settings = smtp_settings(org, tmp_path, smtp_server)
    handler = "zheng.yu@example.com"
    with UnitOfWork(settings.database_url, actor="test") as uow:
        c = register(uow.session, settings, received_at=utcnow() - timedelta(hours=3), department="OPS",
                     channel="phone", severity="normal", category="服务态度", owner=handler)
        for move, step in (("acknowledge", None), ("investigate", None), ("propose", Step(solution="道歉并退费")),
                           ("resolve", Step(answer="已退费"))):
            advance(uow.session, settings, c, move, step)
        made = advance(uow.session, settings, c, "return_visit", Step(score=1, feedback_comment="没人联系我"))
        assert made == ["return_visit", "reopen"]
        ident = c.complaint_id
        uow.commit()
    deliver_pending(settings)
    to_handler = [m for m in smtp_server.messages if handler in str(m["To"])]
    assert len(to_handler) == 1, [str(m["Subject"]) for m in smtp_server.messages]
    mail = to_handler[0]
    assert ident in str(mail["Subject"]) and "重新打开" in str(mail["Subject"])
    body = text_of(mail)
    assert "1" in body and "没人联系我" in body and ident in body
    # a rerun of the same reopen (or another step) does not mail the handler again for it
    with UnitOfWork(settings.database_url, actor="test") as uow:
        from sqms.complaints.service import get, queue_reopen_notice
        assert queue_reopen_notice(uow.session, settings, get(uow.session, ident)) == 0
        uow.commit()
