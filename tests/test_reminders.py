"""The reminder engine with the clock set to chosen days of the 2026 calendar (国庆 1–7 Oct off,
Saturday 10 Oct worked): due-soon, due-today, overdue, escalation at +1 and +3 working days,
one digest per person and day, nothing twice, nothing on non-working days."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sqms.actions.service import NewAction, advance, get, open_action, record, Update
from sqms.config import SmtpSettings
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.notify.service import deliver_pending
from sqms.org.service import sync_organisation
from sqms.reminders.service import DueItem, late_working_days, plan, send_reminders
from sqms.reminders.weekly import send_weekly_digest
from tests.conftest import make_settings

TZ = ZoneInfo("Asia/Shanghai")
OWNER, OPS_MANAGER, QUALITY = "zheng.yu@example.com", "liu.yang@example.com", "li.na@example.com"


def item(due: date, owner=OWNER, ident="A1", department="OPS") -> DueItem:
    return DueItem("action", ident, "整改", owner, department, datetime(due.year, due.month, due.day, 23, 59, 59,
                                                                        tzinfo=TZ))


@pytest.mark.parametrize("today, expected", [
    (date(2026, 10, 9), []),                                             # 3 working days ahead: 10, 12, 13
    (date(2026, 10, 10), [("due-in-2", OWNER)]),                         # make-up Saturday counts
    (date(2026, 10, 12), []),                                            # 1 ahead: not an offset
    (date(2026, 10, 13), [("due-today", OWNER)]),
    (date(2026, 10, 14), [("overdue", OWNER)]),                          # late, not yet a full day
    (date(2026, 10, 15), [("escalated-1", OPS_MANAGER), ("overdue", OWNER)]),
    (date(2026, 10, 16), [("escalated-1", OPS_MANAGER), ("overdue", OWNER)]),
    (date(2026, 10, 19), [("escalated-1", OPS_MANAGER), ("escalated-3", QUALITY), ("overdue", OWNER)]),
])
def test_plan_by_day(settings_only, today, expected):
    planned = plan([item(date(2026, 10, 13))], settings_only, today)
    assert sorted((r.stage, r.recipient) for r in planned) == sorted(expected)


def test_late_working_days_over_the_national_day_holiday():
    assert late_working_days(date(2026, 9, 30), date(2026, 10, 8)) == 0   # 1–7 Oct are holidays
    assert late_working_days(date(2026, 9, 30), date(2026, 10, 9)) == 1
    assert late_working_days(date(2026, 9, 30), date(2026, 10, 11)) == 3  # 8, 9, 10 (Sat, worked); Sun is off
    assert late_working_days(date(2026, 10, 13), date(2026, 10, 13)) == 0


def test_no_escalation_to_the_owner_and_no_owner_goes_to_quality(settings_only):
    planned = plan([item(date(2026, 10, 13), owner=OPS_MANAGER), item(date(2026, 10, 13), owner=None, ident="A2")],
                   settings_only, date(2026, 10, 19))
    got = sorted((r.item.item_id, r.stage, r.recipient) for r in planned)
    assert got == [("A1", "escalated-3", QUALITY), ("A1", "overdue", OPS_MANAGER), ("A2", "escalated-1", OPS_MANAGER),
                   ("A2", "overdue", QUALITY)]


@pytest.fixture
def settings_only(tmp_path):
    return make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path)


# -- against the database and a real SMTP server ------------------------------------------------


def run(settings, day: date):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        result = send_reminders(uow.session, settings, today=day,
                                now=datetime(day.year, day.month, day.day, 9, tzinfo=TZ))
        uow.commit()
    return result


def test_digests_by_day_on_both_databases(settings, tmp_path, smtp_server):
    settings = make_settings(settings.database_url, tmp_path,
                             smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port))
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        for title in ("排班整改", "话术培训"):  # two items of one owner: one digest
            open_action(uow.session, settings, NewAction(source="manual", type="corrective", title=title,
                                                         department="OPS", owner=OWNER,
                                                         due_on=date(2026, 10, 13)),
                        now=datetime(2026, 9, 20, 9, tzinfo=TZ))
        uow.commit()

    assert run(settings, date(2026, 10, 1)).skipped == "not a working day"   # 国庆
    assert run(settings, date(2026, 10, 11)).skipped == "not a working day"  # Sunday
    first = run(settings, date(2026, 10, 10))                                 # make-up Saturday
    assert (first.digests, first.new, first.by_recipient) == (1, 2, {OWNER: 2})
    again = run(settings, date(2026, 10, 10))
    assert (again.digests, again.new, again.planned) == (0, 0, 2)              # a rerun adds nothing
    for day in (date(2026, 10, 13), date(2026, 10, 14), date(2026, 10, 15), date(2026, 10, 19)):
        run(settings, day)
        run(settings, day)
    # the owner: due-in-2 (10 Oct), due-today (13), overdue (14); then one escalation each
    assert deliver_pending(settings, process="reminders").sent == 5  # (the owner's assignment mails aside)
    mails = [(m["To"].addresses[0].addr_spec, m["Subject"]) for m in smtp_server.messages]
    assert sorted(to for to, _ in mails) == sorted([OWNER] * 3 + [OPS_MANAGER, QUALITY])
    escalation = next(m for m in smtp_server.messages if QUALITY in str(m["To"]))
    text = escalation.get_body(preferencelist=("plain",)).get_content()
    assert "超期升级" in text and "排班整改" in text and "话术培训" in text and "已超期 3 个工作日" in text
    assert "[SQMS 待办提醒] 2026-10-19" in escalation["Subject"]

    # done: no more reminders for it; its verification is chased instead (verifier named or QM)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        for ident in (1, 2):
            action = get(uow.session, ident)
            record(uow.session, settings, action, Update(root_cause="排班规则"))
            advance(uow.session, settings, action, "complete", at=datetime(2026, 10, 20, 10, tzinfo=TZ))
        uow.commit()
    assert run(settings, date(2026, 10, 21)).new == 0
    due_day = run(settings, date(2026, 11, 19))  # verification due 30 days after done
    assert due_day.by_recipient == {QUALITY: 2}


def test_weekly_digest_once_a_week(settings, tmp_path):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        open_action(uow.session, settings, NewAction(source="manual", type="corrective", title="旧整改",
                                                     department="SALES", due_on=date(2026, 9, 1)),
                    now=datetime(2026, 8, 20, 9, tzinfo=TZ))
        uow.commit()

    def weekly(day):
        with UnitOfWork(settings.database_url, actor="test") as uow:
            result = send_weekly_digest(uow.session, settings, today=day,
                                        now=datetime(day.year, day.month, day.day, 9, tzinfo=TZ))
            uow.commit()
        return result

    assert weekly(date(2026, 10, 5)).skipped == "not a working day"  # Monday in the holiday week
    first = weekly(date(2026, 10, 8))                                 # its first working day
    assert (first.week, first.queued) == ("2026-W41", 1)
    with UnitOfWork(settings.database_url) as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.process == "weekly-digest")))
    assert [r.recipient for r in rows] == [QUALITY]
    assert "超期 1 项" in rows[0].subject and "陈杰" in rows[0].body_text and ">10：1 项" in rows[0].body_text
    deliver_pending(settings)
    assert weekly(date(2026, 10, 9)).queued == 0  # the same week: already sent
    assert weekly(date(2026, 10, 12)).queued == 1  # next week


def test_a_digest_over_a_large_backlog_stays_readable(settings, tmp_path, smtp_server):
    """3,000 late items for the quality manager: one mail that lists the most urgent (config limit),
    counts the rest by stage and department, and stays far below 1 MB; every item still in the ledger."""
    settings = make_settings(settings.database_url, tmp_path, smtp=SmtpSettings(host=smtp_server.host,
                                                                                port=smtp_server.port),
                             reminders={"digest_items": 20})
    day = date(2026, 10, 19)
    departments = ["OPS", "CS", "SALES"]
    items = [DueItem("complaint", f"CP{i:05d}", "客户投诉", None, departments[i % 3],
                     datetime(2026, 10, 9 if i % 10 == 0 else 14, 23, 59, 59, tzinfo=TZ)) for i in range(3000)]
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        result = send_reminders(uow.session, settings, today=day, now=datetime(2026, 10, 19, 9, tzinfo=TZ),
                                sources=[lambda *_: items])
        uow.commit()
    assert result.by_recipient[QUALITY] == 3000  # (the department managers get their own thousand each)
    assert deliver_pending(settings, process="reminders").sent == 4
    [mail] = [m for m in smtp_server.messages if QUALITY in str(m["To"])]
    assert len(mail.as_bytes()) < 100_000
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "共 3000 项，下面列出最紧急的 20 项" in text
    listed = [line for line in text.splitlines() if line.startswith("- 投诉")]
    assert len(listed) == 20
    # the most urgent first: the items due on 9 Oct (6 working days late) before those due on 14 Oct
    assert all(f"CP{i:05d}" in text for i in range(0, 200, 10))
    assert "OPS：1000" in text and "CS：1000" in text and "SALES：1000" in text
    with UnitOfWork(settings.database_url, actor="test") as uow:
        again = send_reminders(uow.session, settings, today=day, now=datetime(2026, 10, 19, 9, tzinfo=TZ),
                               sources=[lambda *_: items])
    assert again.new == 0  # every item, listed or counted, is in the ledger
