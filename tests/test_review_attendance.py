"""The management review records who attended, and nothing says the meeting was held before its day
(issue 19 item 12): outputs, attendance and the report are refused before the meeting day, and the
report never lists the invitees as attendees."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest
from typer.testing import CliRunner

from sqms.cli import app
from sqms.db import UnitOfWork
from sqms.org.service import sync_organisation
from sqms.reporting.models import GeneratedReport
from sqms.reviews.service import (ReviewError, advance_due, get, issue_report, open_review, record_attendance,
                                  record_outputs)
from tests.factories import TZ

OPENED = date(2026, 1, 10)
MEETING = date(2026, 2, 6)
OUTPUTS = """
year: 2025
attendees: [张伟, li.na@example.com, 王芳, liu.yang@example.com]
decisions:
  - {text: 建立客服话术季度复训制度, owner: wang.fang@example.com, due: 2026-03-31}
"""


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(timezone.utc)


def prepared(settings) -> None:
    """Opened, reports asked for, the pack sent: waiting for the meeting of 6 Feb 2026."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        open_review(uow.session, settings, today=OPENED)
        advance_due(uow.session, settings, at(date(2026, 1, 12)))
        advance_due(uow.session, settings, at(date(2026, 2, 3)))
        assert get(uow.session, 2025).status == "pack_sent"
        uow.commit()


def report_html(uow) -> str:
    report = uow.session.get(GeneratedReport, get(uow.session, 2025).report_id)
    return open(report.files["html"], encoding="utf-8").read()


def test_nothing_is_recorded_before_the_meeting_day(org):
    prepared(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        review = get(uow.session, 2025)
        day_before = at(date(2026, 2, 5), 17)
        with pytest.raises(ReviewError, match="the meeting is on 2026-02-06 and has not taken place yet"):
            record_outputs(uow.session, org, review, OUTPUTS, actor="t", now=day_before)
        with pytest.raises(ReviewError, match="has not taken place yet"):
            record_attendance(uow.session, org, review, ["张伟"], actor="t", now=day_before)
        assert review.status == "pack_sent" and review.attendees is None
        # outputs recorded on the meeting day; the report is not issued by a run of the day before
        record_outputs(uow.session, org, review, OUTPUTS, actor="t", now=at(MEETING, 15))
        assert advance_due(uow.session, org, day_before) == []
        with pytest.raises(ReviewError, match="its report is issued from the meeting day on"):
            issue_report(uow.session, org, review, day_before)
        assert review.status == "outputs_recorded"


def test_the_report_lists_who_attended_and_who_was_absent(org):
    prepared(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        review = get(uow.session, 2025)
        record_outputs(uow.session, org, review, OUTPUTS, actor="t", now=at(MEETING, 15))
        assert review.attendees == ["zhang.wei@example.com", "li.na@example.com", "wang.fang@example.com",
                                    "liu.yang@example.com"]
        advance_due(uow.session, org, at(date(2026, 2, 9)))
        assert review.status == "reported"
        html = report_html(uow)
        uow.commit()
    assert "出席 4 名（受邀 10 名，缺席 6 名）" in html
    assert "参加人员 10 名" not in html
    present = html[html.index("出席人员"):html.index("缺席</h3>")]
    absent = html[html.index("缺席</h3>"):]
    assert "张伟" in present and "李娜" in present and "陈杰" not in present
    assert "陈杰" in absent and "张伟" not in absent.split("</section>")[0]


def test_without_attendance_the_report_says_so(org):
    prepared(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        review = get(uow.session, 2025)
        record_outputs(uow.session, org, review, OUTPUTS.replace("attendees:", "# attendees:"), actor="t",
                       now=at(MEETING, 15))
        advance_due(uow.session, org, at(date(2026, 2, 9)))
        html = report_html(uow)
    assert "受邀 10 名，出席情况未记录" in html and "受邀人员（出席情况未记录）" in html
    assert "出席人员" not in html


def test_attendance_command(sqms_env, sqlite_url):
    settings = sqms_env(sqlite_url)
    prepared(settings)
    runner = CliRunner()
    unknown = runner.invoke(app, ["review", "attendance", "2025", "--present", "张伟,nobody@x.com"])
    assert unknown.exit_code != 0 and "'nobody@x.com' is not a configured person" in unknown.output
    done = runner.invoke(app, ["review", "attendance", "2025", "--present", "张伟，li.na@example.com"])
    assert done.exit_code == 0, done.output
    assert "2 present" in done.output and "absent: " in done.output and "wang.fang@example.com" in done.output
    shown = runner.invoke(app, ["review", "show", "2025"])
    assert "attended: zhang.wei@example.com, li.na@example.com" in shown.output


def test_the_pack_of_an_unfinished_year_stops_at_the_last_complete_month(org):
    """Issue 19 item 14: the current partial month is no month of the series ("2026-11: 0/3")."""
    from sqms.reviews.pack import build_pack

    with UnitOfWork(org.database_url, actor="test") as uow:
        review, _ = open_review(uow.session, org, year=2026, today=date(2026, 11, 18))
        pack = build_pack(uow.session, org, review, as_of=at(date(2026, 11, 20)))
        assert pack.periods[-1] == "2026-10" and len(pack.periods) == 10
        assert "2026-11" not in set(pack.completion_by_month["period"])
        assert "2026-11" not in set(pack.complaints_by_month["period"])
        assert pack.summary[0] == "2026年尚未结束：月度数据截至最后一个完整月份 2026-10。"
        # the last day of a month is still under way; the first moment of the next completes it
        assert build_pack(uow.session, org, review, as_of=at(date(2026, 11, 30), 23)).periods[-1] == "2026-10"
        assert build_pack(uow.session, org, review,
                          as_of=datetime(2026, 12, 1, tzinfo=TZ)).periods[-1] == "2026-11"
