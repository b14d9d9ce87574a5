"""The monthly quality-analysis meeting: scheduled after the report across the National Day holiday, the
agenda against the data that produced it, the invitation (ICS parsed with icalendar; the UID stable
across a reschedule), the minutes (YAML and the XLSX round trip) becoming actions mailed once, the
minutes report. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from icalendar import Calendar
from sqlalchemy import select

from sqms.actions.models import Action
from sqms.actions.service import NewAction, open_action
from sqms.calendar import add_working_days, is_working_day
from sqms.complaints.models import Complaint
from sqms.db import UnitOfWork
from sqms.improvement.models import ImprovementCycle
from sqms.meetings.minutes import MinutesError, parse_file, parse_yaml, write_workbook
from sqms.meetings.models import QualityMeeting
from sqms.meetings.service import PROCESS, MeetingError, get, record_minutes, schedule
from sqms.notify.models import OutboxMessage
from sqms.records.models import KpiComputation, KpiValue
from sqms.reporting.models import GeneratedReport
from sqms.reporting.service import report_dir, save_report

TZ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
PERIOD = "2026-09"
MADE_ON = date(2026, 10, 1)  # the report of September is made on the first day of 国庆
MANAGERS = {"CS": "wang.fang@example.com", "OPS": "liu.yang@example.com", "SALES": "chen.jie@example.com",
            "GMO": "yang.min@example.com", "HR": "zhao.lei@example.com", "FIN": "huang.li@example.com",
            "RND": "zhou.qiang@example.com", "ADMIN": "wu.xia@example.com"}
PARTICIPANTS = {"zhang.wei@example.com", "li.na@example.com", *MANAGERS.values()}


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(UTC)


def monthly_report(session, settings, period: str, made_on: date) -> GeneratedReport:
    """A month's report as the monthly flow records it (files on disk, a version, a summary)."""
    folder = report_dir(settings, "monthly-report", period, 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"monthly-report-{period}.html").write_text("<html>月报</html>", encoding="utf-8")
    (folder / f"monthly-report-{period}.xlsx").write_bytes(b"PK\x03\x04 not really")
    report = save_report(session, kind="monthly-report", period=period, version=1, locale="zh_CN",
                         files={"html": folder / f"monthly-report-{period}.html",
                                "xlsx": folder / f"monthly-report-{period}.xlsx"},
                         summary={"summary": ["本月 9 项指标中 7 项达标。"]})
    report.created_at = _at(made_on, 8)
    session.flush()
    return report


def _computation(session, period: str, values: list[tuple[str, str | None, float, str, int]]) -> None:
    computation = KpiComputation(period=period, as_of=_at(MADE_ON), computed_at=_at(MADE_ON), actor="test",
                                 input_counts={})
    computation.values = [KpiValue(kpi=k, department=d, value=v, target=75.0, status=s, n=n, low_confidence=n < 30,
                                   extra={}) for k, d, v, s, n in values]
    session.add(computation)
    session.flush()


