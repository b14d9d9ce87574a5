"""The governance commands as an administrator types them: `sqms meeting`, `sqms standard`, `sqms suggestion`
(SQLite; exit codes and messages)."""

from __future__ import annotations

from datetime import date, timedelta

from typer.testing import CliRunner

from sqms.calendar import add_working_days, to_local, utcnow
from sqms.db import UnitOfWork
from tests.test_meetings import monthly_report


def test_governance_commands(sqms_env, sqlite_url, tmp_path):
    from sqms.cli import app
    from sqms.org.service import sync_organisation

    settings = sqms_env(sqlite_url)
    today = to_local(utcnow(), settings.tz).date()
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        monthly_report(uow.session, settings, "2026-10", today)
        uow.commit()
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args))

    missing = run("meeting", "show", "2026-09")
    assert missing.exit_code == 2 and "no quality-analysis meeting for 2026-09" in missing.output
    day = add_working_days(today, 5)
    scheduled = run("meeting", "schedule", "2026-10", "--on", day.isoformat())
    assert scheduled.exit_code == 0, scheduled.output
    assert f"QM-2026-10: {day} 14:00, 10 participants, invitation #0, 10 mails queued" in scheduled.output
    off = next(d for d in (today + timedelta(days=n) for n in range(1, 15)) if d.weekday() == 6)
    assert run("meeting", "schedule", "2026-10", "--on", off.isoformat()).exit_code == 2
    book = tmp_path / "minutes.xlsx"
    assert run("meeting", "workbook", "2026-10", str(book)).exit_code == 0 and book.is_file()
    early = tmp_path / "minutes.yaml"
    early.write_text("attendees: [李娜]\n", encoding="utf-8")
    refused = run("meeting", "minutes", "2026-10", str(early))
    assert refused.exit_code == 2 and "has not taken place yet" in refused.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("attendees: [nobody]\nactions:\n  - {title: x, owner: 王芳}\n", encoding="utf-8")
    listed = run("meeting", "minutes", "2026-10", str(bad))
    assert listed.exit_code == 2 and "attendees[0]" in listed.output and "actions[0].due" in listed.output
    shown = run("meeting", "show", "2026-10")
    assert shown.exit_code == 0 and "1. 上次会议待办事项跟踪" in shown.output
    assert "QM-2026-10  scheduled" in run("meeting", "list").output

    source = tmp_path / "sop.md"
    source.write_text("# 快递员服务规范", encoding="utf-8")
    assert run("standard", "add", "SOP-OPS-01", "--title", "快递员服务规范", "--department", "运营部").exit_code == 0
    assert run("standard", "add", "SOP-OPS-01", "--title", "x", "--department", "OPS").exit_code == 2
    drafted = run("standard", "version", "SOP-OPS-01", "V1.0", "--summary", "首次发布", "--file", str(source))
    assert drafted.exit_code == 0 and "sha256" in drafted.output
    assert run("standard", "submit", "SOP-OPS-01").exit_code == 0
    wrong = run("standard", "approve", "SOP-OPS-01", "--by", "wang.fang@example.com")
    assert wrong.exit_code == 2 and "not an approver" in wrong.output
    assert run("standard", "approve", "SOP-OPS-01", "--by", "张伟").exit_code == 0
    published = run("standard", "publish", "SOP-OPS-01")
    assert published.exit_code == 0 and "published, 2 trainings required" in published.output
    assert run("standard", "train", "SOP-OPS-01", "--person", "刘洋").exit_code == 0
    assert "trainings open 1" in run("standard", "list").output
    assert "reviewed, no change" in run("standard", "reviewed", "SOP-OPS-01", "--by", "刘洋").output

    added = run("suggestion", "submit", "开通周末在线客服", "--source", "customer", "--department", "CS")
    assert added.exit_code == 0 and added.output.startswith("SG-00001: evaluation due")
    accepted = run("suggestion", "evaluate", "SG-00001", "accept", "--by", "李娜", "--reason", "可行")
    assert accepted.exit_code == 0 and "accepted → CAPA-" in accepted.output
    again = run("suggestion", "evaluate", "SG-00001", "reject", "--by", "李娜", "--reason", "x")
    assert again.exit_code == 2 and "cannot 'reject' from 'accepted'" in again.output
    assert date.fromisoformat(added.output.split("due ")[1].strip()) > today
