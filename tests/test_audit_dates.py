"""Findings of an internal audit that has not taken place yet are refused, or recorded with --force
and a warning kept in the audit log (issue 19 item 13)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sqms.audit_trail import AuditEntry
from sqms.audits.models import AuditFinding
from sqms.audits.service import AuditError, FindingIn, get, open_cycle, record_findings, slot_of
from sqms.calendar import to_local, utcnow
from sqms.cli import app
from sqms.db import UnitOfWork
from tests.factories import TZ


def test_findings_of_a_future_audit_are_refused_unless_forced(org):
    with UnitOfWork(org.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, org, today=date(2026, 6, 1))
        slot = slot_of(uow.session, cycle, "CS")
        item = slot.items[0]["code"]
        before = datetime.combine(slot.day - timedelta(days=1), datetime.min.time(), tzinfo=TZ).replace(hour=17)
        with pytest.raises(AuditError, match=rf"scheduled for {slot.day.isoformat()}.*has not taken place yet"):
            record_findings(uow.session, org, cycle, slot, [FindingIn(item, "minor", "缺签字")], actor="x",
                            now=before)
        assert uow.session.scalars(select(AuditFinding)).first() is None
        on_the_day = datetime.combine(slot.day, datetime.min.time(), tzinfo=TZ).replace(hour=16)
        [row] = record_findings(uow.session, org, cycle, slot, [FindingIn(item, "conforming")], actor="x",
                                now=on_the_day)
        assert row.result == "conforming"
        hr = slot_of(uow.session, cycle, "HR")
        early = datetime.combine(hr.day - timedelta(days=3), datetime.min.time(), tzinfo=TZ).replace(hour=9)
        record_findings(uow.session, org, cycle, hr, [FindingIn(hr.items[0]["code"], "conforming")],
                        actor="x", now=early, force=True)
        warning = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "warning",
                                                               AuditEntry.entity == "audit_slot")).one()
        assert "before the scheduled audit day" in warning.comment and str(hr.day) in warning.comment
        uow.commit()


def test_cli_refuses_a_future_audit_finding(sqms_env, sqlite_url):
    settings = sqms_env(sqlite_url)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    today = to_local(utcnow(), settings.tz).date()
    with UnitOfWork(settings.database_url, actor="test") as uow:
        cycle, _ = open_cycle(uow.session, settings, today=today)  # the first audits are weeks ahead
        code = cycle.code
        slot = slot_of(uow.session, cycle, "CS")
        item, day = slot.items[0]["code"], slot.day
        uow.commit()
    assert day > today
    refused = runner.invoke(app, ["audit", "finding", code, "CS", item, "--result", "minor", "--evidence", "x"])
    assert refused.exit_code != 0 and "has not taken place yet" in refused.output and day.isoformat() in refused.output
    forced = runner.invoke(app, ["audit", "finding", code, "CS", item, "--result", "minor", "--evidence", "x",
                                 "--force"])
    assert forced.exit_code == 0, forced.output
    assert "warning" in forced.output and "CAPA-" in forced.output
    with UnitOfWork(settings.database_url) as uow:
        assert get(uow.session, code) is not None
        assert uow.session.scalars(select(AuditFinding)).one().result == "minor"
