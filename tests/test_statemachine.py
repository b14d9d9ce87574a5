"""The shared state-machine helper: legal moves are audited, illegal ones explain themselves."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.db import UnitOfWork
from sqms.statemachine import IllegalTransition, StateMachine, Transition


@dataclass
class Thing:
    id: str
    status: str = "open"
    root_cause: str | None = None


MACHINE = StateMachine(
    entity="thing",
    states=("open", "in_progress", "done", "verified"),
    initial="open",
    transitions=(
        Transition("start", ("open",), "in_progress"),
        Transition("finish", ("in_progress",), "done",
                   guard=lambda t: None if t.root_cause else "the root cause is required"),
        Transition("verify", ("done",), "verified"),
        Transition("reopen", ("done", "verified"), "in_progress"),
    ),
)


def test_legal_moves_are_audited(sqlite_settings):
    thing = Thing("T1", root_cause="工作流程不清")
    with UnitOfWork(sqlite_settings.database_url, actor="li.na") as uow:
        MACHINE.apply(uow.session, thing, "start", comment="开始整改")
        MACHINE.apply(uow.session, thing, "finish", data={"evidence": "新流程"})
        uow.commit()
    assert thing.status == "done"
    with UnitOfWork(sqlite_settings.database_url) as uow:
        entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "thing")
                                      .order_by(AuditEntry.id)).all()
    assert [(e.action, e.before, e.after["status"], e.actor) for e in entries] == [
        ("transition:start", {"status": "open"}, "in_progress", "li.na"),
        ("transition:finish", {"status": "in_progress"}, "done", "li.na"),
    ]
    assert entries[0].comment == "开始整改" and entries[1].after["evidence"] == "新流程"


def test_illegal_moves_say_what_is_allowed():
    thing = Thing("T2")
    with pytest.raises(IllegalTransition, match=r"thing T2: cannot 'verify' from 'open' \(allowed from 'open': start\)"):
        MACHINE.check(thing, "verify")
    thing.status = "in_progress"
    with pytest.raises(IllegalTransition, match="root cause is required"):
        MACHINE.check(thing, "finish")
    with pytest.raises(IllegalTransition, match="unknown action 'fly'"):
        MACHINE.check(thing, "fly")
    assert MACHINE.allowed("verified") == ["reopen"]
    assert not MACHINE.can(thing, "finish")


def test_a_machine_with_unknown_states_is_refused():
    with pytest.raises(ValueError, match="unknown states"):
        StateMachine("x", ("a",), "a", (Transition("go", ("a",), "b"),))
