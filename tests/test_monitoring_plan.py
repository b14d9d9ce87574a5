"""The inspection plan (every front-line person once a quarter, never by their own department), its
reminders, and the appraisal mails (a department manager sees their own staff only)."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from sqms.db import UnitOfWork
from sqms.importers import spec_for
from sqms.ingest import import_file
from sqms.monitoring.models import InspectionPlanSlot
from sqms.monitoring.plan import (
    PlanError,
    assign,
    due_items,
    notify_inspectors,
    plan_month,
)
from sqms.notify.messages import build_mime
from sqms.notify.models import OutboxMessage
from tasks.monitoring import first_working_day_after_quarter

DEPTS = ["CS", "OPS", "SALES", "HR"]


@hsettings(max_examples=200, deadline=None)
@given(people=st.lists(st.tuples(st.text("abcdef0123", min_size=1, max_size=6), st.sampled_from(DEPTS)),
                       max_size=40, unique_by=lambda p: p[0]),
       inspectors=st.lists(st.tuples(st.emails(), st.sampled_from(DEPTS)), min_size=1, max_size=6,
                           unique_by=lambda i: i[0]))
def test_assignment_never_lets_an_inspector_inspect_their_own_department(people, inspectors):
    homes = dict(inspectors)
    try:
        slots = assign(people, inspectors, [date(2026, 10, 9), date(2026, 10, 12)])
    except PlanError:
        # only when some department has nobody outside it to inspect it
        assert any(all(home == dept for home in homes.values()) for _, dept in people)
        return
    assert [s.staff_id for s in slots] == [p[0] for p in people]  # everyone, once
    assert all(homes[s.inspector] != s.department for s in slots)
    loads = {}
    for s in slots:
        loads[s.inspector] = loads.get(s.inspector, 0) + 1
    # balanced: an inspector with two more slots than another could have given one away, unless its
    # departments are such that the other one cannot take them — checked on the simple case of no clash
    if len({d for _, d in people}) == 1 and len(loads) > 1:
        assert max(loads.values()) - min(loads.values()) <= 1


STAFF = "staff_id,name,department,front_line\n" + "".join(
    f"{d}{i},员工{d}{i},{d},是\n" for d in ("CS", "OPS", "SALES") for i in range(7)) + "X1,内勤,HR,否\n"


def test_a_quarter_of_plans_covers_everyone_and_reminds_the_inspector(org, tmp_path):
    (tmp_path / "staff.csv").write_text(STAFF, encoding="utf-8")
    import_file(org, spec_for("staff"), tmp_path / "staff.csv")
    homes = {p.email: p.department for p in org.people}
    with UnitOfWork(org.database_url, actor="test") as uow:
        for period in ("2026-10", "2026-11", "2026-12"):
            plan_month(uow.session, org, period)
        again = plan_month(uow.session, org, "2026-11")
        queued = notify_inspectors(uow.session, org, "2026-10")
        uow.commit()
        slots = uow.session.scalars(select(InspectionPlanSlot)).all()
        items = due_items(uow.session, org, datetime(2026, 10, 20, tzinfo=UTC))
    assert again == []
    assert sorted(s.staff_id for s in slots) == sorted(f"{d}{i}" for d in ("CS", "OPS", "SALES") for i in range(7))
    assert {s.period for s in slots} == {"2026-10", "2026-11", "2026-12"}
    assert all(homes[s.inspector] != s.department for s in slots)
    assert queued == len({s.inspector for s in slots if s.period == "2026-10"})
    assert {(i.kind, i.owner) for i in items} == {("inspection", s.inspector) for s in slots}


def test_first_working_day_after_a_quarter():
    assert first_working_day_after_quarter(date(2026, 10, 8)) == "2026Q3"  # after 国庆
    assert first_working_day_after_quarter(date(2026, 10, 9)) is None
    assert first_working_day_after_quarter(date(2026, 7, 1)) == "2026Q2"
    assert first_working_day_after_quarter(date(2026, 1, 4)) == "2025Q4"  # a make-up working Sunday
    assert first_working_day_after_quarter(date(2026, 1, 5)) is None
    assert first_working_day_after_quarter(date(2026, 11, 2)) is None


def test_appraisal_mail_to_a_department_manager_holds_no_other_departments_staff(org, tmp_path):
    from sqms.monitoring.rendering import run_appraisal
    from sqms.monitoring.service import ItemResult, NewInspection, record_inspection
    from sqms.monitoring.templates import load_templates

    (tmp_path / "staff.csv").write_text("staff_id,name,department,email\nCS7,客服甲,CS,cs7@example.com\n"
                                        "OPS7,运营乙,OPS,ops7@example.com\n", encoding="utf-8")
    import_file(org, spec_for("staff"), tmp_path / "staff.csv")
    templates = load_templates(org)
    full = {i.code: i.points for i in templates["service-counter"].items()}
    with UnitOfWork(org.database_url, actor="test") as uow:
        for staff, dept in (("CS7", "CS"), ("OPS7", "OPS")):
            record_inspection(uow.session, org, NewInspection(
                f"I-{staff}", "service-counter", dept, "huang.li@example.com", datetime(2026, 8, 5, 2, tzinfo=UTC),
                [ItemResult(c, p) for c, p in full.items()], staff_id=staff), templates=templates)
        outcome = run_appraisal(uow.session, org, "2026Q3")
        uow.commit()
        mails = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.process == "staff-grading")).all()
        texts = {}
        for row in mails:
            message = email.message_from_bytes(bytes(build_mime(row, org.smtp.sender)))
            parts = [p.get_payload(decode=True).decode("utf-8") for p in message.walk()
                     if p.get_content_maintype() == "text" or (p.get_filename() or "").endswith(".html")]
            texts.setdefault(row.recipient, []).extend(parts)
    assert outcome.graded == 2
    cs_manager = "\n".join(texts["wang.fang@example.com"])
    assert "CS7" in cs_manager and "客服甲" in cs_manager
    assert "OPS7" not in cs_manager and "运营乙" not in cs_manager
    ops_manager = "\n".join(texts["liu.yang@example.com"])
    assert "OPS7" in ops_manager and "CS7" not in ops_manager and "客服甲" not in ops_manager
    whole = "\n".join(texts["zhang.wei@example.com"])  # the general manager has everyone
    assert "CS7" in whole and "OPS7" in whole and "zhao.lei@example.com" in texts  # and HR
    own = "\n".join(texts["cs7@example.com"])  # a person gets their own grade, nobody else's
    assert "客服甲" in own and "等级 a" in own and "运营乙" not in own and "OPS7" not in own
