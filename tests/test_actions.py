"""Corrective and preventive actions: owners, due dates on working days, root cause, verification."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from sqms.actions.service import (ActionError, NewAction, Update, advance, get, linked_to, listing, open_action,
                                  record)
from sqms.cli import app
from sqms.db import UnitOfWork
from sqms.statemachine import IllegalTransition

TZ = ZoneInfo("Asia/Shanghai")


def opened(settings, **kw) -> int:
    with UnitOfWork(settings.database_url, actor="li.na") as uow:
        action = open_action(uow.session, settings, NewAction(**{
            "source": "manual", "type": "corrective", "title": "整改服务话术", "department": "OPS", **kw}),
            now=datetime(2026, 9, 29, 10, tzinfo=TZ))
        uow.commit()
        return action.id


def test_defaults_owner_and_due_in_working_days(org):
    ident = opened(org)
    with UnitOfWork(org.database_url) as uow:
        action = get(uow.session, ident)
        assert action.owner == "liu.yang@example.com"  # the OPS manager
        # 20 working days from Tue 29 Sep 2026 across 国庆 (1–7 Oct off, Sat 10 Oct worked):
        # 30 Sep, 8, 9, 10 Oct (4), 12–16 (9), 19–23 (14), 26–30 (19) → the 20th is Mon 2 Nov
        assert action.due_on == date(2026, 11, 2)
        assert action.ref == f"CAPA-{ident:05d}"
    immediate = opened(org, type="immediate")
    with UnitOfWork(org.database_url) as uow:
        assert get(uow.session, immediate).due_on == date(2026, 10, 8)  # 30 Sep, then 8 Oct


def test_the_whole_lifecycle_with_a_failed_verification(org):
    ident = opened(org, links=[("complaint", "K1"), ("complaint", "K2"), ("complaint", "K1")])
    with UnitOfWork(org.database_url, actor="liu.yang") as uow:
        action = get(uow.session, ident)
        assert [l.entity_id for l in action.links] == ["K1", "K2"]
        advance(uow.session, org, action, "start")
        with pytest.raises(IllegalTransition, match="root cause"):
            advance(uow.session, org, action, "complete")
        record(uow.session, org, action, Update(whys=["回复慢", "人手不足", "排班不合理"], root_cause="排班未按话务量",
                                                 measures="按话务量排班"))
        advance(uow.session, org, action, "complete", at=datetime(2026, 10, 20, 10, tzinfo=TZ))
        assert action.status == "done" and action.verification_due_on == date(2026, 11, 19)
        with pytest.raises(ActionError, match="the owner cannot verify"):
            advance(uow.session, org, action, "verify", by="liu.yang@example.com")
        with pytest.raises(ActionError, match="say why"):
            advance(uow.session, org, action, "reject", by="li.na@example.com")
        advance(uow.session, org, action, "reject", by="li.na@example.com", comment="11 月仍有同类投诉")
        assert (action.status, action.reopen_count, action.done_at) == ("in_progress", 1, None)
        advance(uow.session, org, action, "complete")
        advance(uow.session, org, action, "verify", by="li.na@example.com", comment="连续两月无同类投诉")
        assert action.status == "verified" and action.verifier == "li.na@example.com"
        with pytest.raises(ActionError, match="verified and closed"):
            record(uow.session, org, action, Update(measures="more"))
        uow.commit()
    with UnitOfWork(org.database_url) as uow:
        assert [a.id for a in linked_to(uow.session, "complaint", "K2")] == [ident]
        assert listing(uow.session, open_only=True) == []


def test_improvement_needs_no_root_cause_and_bad_input_is_named(org):
    ident = opened(org, type="improvement")
    with UnitOfWork(org.database_url) as uow:
        action = get(uow.session, ident)
        advance(uow.session, org, action, "complete")
        assert action.status == "done"
    with pytest.raises(ActionError) as info:
        opened(org, source="rumour", type="big", department="XX", title="")
    for part in ("source: 'rumour'", "type: 'big'", "department: unknown department 'XX'", "title: is required"):
        assert part in str(info.value)
    with pytest.raises(ActionError, match="not a configured person"):
        opened(org, owner="nobody@example.com")


def test_action_cli(sqms_env, sqlite_url):
    settings = sqms_env(sqlite_url)
    runner = CliRunner()

    def sqms(*args):
        return runner.invoke(app, list(args))

    assert sqms("init").exit_code == 0
    out = sqms("action", "open", "--title", "补充培训", "--department", "CS", "--link", "complaint:K9")
    assert out.exit_code == 0, out.output
    assert "opened CAPA-00001" in out.output and "wang.fang@example.com" in out.output
    assert sqms("action", "advance", "1", "complete").exit_code == 2  # no root cause yet
    assert sqms("action", "update", "CAPA-00001", "--why", "不熟悉流程", "--root-cause", "培训缺失").exit_code == 0
    done = sqms("action", "advance", "1", "complete")
    assert done.exit_code == 0 and "verification due" in done.output
    assert sqms("action", "advance", "1", "verify", "--by", "li.na@example.com").exit_code == 0
    shown = sqms("action", "show", "1")
    assert "complaint:K9" in shown.output and "transition:verify" in shown.output and "培训缺失" in shown.output
    assert "verified" in sqms("action", "list").output
    bad = sqms("action", "open", "--title", "x", "--department", "CS", "--link", "K9")
    assert bad.exit_code == 2 and "entity:id" in bad.output
    assert sqms("action", "show", "99").exit_code == 1
    assert settings.database_url == sqlite_url
