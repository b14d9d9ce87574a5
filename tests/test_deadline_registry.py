"""One shape for every deadline: each process declares its `Deadlines` next to its rules, `sqms.processes`
registers them, and the reminder engine (`sqms/reminders/`) imports no process. A process registered
there is chased like any other (digest, ledger, working days, weekly counts); a date people are only
told of (an audit's day) gets its notices, on the first working day within their window, and nothing else."""

from __future__ import annotations

import ast
import email
from datetime import date, datetime
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import sqms.processes
from sqms.db import UnitOfWork
from sqms.notify.service import deliver_pending
from sqms.org.service import sync_organisation
from sqms.reminders import service as engine
from sqms.reminders.service import Deadlines, DueItem, Registry, ReminderError, plan, send_reminders
from sqms.reminders.weekly import summary
from tests.conftest import ROOT, make_settings

TZ = ZoneInfo("Asia/Shanghai")
OWNER, OPS_MANAGER = "zheng.yu@example.com", "liu.yang@example.com"
DOMAINS = {"actions", "complaints", "audits", "surveys", "reviews", "records", "improvement", "meetings",
           "monitoring", "standards", "suggestions", "org", "web", "reporting"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_engine_imports_no_process():
    """Not at the top, not inside a function: a process depends on the engine, never the other way round."""
    offending = {(path.name, name) for path in (ROOT / "sqms" / "reminders").glob("*.py")
                 for name in imported_modules(path)
                 if name.startswith("sqms.") and (name.split(".")[1] in DOMAINS or name == "sqms.processes")}
    assert offending == set()
    assert not (ROOT / "sqms" / "reminders" / "sources.py").exists()


def test_every_process_with_deadlines_is_registered_once_at_the_composition_point():
    assert engine.registered() is sqms.processes.DEADLINES
    processes = {d.process for d in sqms.processes.DEADLINES.processes}
    assert {"complaints", "actions", "management-review", "standards", "suggestions", "inspections",
            "internal-audit"} <= processes
    # every kind says what it is in both languages
    for kind, (zh, en) in sqms.processes.DEADLINES.labels.items():
        assert zh and en and zh != en, kind
    with pytest.raises(ValueError, match="declared by"):
        Registry((Deadlines("a", {"x": ("甲", "a")}, lambda *_: []), Deadlines("b", {"x": ("乙", "b")}, lambda *_: [])))


def test_an_unregistered_engine_says_what_to_import(monkeypatch):
    monkeypatch.setattr(engine, "_registered", None)
    with pytest.raises(ReminderError, match="import sqms.processes"):
        engine.registered()


def _visits(session, settings, now):
    """A process that does not exist yet: return visits, one of them late."""
    return [DueItem("visit", "RV-1", "回访客户 C-001", OWNER, "OPS", datetime(2026, 10, 13, 23, 59, 59, tzinfo=TZ))]


def test_a_new_process_registered_at_the_composition_point_is_chased_like_the_others(tmp_path, sqlite_url):
    settings = make_settings(sqlite_url, tmp_path)
    visits = Deadlines("return-visits", {"visit": ("客户回访", "return visit")}, _visits)
    registry = Registry((*sqms.processes.DEADLINES.processes, visits), link=sqms.processes.DEADLINES.link)
    day = date(2026, 10, 15)  # 2 working days late: overdue to the owner, escalated to the department manager
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        result = send_reminders(uow.session, settings, today=day, now=datetime(2026, 10, 15, 9, tzinfo=TZ),
                                sources=registry)
        figures = summary(uow.session, settings, day, datetime(2026, 10, 15, 9, tzinfo=TZ), registry)
        uow.commit()
    assert result.by_recipient == {OWNER: 1, OPS_MANAGER: 1}
    assert [row["kind"] for row in figures["kinds"]] == ["客户回访"] and figures["total_overdue"] == 1
    assert "actions" in figures  # the actions' weekly figures still come with their process
    deliver_pending(settings)
    mails = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in Path(settings.outbox_dir).glob("*.eml")]
    texts = {m["To"].addresses[0].addr_spec: m.get_body(("plain",)).get_content() for m in mails}
    assert "客户回访" in texts[OWNER] and "RV-1" in texts[OWNER]
    assert "超期升级" in texts[OPS_MANAGER] and "RV-1" in texts[OPS_MANAGER]
    with UnitOfWork(settings.database_url, actor="test") as uow:  # the ledger: nothing twice
        again = send_reminders(uow.session, settings, today=day, now=datetime(2026, 10, 15, 9, tzinfo=TZ),
                               sources=registry)
    assert again.new == 0


def _audit(day: date) -> DueItem:
    return DueItem("audit-slot", "2026-H2:OPS", "内部审核：运营部", OWNER, "OPS",
                   datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=TZ), notice_days=(14, 7),
                   also=(OPS_MANAGER,), chased=False)


@pytest.mark.parametrize("today, stage", [
    (date(2026, 9, 30), None),         # 15 days before
    (date(2026, 10, 8), "due-in-7d"),  # 1–7 Oct are holidays: the first working day is within 7 days already
    (date(2026, 10, 15), None),        # the day itself: no "due today"
    (date(2026, 10, 19), None),        # after it: never overdue, never escalated
])
def test_a_date_people_are_told_of_gets_its_notices_only(tmp_path, today, stage):
    settings = make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path)
    planned = plan([_audit(date(2026, 10, 15))], settings, today)
    assert sorted((r.stage, r.recipient) for r in planned) == (
        sorted([(stage, OWNER), (stage, OPS_MANAGER)]) if stage else [])
    assert all(r.notice == 7 for r in planned)


def test_the_fourteen_day_notice_on_a_working_day(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path)
    planned = plan([_audit(date(2026, 11, 2))], settings, date(2026, 10, 19))
    assert {(r.stage, r.notice) for r in planned} == {("due-in-14d", 14)}
    assert engine.waiting_on([_audit(date(2026, 11, 2))], settings, date(2026, 10, 19), OWNER) == []  # not a task