def _seed(settings) -> dict:
    """KPIs of three months, complaints, a PDCA cycle, actions and the previous meeting with an open item."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        s = uow.session
        _computation(s, "2026-07", [("fcr_pct", "CS", 74.0, "missed", 120)])
        _computation(s, "2026-08", [("fcr_pct", "CS", 72.5, "missed", 118)])
        _computation(s, PERIOD, [("fcr_pct", "CS", 70.0, "missed", 121), ("fcr_pct", None, 80.0, "met", 900),
                                 ("fcr_pct", "SALES", 60.0, "missed", 12)])
        received = [("K-SPECIAL", datetime(2026, 9, 10, 9), "special", True),     # the month's special one
                    ("K-LATE", datetime(2026, 8, 20, 9), "normal", False),        # open past its deadline
                    ("K-FINE", datetime(2026, 9, 11, 9), "normal", True)]         # nothing to discuss
        for ident, at, severity, settled in received:
            at = at.replace(tzinfo=TZ)
            s.add(Complaint(complaint_id=ident, received_at=at, department="CS", channel="phone", severity=severity,
                            category="服务态度", status="closed" if settled else "investigating",
                            resolved_at=at + timedelta(days=1) if settled else None, deadline_at=at + timedelta(days=3)))
        s.add(ImprovementCycle(department="CS", kpi="fcr_pct", status="plan", iteration=2, owner=MANAGERS["CS"],
                               opened_period="2026-06", reason="连续两月未达标", baseline=70.0, target=75.0,
                               created_at=_at(date(2026, 7, 1)),
                               history=[{"check_period": "2026-08", "check_value": 72.5, "check_met": False}]))
        s.add(ImprovementCycle(department="OPS", kpi="fcr_pct", status="closed", owner=MANAGERS["OPS"],
                               opened_period="2026-03", reason="x", created_at=_at(date(2026, 3, 1)), history=[]))
        previous = QualityMeeting(period="2026-08", status="minuted", meeting_on=date(2026, 9, 4), participants=[],
                                  agenda=[], notes=[], created_at=_at(date(2026, 9, 1)), created_by="test")
        s.add(previous)
        s.flush()
        made = {}
        for key, title, due, links in [
                ("previous", "上次会议：话术复训", date(2026, 9, 30), [("quality_meeting", "QM-2026-08")]),
                ("overdue", "逾期的纠正措施", date(2026, 9, 20), []),
                ("soon", "下次会议前到期", date(2026, 10, 20), []),
                ("later", "明年到期", date(2027, 3, 1), [])]:
            made[key] = open_action(s, settings, NewAction(source="manual", type="improvement", title=title,
                                                           department="CS", due_on=due, links=links),
                                    now=_at(date(2026, 8, 1)), notify=False).ref
        monthly_report(s, settings, PERIOD, MADE_ON)
        uow.commit()
    return made


def _outbox(uow, obj_like: str) -> list[OutboxMessage]:
    return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.object.like(obj_like))
                                    .order_by(OutboxMessage.id)))


def _ics(message: OutboxMessage):
    [path] = [a for a in message.attachments if a.endswith(".ics")]
    calendar = Calendar.from_ical(open(path, "rb").read())
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_the_meeting_is_scheduled_after_the_report_with_an_agenda_from_the_data(org):
    made = _seed(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        meeting, queued = schedule(uow.session, org, PERIOD, now=_at(MADE_ON))
        uow.commit()
        # 3 working days after the report, the National Day holiday not counted
        assert meeting.meeting_on == add_working_days(MADE_ON, 3) and is_working_day(meeting.meeting_on)
        assert meeting.meeting_on > date(2026, 10, 7)
        assert set(meeting.participants) == PARTICIPANTS and queued == len(PARTICIPANTS)
        items = {i["kind"]: i for i in meeting.agenda}
        assert [i["kind"] for i in meeting.agenda][:2] == ["previous_actions", "report"]  # open items first
        assert [r["ref"] for r in items["previous_actions"]["rows"]] == [made["previous"]]
        assert items["report"]["rows"][0]["summary"] == "本月 9 项指标中 7 项达标。"
        misses = items["kpi_misses"]["rows"]
        assert [(r["department"], r["kpi"], r["value"], r["n"]) for r in misses] == [
            ("CS", "fcr_pct", 70.0, 121), ("SALES", "fcr_pct", 60.0, 12)]
        assert [x["value"] for x in misses[0]["trend"]] == [74.0, 72.5, 70.0]
        assert misses[1]["low_confidence"] and "n=12" in misses[1]["line"]
        complaints = {r["complaint_id"]: r for r in items["complaints"]["rows"]}
        assert set(complaints) == {"K-SPECIAL", "K-LATE"}
        assert complaints["K-SPECIAL"]["special"] and not complaints["K-SPECIAL"]["overdue"]
        assert complaints["K-LATE"]["overdue"]
        [cycle] = items["improvements"]["rows"]  # the closed one is not discussed
        assert cycle["last_check"] == {"period": "2026-08", "value": 72.5, "met": False}
        chased = [r["ref"] for r in items["actions"]["rows"]]
        assert chased == [made["overdue"], made["soon"]]  # not the one of item 1, not next year's
        assert items["actions"]["rows"][0]["overdue"] and not items["actions"]["rows"][1]["overdue"]

        mails = _outbox(uow, "QM-2026-09:invitation:s0")
        assert {m.recipient for m in mails} == PARTICIPANTS and all(m.process == PROCESS for m in mails)
        assert {a.rsplit("/", 1)[1] for a in mails[0].attachments} == {
            "quality-meeting-2026-09-s0.ics", "monthly-report-2026-09-v1.html", "monthly-report-2026-09-v1.xlsx"}
        assert made["overdue"] in mails[0].body_text and "K-LATE" in mails[0].body_html
        calendar, event = _ics(mails[0])
        assert calendar["method"] == "REQUEST"
        assert event.decoded("dtstart") == datetime.combine(meeting.meeting_on, time(14), tzinfo=TZ)
        assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
        assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=2)
        assert {str(a).removeprefix("mailto:") for a in event.get("attendee")} == PARTICIPANTS
        assert str(event["uid"]) == "quality-meeting-2026-09@example.com" and int(event["sequence"]) == 0
        assert "未达标指标" in str(event["description"])

    with UnitOfWork(org.database_url, actor="test") as uow:  # a rerun invites nobody again
        again, queued = schedule(uow.session, org, PERIOD, now=_at(MADE_ON, 11))
        assert queued == 0 and again.sequence == 0 and len(_outbox(uow, "QM-2026-09:invitation:%")) == 10
        # moved: the same event (UID) with a higher SEQUENCE, to everyone again
        new_day = add_working_days(meeting.meeting_on, 2)
        moved, queued = schedule(uow.session, org, PERIOD, now=_at(MADE_ON, 11), meeting_on=new_day)
        uow.commit()
        assert queued == 10 and moved.sequence == 1 and moved.meeting_on == new_day
        _, event = _ics(_outbox(uow, "QM-2026-09:invitation:s1")[0])
        assert str(event["uid"]) == "quality-meeting-2026-09@example.com" and int(event["sequence"]) == 1
        assert event.decoded("dtstart").date() == new_day
        assert "会议改期" in _outbox(uow, "QM-2026-09:invitation:s1")[0].subject
        with pytest.raises(MeetingError, match="not a working day"):
            schedule(uow.session, org, PERIOD, now=_at(MADE_ON), meeting_on=date(2026, 10, 3))


def test_no_meeting_without_the_months_report(org):
    with UnitOfWork(org.database_url, actor="test") as uow:
        with pytest.raises(MeetingError, match="no monthly report of 2026-09"):
            schedule(uow.session, org, PERIOD, now=_at(MADE_ON))
        with pytest.raises(MeetingError, match="no quality-analysis meeting for 2026-09"):
            get(uow.session, PERIOD)


MINUTES = """
attendees: [张伟, li.na@example.com, wang.fang@example.com, 刘洋]
items:
  - {item: 3, discussion: 客服部一次解决率连续三月下降, decision: 高峰时段增加坐席并复训话术}
  - {item: 7, discussion: 讨论新的改进项目, decision: ""}
