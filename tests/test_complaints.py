"""The complaint lifecycle: every legal and illegal move, audit, GM notice, import, repeated categories."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from sqms.actions.models import Action
from sqms.audit_trail import AuditEntry
from sqms.complaints.models import STATES, Complaint
from sqms.complaints.service import (LIFECYCLE, ComplaintError, Step, advance, get, open_repeat_category_actions,
                                     queue_special_notices, register)
from sqms.db import UnitOfWork
from sqms.importers import spec_for
from sqms.ingest import import_file
from sqms.notify.models import OutboxMessage
from sqms.notify.service import deliver_pending
from sqms.statemachine import IllegalTransition
from tests.conftest import make_settings

TZ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def at(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def end_of(y, m, d) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=TZ).astimezone(UTC)


def new(settings, severity="normal", received=None, **kw):
    with UnitOfWork(settings.database_url, actor="li.na") as uow:
        c = register(uow.session, settings, received_at=received or at(2026, 9, 30), department=kw.pop("dept", "CS"),
                     channel="phone", severity=severity, category=kw.pop("category", "服务态度"),
                     description=kw.pop("description", "客服态度差"), customer_id=kw.pop("customer_id", "C1"), **kw)
        uow.commit()
        return c.complaint_id


def step(settings, ident, action, actor="wang.fang", **kw):
    with UnitOfWork(settings.database_url, actor=actor) as uow:
        made = advance(uow.session, settings, get(uow.session, ident), action, Step(**kw), comment=f"{action} done")
        uow.commit()
        return made


def status(settings, ident) -> Complaint:
    with UnitOfWork(settings.database_url) as uow:
        return get(uow.session, ident)


def outbox(settings, process="complaints") -> list[OutboxMessage]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.process == process)))


# -- the lifecycle ------------------------------------------------------------------------


def test_normal_complaint_through_every_step(org):
    ident = new(org)
    c = status(org, ident)
    assert c.status == "registered"
    assert c.deadline_at == end_of(2026, 10, 9)  # 国庆 1–7 Oct: Thu 8 Oct and Fri 9 Oct are the 2 working days
    assert c.first_contact_due_at == at(2026, 10, 1).astimezone(UTC)
    for action, kw in [("acknowledge", {}), ("investigate", {}), ("propose", {"solution": "致歉并补偿"}),
                       ("resolve", {"answer": "已电话致歉"}), ("return_visit", {"score": 5}), ("close", {})]:
        assert step(org, ident, action, **kw) == [action]
    c = status(org, ident)
    assert c.status == "closed" and c.resolved_at and c.closed_at and c.responded_at
    assert (c.solution, c.answer, c.feedback_score) == ("致歉并补偿", "已电话致歉", 5)
    with UnitOfWork(org.database_url) as uow:
        trail = list(uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "complaint",
                                                                  AuditEntry.entity_id == ident)
                                         .order_by(AuditEntry.id)))
    assert [e.action for e in trail] == ["create"] + [f"transition:{a}" for a in (
        "acknowledge", "investigate", "propose", "resolve", "return_visit", "close")]
    assert trail[0].actor == "li.na" and all(e.actor == "wang.fang" for e in trail[1:])
    assert trail[3].comment == "propose done" and trail[3].after["solution"] == "致歉并补偿"
    assert trail[4].before == {"status": "solution_proposed"} and trail[4].after["status"] == "resolved"


def test_special_complaint_needs_the_department_managers_approval(org):
    ident = new(org, severity="special")
    assert status(org, ident).deadline_at == end_of(2026, 10, 13)  # 8, 9, 10 (make-up Sat), 12, 13
    for action, kw in [("acknowledge", {}), ("investigate", {}), ("propose", {"solution": "更换客服并补偿"})]:
        step(org, ident, action, **kw)
    with pytest.raises(IllegalTransition, match="needs the department manager's approval"):
        step(org, ident, "resolve", answer="已答复")
    with pytest.raises(ComplaintError, match="name the approving manager"):
        step(org, ident, "approve")
    with pytest.raises(ComplaintError, match="li.na@example.com is not the manager of CS"):
        step(org, ident, "approve", approver="li.na@example.com")
    step(org, ident, "approve", approver="wang.fang@example.com")
    step(org, ident, "resolve", answer="已答复")
    c = status(org, ident)
    assert (c.status, c.approved_by) == ("resolved", "wang.fang@example.com")


def test_a_normal_complaint_is_not_approved(org):
    ident = new(org)
    for action, kw in [("acknowledge", {}), ("investigate", {}), ("propose", {"solution": "x"})]:
        step(org, ident, action, **kw)
    with pytest.raises(IllegalTransition, match="only special complaints need approval"):
        step(org, ident, "approve", approver="wang.fang@example.com")


@pytest.mark.parametrize("state", STATES)
def test_every_illegal_move_is_refused_with_what_is_allowed(state):
    """From every state, each action not listed is refused with a message naming the allowed ones."""
    allowed = set(LIFECYCLE.allowed(state))
    for action in (t.name for t in LIFECYCLE.transitions):
        c = Complaint(complaint_id="X", status=state, severity="special", solution="s", answer="a", feedback_score=4)
        if action in allowed:
            LIFECYCLE.check(c, action, guard=False)
        else:
            with pytest.raises(IllegalTransition, match=f"cannot '{action}' from '{state}'"):
                LIFECYCLE.check(c, action)


def test_missing_data_is_named(org):
    ident = new(org)
    step(org, ident, "acknowledge")
    step(org, ident, "investigate")
    with pytest.raises(IllegalTransition, match="the solution"):
        step(org, ident, "propose")
    step(org, ident, "propose", solution="x")
    with pytest.raises(IllegalTransition, match="the answer to the complainant"):
        step(org, ident, "resolve")
    step(org, ident, "resolve", answer="y")
    with pytest.raises(ComplaintError, match="score must be 1 to 5"):
        step(org, ident, "return_visit", score=9)
    assert status(org, ident).status == "resolved"  # nothing half-written


def test_low_return_visit_score_reopens(org):
    ident = new(org)
    for action, kw in [("acknowledge", {}), ("investigate", {}), ("propose", {"solution": "x"}),
                       ("resolve", {"answer": "y"})]:
        step(org, ident, action, **kw)
    assert step(org, ident, "return_visit", score=2, feedback_comment="没解决") == ["return_visit", "reopen"]
    c = status(org, ident)
    assert (c.status, c.resolved_at, c.reopen_count, c.feedback_score) == ("investigating", None, 1, 2)
    step(org, ident, "propose", solution="上门处理")
    step(org, ident, "resolve", answer="已上门")
    step(org, ident, "return_visit", score=4)
    step(org, ident, "close")
    step(org, ident, "reopen")  # a closed complaint can be reopened by hand too
    assert status(org, ident).reopen_count == 2


def test_register_refuses_bad_input(org):
    with pytest.raises(ComplaintError) as info:
        with UnitOfWork(org.database_url) as uow:
            register(uow.session, org, received_at=at(2026, 9, 30), department="XX", channel="fax",
                     severity="urgent", category=" ")
    message = str(info.value)
    for part in ("department: unknown department 'XX'", "channel: 'fax'", "severity: 'urgent'",
                 "category: is required"):
        assert part in message


# -- the general manager hears of special complaints at once -----------------------------


def test_special_complaint_mails_the_general_manager_exactly_once(org, tmp_path, smtp_server):
    settings = make_settings(org.database_url, tmp_path, smtp=type(org.smtp)(host=smtp_server.host,
                                                                              port=smtp_server.port))
    ident = new(settings, severity="special", description="<script>alert(1)</script> 经理态度恶劣")
    new(settings, severity="normal", received=at(2026, 10, 9))
    with UnitOfWork(settings.database_url) as uow:
        assert queue_special_notices(uow.session, settings) == 0  # the hourly watch adds nothing
        uow.commit()
    assert deliver_pending(settings).sent == 1
    assert deliver_pending(settings).sent == 0
    step(settings, ident, "acknowledge")
    with UnitOfWork(settings.database_url) as uow:
        queue_special_notices(uow.session, settings)
        uow.commit()
    assert deliver_pending(settings).sent == 0
    assert smtp_server.recipients() == ["zhang.wei@example.com"]  # the general manager only
    message = smtp_server.messages[0]
    # received 30 Sep, registered now: long past its deadline, which the notice says (item 22)
    assert message["Subject"].startswith("[重大投诉·已超期 ") and f"个工作日] {ident}" in message["Subject"]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "2026-10-13 23:59" in message.get_body(preferencelist=("plain",)).get_content()


# -- import creates and advances --------------------------------------------------------------


HEADER = ["complaint_id", "received_at", "department", "channel", "severity", "category", "customer_id",
          "responded_at", "resolved_at", "description"]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def test_import_creates_and_advances_idempotently(org, tmp_path):
    rows = [["K1", "2026-10-09 09:00", "CS", "phone", "normal", "服务态度", "C1", "", "", "a"],
            ["K2", "2026-10-09 10:00", "OPS", "online", "special", "延误", "C2", "2026-10-09 11:00", "", "b"],
            ["K3", "2026-10-09 11:00", "CS", "email", "normal", "收费", "C3", "2026-10-09 12:00",
             "2026-10-10 09:00", "c"]]
    import_file(org, spec_for("complaints"), write(tmp_path / "k.csv", rows), actor="tester")
    states = {i: status(org, i).status for i in ("K1", "K2", "K3")}
    assert states == {"K1": "registered", "K2": "acknowledged", "K3": "resolved"}
    # K2 is special and open, but weeks old: history, told in one summary, not paged as news
    (summary,) = outbox(org)
    assert summary.recipient == "zhang.wei@example.com" and summary.object.startswith("special-history:")
    assert "K2" in summary.body_text

    def transitions():
        with UnitOfWork(org.database_url) as uow:
            return uow.session.scalar(select(func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.action.like("transition:%")))

    before = transitions()
    import_file(org, spec_for("complaints"), tmp_path / "k.csv", actor="tester")  # the same file again
    assert transitions() == before and len(outbox(org)) == 1

    rows[0][7], rows[0][8] = "2026-10-09 10:00", "2026-10-12 10:00"  # K1 settled meanwhile
    import_file(org, spec_for("complaints"), write(tmp_path / "k2.csv", rows), actor="tester")
    assert status(org, "K1").status == "resolved"
    assert transitions() == before + 1


def resolved_in_sqms(settings, ident) -> None:
    for action, kw in (("acknowledge", {}), ("investigate", {}), ("propose", {"solution": "道歉并退款"}),
                       ("resolve", {"answer": "已退款"})):
        step(settings, ident, action, **kw)


def conflict_entries(settings) -> list[AuditEntry]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "import-conflict")
                                        .order_by(AuditEntry.entity_id, AuditEntry.id)))


def test_reimport_never_undoes_what_was_done_in_sqms(org, tmp_path):
    """Issue 19.1: an older export neither blanks resolved_at nor reopens or re-resolves a complaint."""
    rows = [["K1", "2026-10-09 09:00", "CS", "phone", "normal", "服务态度", "C1", "", "", "a"],
            ["K2", "2026-10-09 10:00", "OPS", "online", "normal", "延误", "C2", "", "", "b"],
            ["K3", "2026-10-09 11:00", "CS", "email", "normal", "收费", "C3", "2026-10-09 12:00",
             "2026-10-10 09:00", "c"]]
    old_export = write(tmp_path / "k.csv", rows)
    import_file(org, spec_for("complaints"), old_export, actor="tester")
    resolved_in_sqms(org, "K1")
    k1 = status(org, "K1")
    assert k1.status == "resolved" and k1.resolved_at and k1.responded_at
    assert step(org, "K3", "return_visit", score=1) == ["return_visit", "reopen"]  # the customer is unhappy
    assert status(org, "K3").resolved_at is None

    result = import_file(org, spec_for("complaints"), old_export, actor="tester")
    after = status(org, "K1")
    assert (after.status, after.resolved_at, after.responded_at) == ("resolved", k1.resolved_at, k1.responded_at)
    k3 = status(org, "K3")
    assert (k3.status, k3.resolved_at) == ("investigating", None)  # stays reopened
    assert {(c.key, c.column) for c in result.conflicts} == {("K1", "responded_at"), ("K1", "resolved_at"),
                                                             ("K3", "resolved_at")}
    assert "3 conflict(s) kept the stored value" in result.summary()
    entries = conflict_entries(org)
    assert [(e.entity, e.entity_id, e.actor) for e in entries] == [("complaint", "K1", "tester")] * 2 + [
        ("complaint", "K3", "tester")]
    k1_resolved = next(e for e in entries if "resolved_at" in e.before and e.entity_id == "K1")
    assert k1_resolved.after == {"resolved_at": None}
    assert k1_resolved.before == {"resolved_at": k1.resolved_at.isoformat()}
    assert "older export" in k1_resolved.comment
    assert entries[-1].after == {"resolved_at": "2026-10-10T01:00:00+00:00"} and "reopened" in entries[-1].comment

    # the same file again reports the conflicts and audits nothing twice
    again = import_file(org, spec_for("complaints"), old_export, actor="tester")
    assert len(again.conflicts) == 3 and len(conflict_entries(org)) == 3

    # a newer export with another resolution time of K1: SQMS's own stands, the difference is audited
    rows[0][7], rows[0][8] = "2026-10-09 09:30", "2026-10-12 10:00"
    newer = import_file(org, spec_for("complaints"), write(tmp_path / "k2.csv", rows), actor="tester")
    assert {(c.key, c.column, c.reason) for c in newer.conflicts} == {
        ("K1", "responded_at", "recorded in SQMS"), ("K1", "resolved_at", "recorded in SQMS"),
        ("K3", "resolved_at", "reopened in SQMS after this resolution")}
    assert status(org, "K1").resolved_at == k1.resolved_at
    assert len(conflict_entries(org)) == 5
    # while a complaint SQMS never handled still follows the file (K2 resolved elsewhere)
    rows[1][7], rows[1][8] = "2026-10-09 11:00", "2026-10-10 15:00"
    import_file(org, spec_for("complaints"), write(tmp_path / "k3.csv", rows), actor="tester")
    assert status(org, "K2").status == "resolved"


def test_import_of_history_pages_nobody_but_sends_one_summary(org, tmp_path):
    """Issue 19.6: old open special complaints from an import are one summary mail, not one each."""
    now = datetime.now(UTC).astimezone(TZ)
    old = [[f"H{i:03d}", f"2026-0{1 + i % 8}-1{i % 9} 09:00", "CS", "phone", "special", "服务态度", "", "", "", ""]
           for i in range(30)]
    recent = [["N1", (now - timedelta(hours=5)).strftime("%Y-%m-%d %H:%M"), "OPS", "phone", "special", "延误", "",
               "", "", ""]]
    result = import_file(org, spec_for("complaints"), write(tmp_path / "h.csv", old + recent), actor="tester")
    messages = outbox(org)
    objects = sorted(m.object for m in messages)
    assert objects[0].startswith("special-history:") and objects[1] == "special:N1"  # N1 is news
    assert len(messages) == 2 and {m.recipient for m in messages} == {"zhang.wei@example.com"}
    summary = next(m for m in messages if m.object.startswith("special-history:"))
    assert "30" in summary.subject and "H000" in summary.body_text and summary.body_text.count("\n- ") == 20
    assert any("one summary mail" in n for n in result.notices)
    # the hourly watch leaves history alone too, and the same file again tells nothing new
    with UnitOfWork(org.database_url) as uow:
        assert queue_special_notices(uow.session, org) == 0
        uow.commit()
    import_file(org, spec_for("complaints"), tmp_path / "h.csv", actor="tester")
    assert len(outbox(org)) == 2


# -- repeated categories open a corrective action ----------------------------------------------


def test_three_complaints_of_one_category_open_one_linked_action(org):
    for day in (5, 6, 7):
        new(org, received=at(2026, 11, day), category="服务态度")
    new(org, received=at(2026, 11, 8), category="收费")
    new(org, received=at(2026, 11, 9), category="服务态度", dept="OPS")
    new(org, received=at(2026, 10, 30), category="服务态度")  # another month
    with UnitOfWork(org.database_url, actor="test") as uow:
        opened = open_repeat_category_actions(uow.session, org, "2026-11", now=at(2026, 11, 10))
        uow.commit()
        assert len(opened) == 1
        action = opened[0]
        assert (action.department, action.type, action.source, action.owner) == (
            "CS", "corrective", "complaint", "wang.fang@example.com")
        assert sorted(l.entity_id for l in action.links) == [f"CP-202611{d:02d}-001" for d in (5, 6, 7)]
    new(org, received=at(2026, 11, 12), category="服务态度")  # a fourth: linked, no second action
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert open_repeat_category_actions(uow.session, org, "2026-11") == []
        uow.commit()
        actions = list(uow.session.scalars(select(Action)))
        assert len(actions) == 1 and len(actions[0].links) == 4


def test_repeat_threshold_is_configurable(org, tmp_path):
    settings = make_settings(org.database_url, tmp_path, complaints={"repeat_category_threshold": 2})
    for day in (5, 6):
        new(settings, received=at(2026, 11, day), category="收费", dept="SALES")
    with UnitOfWork(settings.database_url, actor="test") as uow:
        assert len(open_repeat_category_actions(uow.session, settings, "2026-11")) == 1


def test_received_in_the_future_is_refused(org):
    with pytest.raises(ComplaintError, match="future"):
        new(org, received=datetime.now(TZ) + timedelta(days=1))


# -- return visits by phone, imported ------------------------------------------------------------


def test_return_visits_import(org, tmp_path):
    from sqms.complaints.visits import import_visits
    from sqms.ingest import ImportFileError

    done, other, fresh = new(org), new(org, received=at(2026, 10, 9)), new(org, received=at(2026, 10, 12))
    for ident in (done, other):
        for action, kw in [("acknowledge", {}), ("investigate", {}), ("propose", {"solution": "x"}),
                           ("resolve", {"answer": "y"})]:
            step(org, ident, action, **kw)
    bad = tmp_path / "bad.csv"
    bad.write_text("complaint_id,visited_at,score,comment\n"
                   f"{done},2026-10-14 10:00,4,满意\n"
                   f"{fresh},2026-10-14 10:00,3,\n"
                   "NOPE,2026-10-14 10:00,5,\n"
                   f"{other},2026-13-01 10:00,9,\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as info:
        import_visits(org, bad, "cs-team")
    message = str(info.value)
    for part in (f"row 3, column complaint_id: {fresh} is registered", "row 4, column complaint_id: unknown complaint",
                 "row 5, column visited_at", "row 5, column score"):
        assert part in message
    assert status(org, done).status == "resolved"  # nothing written

    good = tmp_path / "visits.csv"
    good.write_text("complaint_id,visited_at,score,comment,channel\n"
                    f"{done},2026/10/14 10:00,4,满意,phone\n"
                    f"{other},2026-10-14 11:00,1,还是多收费,\n", encoding="utf-8")
    result = import_visits(org, good, "cs-team")
    assert (result.recorded, result.reopened, result.unchanged) == (2, 1, 0)
    c = status(org, done)
    assert (c.status, c.feedback_score, c.feedback_comment, c.feedback_channel) == ("return_visited", 4, "满意",
                                                                                    "phone")
    assert c.return_visit_at == at(2026, 10, 14).astimezone(UTC)
    assert status(org, other).status == "investigating"
    again = import_visits(org, good, "cs-team")
    assert (again.recorded, again.unchanged) == (0, 2)


def test_feedback_is_asked_only_for_recent_resolutions_with_a_reachable_customer(org):
    from sqms.complaints.service import queue_feedback_requests
    from sqms.org.models import Customer

    now = datetime.now(UTC)
    with UnitOfWork(org.database_url, actor="test") as uow:
        uow.session.add_all([Customer(customer_id="C1", email="c1@example.net", opted_out=False),
                             Customer(customer_id="C2", email="c2@example.net", opted_out=True),
                             Customer(customer_id="C3", email=None, opted_out=False)])
        uow.commit()
    idents = {}
    for customer, resolved_days_ago in (("C1", 1), ("C2", 1), ("C3", 1), ("C1", 30)):
        ident = new(org, received=now - timedelta(days=resolved_days_ago + 1), customer_id=customer)
        with UnitOfWork(org.database_url, actor="test") as uow:
            c = get(uow.session, ident)
            for action, kw in [("acknowledge", {}), ("investigate", {}), ("propose", {"solution": "x"}),
                               ("resolve", {"answer": "y"})]:
                advance(uow.session, org, c, action, Step(**kw), at=now - timedelta(days=resolved_days_ago))
            uow.commit()
        idents[(customer, resolved_days_ago)] = ident
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert queue_feedback_requests(uow.session, org, now) == 1  # C1, resolved yesterday
        assert queue_feedback_requests(uow.session, org, now) == 0  # asked once
        uow.commit()
    mails = outbox(org)
    assert [(m.recipient, m.object) for m in mails] == [("c1@example.net", f"feedback:{idents[('C1', 1)]}")]
    assert "/feedback/" in mails[0].body_text
