"""The standards and SOP register: versions with their file's sha256, approval in order or by all, a
published version immutable, publication superseding the one before and asking its people to be
trained, review reminders 30 and 7 days before across the National Day holiday, escalation, 'reviewed,
no change', the training KPI. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.calendar import add_working_days, is_working_day
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.reminders.service import plan
from sqms.standards.models import StandardReview, StandardVersion, TrainingRequirement
from sqms.standards.service import (StandardError, add_version, approve, attach_file, complete_training, due_items,
                                    get, publish, register, reject, review_no_change, submit, training_completion)
from sqms.statemachine import IllegalTransition
from tests.conftest import make_settings

TZ = ZoneInfo("Asia/Shanghai")
GM, QM, CS = "zhang.wei@example.com", "li.na@example.com", "wang.fang@example.com"


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(timezone.utc)


@pytest.fixture
def two_approvers(db_url, tmp_path):
    from sqms.org.service import sync_organisation

    settings = make_settings(db_url, tmp_path, standards={"approvers": ["role:general_manager", QM],
                                                          "approval": "in_order"})
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    return settings


def _file(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_version_is_approved_in_order_published_and_then_immutable(two_approvers, tmp_path):
    s = two_approvers
    first = _file(tmp_path, "客服电话服务规范.md", "# 客服电话服务规范\n铃响三声内接听。")
    with UnitOfWork(s.database_url, actor="test") as uow:
        doc = register(uow.session, s, code="sop-cs-02", title="客服电话服务规范", kind="sop", department="客服部",
                       departments=["CS"])
        assert doc.code == "SOP-CS-02" and doc.owner == CS  # the department manager by default
        v1 = add_version(uow.session, s, doc, version="V1.0", change_summary="首次发布")
        with pytest.raises(IllegalTransition, match="file is required"):
            submit(uow.session, s, v1)
        attach_file(uow.session, s, v1, first)
        assert v1.file_sha256 == hashlib.sha256(first.read_bytes()).hexdigest()
        assert submit(uow.session, s, v1) == 1  # in order: the general manager is asked first
        with pytest.raises(StandardError, match="the next approver is zhang.wei@example.com"):
            approve(uow.session, s, v1, by=QM)
        with pytest.raises(StandardError, match="not an approver"):
            approve(uow.session, s, v1, by=CS)
        assert approve(uow.session, s, v1, by="张伟", comment="同意", now=_at(date(2026, 3, 2))) is False
        assert v1.status == "in_review"
        assert approve(uow.session, s, v1, by=QM, now=_at(date(2026, 3, 3))) is True
        assert v1.status == "approved" and [a["by"] for a in v1.approvals] == [GM, QM]
        result = publish(uow.session, s, v1, now=_at(date(2026, 3, 4)))
        assert v1.status == "published" and v1.effective_on == date(2026, 3, 4)
        assert result["next_review_on"] == doc.next_review_on == date(2027, 3, 4)
        asked = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.object.like("approve:%"))).all()
        assert sorted(m.recipient for m in asked) == [QM, GM]
        uow.commit()

    with UnitOfWork(s.database_url, actor="test") as uow:
        doc = get(uow.session, "SOP-CS-02")
        v1 = doc.versions[0]
        with pytest.raises(StandardError, match="only a draft's file can change"):
            attach_file(uow.session, s, v1, first)
        v1.change_summary = "偷偷改过"  # not through the service: refused all the same
        with pytest.raises(ValueError, match="is published: change_summary cannot change"):
            uow.session.flush()
        uow.rollback()

    with UnitOfWork(s.database_url, actor="test") as uow:  # V2: rejected once, then published; V1 superseded
        doc = get(uow.session, "SOP-CS-02")
        v2 = add_version(uow.session, s, doc, version="V2.0", change_summary="增加转接电话操作规范",
                         file=_file(tmp_path, "v2.md", "# V2"), effective_on=date(2026, 6, 1))
        with pytest.raises(StandardError, match="V2.0 exists already"):
            add_version(uow.session, s, doc, version="V2.0")
        submit(uow.session, s, v2)
        approve(uow.session, s, v2, by=GM)
        reject(uow.session, s, v2, by=QM, comment="缺少转接时限")
        assert v2.status == "draft" and v2.approvals == []
        submit(uow.session, s, v2)
        approve(uow.session, s, v2, by=GM)
        approve(uow.session, s, v2, by=QM)
        publish(uow.session, s, v2, now=_at(date(2026, 5, 20)))
        uow.commit()
        assert [(v.version, v.status) for v in doc.versions] == [("V1.0", "superseded"), ("V2.0", "published")]
        assert doc.next_review_on == date(2027, 6, 1)
        assert open(doc.versions[0].file_path, encoding="utf-8").read().startswith("# 客服电话服务规范")  # readable
        moves = [e.action for e in uow.session.scalars(select(AuditEntry).where(
            AuditEntry.entity == "standard_version", AuditEntry.entity_id == "SOP-CS-02 V2.0").order_by(AuditEntry.id))]
        assert moves.count("approval") == 3 and "transition:approve" in moves and "transition:reject" in moves and "transition:publish" in moves


def test_approval_by_all_in_any_order(db_url, tmp_path):
    from sqms.org.service import sync_organisation

    s = make_settings(db_url, tmp_path, standards={"approvers": [GM, QM], "approval": "all"})
    with UnitOfWork(s.database_url, actor="test") as uow:
        sync_organisation(uow.session, s)
        doc = register(uow.session, s, code="QM-001", title="服务质量管理制度", kind="policy", department="GMO",
                       departments=[d.code for d in s.departments], owner=QM)
        v = add_version(uow.session, s, doc, version="V1.0", file=_file(tmp_path, "qm.md", "制度"))
        assert submit(uow.session, s, v) == 2  # both asked at once
        assert approve(uow.session, s, v, by=QM) is False
        with pytest.raises(StandardError, match="approved already"):
            approve(uow.session, s, v, by=QM)
        assert approve(uow.session, s, v, by=GM) is True and v.status == "approved"


def _published(settings, tmp_path, *, effective: date, now: datetime):
    with UnitOfWork(settings.database_url, actor="test") as uow:
        doc = register(uow.session, settings, code="SOP-OPS-01", title="快递员服务规范", kind="sop", department="OPS",
                       departments=["OPS", "CS"])
        v = add_version(uow.session, settings, doc, version="V1.0", file=_file(tmp_path, "ops.md", "规范"),
                        effective_on=effective)
        submit(uow.session, settings, v)
        approve(uow.session, settings, v, by=GM)
        result = publish(uow.session, settings, v, now=now)
        uow.commit()
        return result


def test_publication_asks_its_people_to_be_trained_once_and_the_kpi_counts_on_time(org, tmp_path):
    result = _published(org, tmp_path, effective=date(2026, 9, 28), now=_at(date(2026, 9, 25)))
    people = sorted(p.email for p in org.people if p.department in ("OPS", "CS"))
    assert result["trainings"] == len(people) == 4  # 李娜, 王芳 (CS); 刘洋, 郑宇 (OPS)
    with UnitOfWork(org.database_url, actor="test") as uow:
        rows = uow.session.scalars(select(TrainingRequirement).order_by(TrainingRequirement.person)).all()
        assert [r.person for r in rows] == people
        # 10 working days from the effective day, 国庆 not counted
        assert {r.due_on for r in rows} == {add_working_days(date(2026, 9, 28), 10)} and rows[0].due_on > date(2026, 10, 8)
        mails = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.object == "training:SOP-OPS-01 V1.0")).all()
        assert sorted(m.recipient for m in mails) == people and "快递员服务规范" in mails[0].subject
        v = get(uow.session, "SOP-OPS-01").versions[0]
        due = rows[0].due_on
        complete_training(uow.session, org, v, CS, now=_at(due))  # on time
        complete_training(uow.session, org, v, "liu.yang@example.com", now=_at(add_working_days(due, 1)))  # late
        with pytest.raises(StandardError, match="recorded already"):
            complete_training(uow.session, org, v, CS)
        uow.commit()
        period = f"{due.year}-{due.month:02d}"
        figures = {c.department: (c.required, c.on_time, c.value) for c in training_completion(uow.session, org, period)}
        assert figures == {None: (4, 1, 25.0), "CS": (2, 1, 50.0), "OPS": (2, 0, 0.0)}
        # the KPI of `sqms kpi --json` and the monthly report: stored with the month's computation
        from sqms.records.service import compute_and_store, results_of

        results = results_of(compute_and_store(uow.session, org, period, as_of=_at(date(2026, 11, 30))))
        got = {r.department: r.as_json() for r in results if r.kpi == "sop_training_completion_pct"}
        assert len(got) == 9
        assert {k: got[None][k] for k in ("value", "target", "status", "n")} == {
            "value": 25.0, "target": 95.0, "status": "missed", "n": 4}
        assert (got["CS"]["value"], got["CS"]["n"]) == (50.0, 2) and got["HR"]["status"] == "no_data"


def test_review_reminders_30_and_7_days_before_across_national_day_then_escalation(org, tmp_path):
    # effective 2025-10-09: the review is due 2026-10-09, just after 国庆 2026
    _published(org, tmp_path, effective=date(2025, 10, 9), now=_at(date(2025, 10, 9)))
    with UnitOfWork(org.database_url, actor="test") as uow:
        doc = get(uow.session, "SOP-OPS-01")
        assert doc.next_review_on == date(2026, 10, 9)
        items = [i for i in due_items(uow.session, org, _at(date(2026, 9, 9))) if i.kind == "standard-review"]

    def stages(day: date) -> set[tuple[str, str]]:
        return {(r.stage, r.recipient) for r in plan(items, org, day)}

    owner = "liu.yang@example.com"
    assert stages(date(2026, 9, 8)) == set()  # 31 days before
    assert stages(date(2026, 9, 9)) == {("due-in-30d", owner)}
    assert stages(date(2026, 9, 21)) == {("due-in-30d", owner)}  # the ledger keeps it from being sent twice
    seven_before = date(2026, 10, 2)
    assert not is_working_day(seven_before)  # in the holiday: the next working day brings the 7-day notice
    first_back = next(d for d in (date(2026, 10, n) for n in range(3, 10)) if is_working_day(d))
    assert ("due-in-7d", owner) in stages(first_back)
    assert ("overdue", owner) in stages(add_working_days(date(2026, 10, 9), 1))
    assert ("escalated-3", QM) not in stages(add_working_days(date(2026, 10, 9), 3))
    assert ("escalated-3", QM) in stages(add_working_days(date(2026, 10, 9), 4))  # 3 full working days late

    with UnitOfWork(org.database_url, actor="test") as uow:  # reviewed, no change: recorded and extended
        doc = get(uow.session, "SOP-OPS-01")
        review = review_no_change(uow.session, org, doc, by=owner, comment="仍然适用", now=_at(date(2026, 9, 20)))
        uow.commit()
        assert review.previous_review_on == date(2026, 10, 9) and doc.next_review_on == date(2027, 9, 20)
        assert uow.session.scalars(select(StandardReview)).one().outcome == "no_change"
        assert uow.session.scalars(select(StandardVersion)).one().status == "published"


def test_the_demo_register_has_reviews_due_and_trainings_outstanding(org):
    from sqms.standards.demo import seed_register
    from sqms.standards.service import listing

    now = _at(date(2026, 11, 30))
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert seed_register(uow.session, org, now=now) == 5
        uow.commit()
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert seed_register(uow.session, org, now=now) == 0  # idempotent
        docs = {d.code: d for d in listing(uow.session)}
        assert docs["QM-001"].title == "服务质量管理制度" and "投诉处理流程" == docs["QP-CS-01"].title
        assert [(v.version, v.status) for v in docs["QM-001"].versions] == [("V1.0", "superseded"),
                                                                            ("V2.0", "published")]
        assert docs["STD-OPS-02"].versions[-1].status == "in_review"
        items = {i.item_id: i for i in due_items(uow.session, org, now)}
        today = date(2026, 11, 30)
        review_days = {code: (items[code].due_at.date() - today).days for code in docs if code in items}
        assert review_days["QP-CS-01"] < 0 and 0 < review_days["QM-001"] <= 30  # overdue, due soon
        trainings = [i for i in items.values() if i.kind == "training"]
        assert trainings and all("SOP-CS-02 V2.0" in i.title for i in trainings)
        assert {i.owner for i in trainings} == {CS, QM}
        mails = uow.session.scalars(select(OutboxMessage)).all()
        assert {m.object for m in mails} == {"training:SOP-CS-02 V2.0"}  # history pages nobody


def test_audit_findings_name_the_standard_they_are_against(org, tmp_path):
    """The checklists cite the register's codes; a finding takes its item's standard when the register has
    it, names another with --standard, and an unknown one is refused."""
    from datetime import timedelta

    from sqms.audits.checklists import load_checklists
    from sqms.audits.service import AuditError, FindingIn, open_cycle, record_findings, slot_of
    from sqms.standards.demo import seed_register

    checklists = load_checklists(org.checklists_dir)
    items = {i.code: i for c in checklists.values() for i in c.items}
    assert items["C01"].standard == "QP-CS-01" and items["R01"].standard is None
    with UnitOfWork(org.database_url, actor="test") as uow:
        seed_register(uow.session, org, now=_at(date(2026, 6, 1)))
        cycle, _ = open_cycle(uow.session, org, today=date(2026, 6, 1))
        slot = slot_of(uow.session, cycle, "CS")
        day = _at(slot.day) + timedelta(hours=1)
        with pytest.raises(AuditError, match="standard 'SOP-XX-99' is not in the register"):
            record_findings(uow.session, org, cycle, slot, [FindingIn("C01", "minor", standard="SOP-XX-99")],
                            actor="auditor", now=day)
        rows = record_findings(uow.session, org, cycle, slot, [
            FindingIn("C01", "minor", "两件投诉超期"), FindingIn("R01", "conforming"),
            FindingIn("R02", "observation", standard="sop-cs-02")], actor="auditor", now=day)
        assert [r.standard_code for r in rows] == ["QP-CS-01", None, "SOP-CS-02"]
        from sqms.actions.models import Action

        action = uow.session.get(Action, rows[0].action_id)
        assert action.problem.startswith("QP-CS-01 制度 2.4 (6)")
