"""Assignment is news: a new corrective action is mailed to its owner at once, through the outbox,
one mail per assignment whatever reruns happen; a new owner gets their own (issue 19 item 20)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from sqms.actions.service import NewAction, Update, get, open_action, record
from sqms.calendar import utcnow
from sqms.cli import app
from sqms.complaints.models import Complaint
from sqms.complaints.service import open_repeat_category_actions
from sqms.config import SmtpSettings
from sqms.db import UnitOfWork
from sqms.improvement.models import ImprovementCycle
from sqms.improvement.service import plan
from sqms.notify.models import OutboxMessage
from sqms.notify.service import deliver_pending
from tests.conftest import make_settings
from tests.factories import TZ

CS_MANAGER, OPS_MANAGER, AUDITOR = "wang.fang@example.com", "liu.yang@example.com", "zheng.yu@example.com"


def assignment_mails(settings) -> list[OutboxMessage]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.object.like("assigned:%"))
                                        .order_by(OutboxMessage.id)))


def test_a_new_action_reaches_its_owner_at_once_over_smtp(org, tmp_path, smtp_server):
    settings = make_settings(org.database_url, tmp_path,
                             smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port))
    with UnitOfWork(settings.database_url, actor="test") as uow:
        action = open_action(uow.session, settings, NewAction(
            source="manual", type="corrective", title="客服话术培训", department="CS", problem="同类投诉 3 件",
            due_on=date(2026, 12, 18)))
        ref = action.ref
        uow.commit()
    assert deliver_pending(settings).sent == 1
    [mail] = smtp_server.messages
    assert mail["To"].addresses[0].addr_spec == CS_MANAGER
    assert ref in str(mail["Subject"]) and "客服话术培训" in str(mail["Subject"])
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "2026-12-18" in text and "同类投诉 3 件" in text and "根本原因" in text
    assert "<strong>" in mail.get_body(preferencelist=("html",)).get_content()

    # a new owner is told too; recording the same owner again sends nothing
    with UnitOfWork(settings.database_url, actor="test") as uow:
        action = get(uow.session, ref)
        assert record(uow.session, settings, action, Update(owner=AUDITOR)) == {"owner": AUDITOR}
        assert record(uow.session, settings, action, Update(owner=AUDITOR)) == {}
        uow.commit()
    assert deliver_pending(settings).sent == 1
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == [CS_MANAGER, AUDITOR]
    assert deliver_pending(settings).sent == 0


def test_every_origin_mails_the_owner_once(org):
    now = utcnow()
    with UnitOfWork(org.database_url, actor="test") as uow:
        # repeated complaints of a category in a month
        start = now - timedelta(hours=6)
        period = f"{start.astimezone(TZ):%Y-%m}"
        for i in range(3):
            uow.session.add(Complaint(complaint_id=f"K{i}", received_at=start + timedelta(minutes=i), department="OPS",
                                      channel="phone", severity="normal", category="排队", status="registered",
                                      deadline_at=now + timedelta(days=3), reopen_count=0))
        uow.session.flush()
        [repeat] = open_repeat_category_actions(uow.session, org, period)
        assert open_repeat_category_actions(uow.session, org, period) == []  # a rerun links, opens nothing
        # a PDCA cycle's action
        cycle = ImprovementCycle(department="CS", kpi="fcr_pct", status="plan", iteration=1, owner=CS_MANAGER,
                                 opened_period=period, reason="x", baseline=60.0, target=75.0, history=[],
                                 created_at=now)
        uow.session.add(cycle)
        uow.session.flush()
        pdca = plan(uow.session, org, cycle, root_cause="排班", action_title="按话务量排班")
        uow.commit()
        refs = {repeat.ref: OPS_MANAGER, pdca.ref: CS_MANAGER}
    mails = assignment_mails(org)
    assert sorted((m.object, m.recipient) for m in mails) == sorted(
        (f"assigned:{ref}", owner) for ref, owner in refs.items())
    assert all(m.status == "pending" for m in mails)


def test_cli_open_queues_the_owner_mail(sqms_env, sqlite_url):
    settings = sqms_env(sqlite_url)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["action", "open", "--title", "排班整改", "--department", "OPS",
                                 "--due", (datetime.now(TZ).date() + timedelta(days=30)).isoformat()])
    assert result.exit_code == 0, result.output
    [mail] = assignment_mails(settings)
    assert mail.recipient == OPS_MANAGER and "排班整改" in mail.subject and "CAPA-00001" in mail.subject


def test_an_audit_nonconformity_mails_the_department_manager(org):
    from sqms.audits.service import FindingIn, open_cycle, record_findings, slot_of

    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, org, today=date(2026, 6, 1))
        slot = slot_of(uow.session, cycle, "OPS")
        on_the_day = datetime.combine(slot.day, datetime.min.time(), tzinfo=TZ).replace(hour=16)
        [row] = record_findings(uow.session, org, cycle, slot, [FindingIn(slot.items[0]["code"], "minor", "缺签字")],
                                actor=slot.auditor, now=on_the_day)
        record_findings(uow.session, org, cycle, slot, [FindingIn(slot.items[0]["code"], "minor", "缺签字")],
                        actor=slot.auditor, now=on_the_day)  # corrected again: the same action, no new mail
        ref = f"CAPA-{row.action_id:05d}"
        uow.commit()
    assert [(m.object, m.recipient) for m in assignment_mails(org)] == [(f"assigned:{ref}", OPS_MANAGER)]
