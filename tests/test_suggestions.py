"""Suggestions end to end: submitted and imported (validated whole, idempotent), chased by the reminder
engine until evaluated (due in working days, across 国庆), accepted → an improvement action mailed to
its owner, the submitter told the outcome once, counts and adoption rate in the monthly figures and the
monthly report. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sqms.actions.models import Action
from sqms.calendar import add_working_days
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.reminders.service import plan
from sqms.suggestions.service import (SuggestionError, due_items, evaluate, get, import_file, month_figures,
                                      submit)

TZ = ZoneInfo("Asia/Shanghai")
QM = "li.na@example.com"


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(timezone.utc)


def test_a_suggestion_is_evaluated_in_time_and_an_accepted_one_becomes_an_action(org):
    with UnitOfWork(org.database_url, actor="test") as uow:
        s = submit(uow.session, org, text="高峰时段开通在线排队提示", source="customer", name="陈先生",
                   email="Chen@Example.org", department="客服部", received_at=_at(date(2026, 9, 30)))
        assert s.ref == "SG-00001" and s.email == "chen@example.org" and s.department == "CS"
        assert s.evaluation_due_on == add_working_days(date(2026, 9, 30), 5) > date(2026, 10, 8)  # 国庆 not counted
        [item] = due_items(uow.session, org, _at(date(2026, 10, 9)))
        assert item.kind == "suggestion" and item.owner == QM
        late = add_working_days(s.evaluation_due_on, 1)
        assert ("overdue", QM) in {(r.stage, r.recipient) for r in plan([item], org, late)}
        with pytest.raises(SuggestionError, match="say why"):
            evaluate(uow.session, org, s, "accept", by=QM, reason=" ")
        evaluate(uow.session, org, s, "accept", by="李娜", reason="可缩短客户等待焦虑", now=_at(date(2026, 10, 9)))
        uow.commit()
        assert s.status == "accepted" and due_items(uow.session, org, _at(date(2026, 10, 9))) == []
        action = uow.session.get(Action, s.action_id)
        assert (action.source, action.type, action.department, action.owner) == (
            "suggestion", "improvement", "CS", "wang.fang@example.com")
        mails = {m.object: m for m in uow.session.scalars(select(OutboxMessage))}
        assert mails[f"assigned:{action.ref}"].recipient == "wang.fang@example.com"
        told = mails["outcome:SG-00001"]
        assert told.recipient == "chen@example.org" and "已被采纳" in told.subject and "可缩短客户等待焦虑" in told.body_text
        from sqms.statemachine import IllegalTransition

        with pytest.raises(IllegalTransition):
            evaluate(uow.session, org, get(uow.session, "SG-00001"), "reject", by=QM, reason="x")

        other = submit(uow.session, org, text="食堂增加夜宵", received_at=_at(date(2026, 10, 12)))
        evaluate(uow.session, org, other, "reject", by=QM, reason="不属于服务质量范围", now=_at(date(2026, 10, 13)))
        submit(uow.session, org, text="工单系统增加模板", received_at=_at(date(2026, 10, 20)))
        uow.commit()
        assert month_figures(uow.session, org, "2026-10") == {
            "received": 2, "staff": 2, "customers": 0, "evaluated": 1, "accepted": 0, "pending": 1,
            "adoption_pct": 0.0}
        assert month_figures(uow.session, org, "2026-09")["adoption_pct"] == 100.0
        # nobody left an address for the rejected one: no mail
        assert not uow.session.scalars(select(OutboxMessage).where(OutboxMessage.object == f"outcome:{other.ref}")).all()


def test_import_is_checked_whole_and_idempotent(org, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("suggestion_id,submitted_at,source,name,email,department,text\n"
                   "W1,2026-10-09 10:00,customer,张,zhang@x.cn,CS,增加夜间客服\n"
                   "W1,2026-10-09,visitor,,not-an-email,XX,\n", encoding="utf-8")
    with UnitOfWork(org.database_url, actor="test") as uow:
        with pytest.raises(SuggestionError) as caught:
            import_file(uow.session, org, bad)
        for expected in ("row 3, column suggestion_id: 'W1' appears twice", "row 3, column source: 'visitor'",
                         "row 3, column email:", "row 3, column department: unknown department 'XX'",
                         "row 3, column text: is required"):
            assert expected in str(caught.value)
        assert get.__name__ and not uow.session.scalars(select(Action)).all()
    good = tmp_path / "good.csv"
    good.write_text("suggestion_id,submitted_at,source,name,email,department,text\n"
                    "W1,2026/10/09 10:00,customer,张,zhang@x.cn,客服部,增加夜间客服\n"
                    "W2,2026-10-10 09:00,staff,,,,优化排班\n", encoding="utf-8-sig")
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert import_file(uow.session, org, good).added == 2
        uow.commit()
    with UnitOfWork(org.database_url, actor="test") as uow:
        result = import_file(uow.session, org, good)
        assert (result.added, result.unchanged) == (0, 2)
        assert month_figures(uow.session, org, "2026-10")["received"] == 2