actions:
  - {title: 高峰时段排班优化, owner: 王芳, due: 2026-11-30, item: 3}
  - {title: 在线客服知识库更新, owner: liu.yang@example.com, due: 2026-12-15, type: improvement}
"""


def test_minutes_become_actions_mailed_once_and_the_minutes_report_goes_out(org):
    _seed(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        meeting, _ = schedule(uow.session, org, PERIOD, now=_at(MADE_ON))
        numbers = {i["no"] for i in meeting.agenda}
        with pytest.raises(MeetingError, match="has not taken place yet"):
            record_minutes(uow.session, org, meeting, parse_yaml(org, MINUTES, numbers), now=_at(MADE_ON))
        held = _at(meeting.meeting_on, 17)
        result = record_minutes(uow.session, org, meeting, parse_yaml(org, MINUTES, numbers), now=held)
        uow.commit()
        assert len(result["actions"]) == 2 and result["minutes_version"] == 1
        actions = uow.session.scalars(select(Action).where(Action.source == "quality_meeting")
                                      .order_by(Action.id)).all()
        assert [(a.title, a.owner, a.due_on, a.department, a.type) for a in actions] == [
            ("高峰时段排班优化", MANAGERS["CS"], date(2026, 11, 30), "CS", "corrective"),
            ("在线客服知识库更新", MANAGERS["OPS"], date(2026, 12, 15), "OPS", "improvement")]
        assert "高峰时段增加坐席并复训话术" in actions[0].problem
        assigned = _outbox(uow, "assigned:CAPA-%")
        mine = [m for m in assigned if m.process == PROCESS]
        assert sorted(m.recipient for m in mine) == sorted([MANAGERS["CS"], MANAGERS["OPS"]])
        minutes_mails = _outbox(uow, "QM-2026-09:minutes:v1")
        assert {m.recipient for m in minutes_mails} == PARTICIPANTS  # the general manager is one of them
        assert meeting.status == "minuted" and meeting.attendees == [
            "zhang.wei@example.com", "li.na@example.com", MANAGERS["CS"], MANAGERS["OPS"]]
        report = uow.session.get(GeneratedReport, meeting.minutes_report_id)
        html = open(report.files["html"], encoding="utf-8").read()
        assert "高峰时段增加坐席并复训话术" in html and "缺席" in html and actions[0].ref in html
        book = openpyxl.load_workbook(report.files["xlsx"], read_only=True)
        assert [r[1] for r in book["行动项"].iter_rows(min_row=2, values_only=True)] == [a.title for a in actions]

    with UnitOfWork(org.database_url, actor="test") as uow:  # the same minutes again: nothing new
        meeting = get(uow.session, PERIOD)
        again = record_minutes(uow.session, org, meeting, parse_yaml(org, MINUTES, numbers), now=held)
        uow.commit()
        assert again["actions"] == [] and again["minutes_version"] is None and again["mails"] == 0
        assert len(uow.session.scalars(select(Action).where(Action.source == "quality_meeting")).all()) == 2
        assert len([m for m in _outbox(uow, "assigned:CAPA-%") if m.process == PROCESS]) == 2

    # the next month's agenda starts with this meeting's open items
    with UnitOfWork(org.database_url, actor="test") as uow:
        monthly_report(uow.session, org, "2026-10", date(2026, 11, 2))
        october, _ = schedule(uow.session, org, "2026-10", now=_at(date(2026, 11, 2)))
        uow.commit()
        first = october.agenda[0]
        assert first["kind"] == "previous_actions"
        assert [r["title"] for r in first["rows"]] == ["高峰时段排班优化", "在线客服知识库更新"]


def test_minutes_are_checked_whole_and_the_workbook_round_trips(org, tmp_path):
    _seed(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        meeting, _ = schedule(uow.session, org, PERIOD, now=_at(MADE_ON))
        uow.commit()
        numbers = {i["no"] for i in meeting.agenda}
        bad = """
