"""Reminder stages around a deadline on a non-working day, and no reminder run for a past day
(issue 19 item 18)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from typer.testing import CliRunner

from sqms.calendar import to_local, utcnow
from sqms.cli import app
from sqms.reminders.service import DueItem, ReminderError, check_day, digest_sections, plan
from tests.conftest import make_settings
from tests.factories import TZ

OWNER, OPS_MANAGER = "zheng.yu@example.com", "liu.yang@example.com"
SATURDAY_8 = datetime(2026, 10, 17, 8, tzinfo=TZ)  # an ordinary Saturday, not a make-up working day


@pytest.fixture
def settings_only(tmp_path):
    return make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path)


def contact(due: datetime) -> DueItem:
    return DueItem("complaint-contact", "CP-1", "首次联系", OWNER, "OPS", due)


@pytest.mark.parametrize("today, expected", [
    (date(2026, 10, 14), [("due-in-2", OWNER)]),                          # Thu 15, Fri 16 left
    (date(2026, 10, 15), []),
    (date(2026, 10, 16), [("due-soon", OWNER)]),                          # Friday: the last working day before it
    (date(2026, 10, 19), [("overdue", OWNER)]),                           # Monday: past, not yet a full day late
    (date(2026, 10, 20), [("escalated-1", OPS_MANAGER), ("overdue", OWNER)]),
])
def test_a_deadline_on_a_non_working_day(settings_only, today, expected):
    planned = plan([contact(SATURDAY_8)], settings_only, today)
    assert sorted((r.stage, r.recipient) for r in planned) == sorted(expected)
    assert all(r.stage != "due-today" for r in planned)


def test_due_soon_is_listed_with_the_due_soon_items(settings_only):
    [reminder] = plan([contact(SATURDAY_8)], settings_only, date(2026, 10, 16))
    sections = digest_sections([reminder], settings_only)
    assert [line["stage"] for line in sections["due_soon"]] == ["due-soon"]
    # a working due day keeps "due today" on that day
    [today] = plan([contact(datetime(2026, 10, 16, 18, tzinfo=TZ))], settings_only, date(2026, 10, 16))
    assert today.stage == "due-today"


def test_a_past_day_is_refused(settings_only):
    now = datetime(2026, 10, 16, 9, tzinfo=TZ)
    with pytest.raises(ReminderError, match="2026-10-15 is in the past"):
        check_day(date(2026, 10, 15), now, settings_only)
    check_day(date(2026, 10, 16), now, settings_only)
    check_day(date(2026, 10, 19), now, settings_only)


def test_cli_refuses_reminders_for_a_past_day(sqms_env, sqlite_url):
    sqms_env(sqlite_url)
    yesterday = to_local(utcnow(), TZ).date() - timedelta(days=1)
    runner = CliRunner()
    for command in ("reminders", "weekly-digest"):
        result = runner.invoke(app, ["run", command, "--today", yesterday.isoformat()])
        assert result.exit_code != 0
        assert "is in the past" in result.output and "stale reminders" in result.output