attendees: [nobody@example.com]
items: [{item: 42, decision: x}]
actions:
  - {title: 无负责人, due: 2026-11-30}
  - {title: 日期错误, owner: 王芳, due: 明天, type: urgent}
"""
        with pytest.raises(MinutesError) as caught:
            parse_yaml(org, bad, numbers)
        problems = "\n".join(caught.value.problems)
        for expected in ("attendees[0]: 'nobody@example.com' is not a configured person", "items[0].item: the agenda "
                         "has no item 42", "actions[0].owner", "actions[1].due: '明天'", "actions[1].type: 'urgent'"):
            assert expected in problems

        path = write_workbook(tmp_path / "minutes.xlsx", org, meeting)
        book = openpyxl.load_workbook(path)
        attendance = book["出席 attendance"]
        for row in attendance.iter_rows(min_row=2):
            row[2].value = "是" if row[0].value in ("zhang.wei@example.com", "li.na@example.com") else "否"
        book["议程 agenda"]["D4"] = "高峰时段增加坐席"
        book["行动项 actions"].append([3, "高峰时段排班优化", "王芳", "2026-11-30", "", ""])
        book["行动项 actions"].append([3, "", "王芳", "2026/13/01", "", ""])
        book.save(path)
        with pytest.raises(MinutesError) as caught:
            parse_file(org, path, numbers)
        assert caught.value.problems == [
            "sheet '行动项 actions', row 3, column B (title): is required",
            "sheet '行动项 actions', row 3, column D (due): '2026/13/01' is not a date such as 2026-12-15 "
            "(every action item has a deadline)"]
        book["行动项 actions"].delete_rows(3)
        book.save(path)
        parsed = parse_file(org, path, numbers)
        assert parsed.attendees == ["zhang.wei@example.com", "li.na@example.com"]
        assert parsed.notes == {3: {"discussion": "", "decision": "高峰时段增加坐席"}}
        assert [(a.title, a.owner, a.due_on, a.department) for a in parsed.actions] == [
            ("高峰时段排班优化", MANAGERS["CS"], date(2026, 11, 30), "CS")]
