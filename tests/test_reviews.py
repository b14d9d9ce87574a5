"""The management review: opening (meeting on a working day), the department reports and their
reminders, the input pack (KPI completion computed by hand from stored computations), the invitation
(ICS parsed back), the outputs becoming actions and target changes, the report. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import yaml
from icalendar import Calendar
from sqlalchemy import func, select

from sqms.actions.models import Action
from sqms.actions.service import due_items as action_due_items
from sqms.audit_trail import AuditEntry
from sqms.calendar import add_working_days, is_working_day
from sqms.complaints.models import Complaint
from sqms.db import UnitOfWork
from sqms.improvement.models import ImprovementCycle
from sqms.notify.models import OutboxMessage
from sqms.records.models import KpiComputation, KpiValue
from sqms.records.service import latest_computation
from sqms.reminders.service import collect, plan
from sqms.reporting.formatting import records
from sqms.reporting.models import GeneratedReport
from sqms.reviews.models import ManagementReview, ReviewOutput
from sqms.reviews.pack import build_pack
from sqms.reviews.service import (PROCESS, ReviewError, advance_due, due_items, open_review, parse_outputs,
                                  record_outputs, reports_of, send_pack, submit_report)
from sqms.statemachine import IllegalTransition
from sqms.surveys.models import SurveyCampaign
from tests.xlsx_checks import assert_print_ready
from tests.conftest import ROOT

TZ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
OPENED = date(2026, 1, 10)  # a Saturday: the schedule's day, reviewing 2025
MANAGERS = {"CS": "wang.fang@example.com", "OPS": "liu.yang@example.com", "SALES": "chen.jie@example.com",
            "GMO": "yang.min@example.com", "HR": "zhao.lei@example.com", "FIN": "huang.li@example.com",
            "RND": "zhou.qiang@example.com", "ADMIN": "wu.xia@example.com"}
PARTICIPANTS = {"zhang.wei@example.com", "li.na@example.com", *MANAGERS.values()}

OUTPUTS = """
year: 2025
minutes: 会议认为体系总体有效。<b>不是标记</b>
decisions:
  - {text: 建立客服话术季度复训制度, owner: wang.fang@example.com, due: 2026-03-31}
  - {text: 在线渠道高峰增加值班, owner: 刘洋, due: 2026-04-30, type: corrective}
improvements:
  - {text: 投诉分类与回访打通, owner: li.na@example.com, due: 2026-06-30, department: CS}
  - {text: 研究知识库}
resources:
  - {text: 增加2名坐席, owner: zhao.lei@example.com, due: 2026-05-31}
objective_changes:
  - {kpi: fcr_pct, department: null, target: 78, reason: 连续达标，提高目标}
  - {kpi: avg_handling_hours, department: RND, target: 40}
"""


def _open(settings, **kwargs) -> ManagementReview:
    with UnitOfWork(settings.database_url, actor="test") as uow:
        review, _ = open_review(uow.session, settings, today=OPENED, **kwargs)
        uow.commit()
    return review


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(UTC)


def _review(uow, year: int = 2025) -> ManagementReview:
    return uow.session.scalars(select(ManagementReview).where(ManagementReview.year == year)).one()


def _outbox(uow, obj_like: str) -> list[OutboxMessage]:
    return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.process == PROCESS,
                                                                OutboxMessage.object.like(obj_like))
                                    .order_by(OutboxMessage.id)))


# -- opening -------------------------------------------------------------------------------------------------


def test_open_review_meets_on_a_working_day_with_the_configured_participants(org):
    review = _open(org)
    assert review.year == 2025 and review.code == "2025-review" and review.status == "planned"
    assert review.meeting_on == add_working_days(OPENED, 20) == date(2026, 2, 6)
    assert is_working_day(review.meeting_on) and is_working_day(review.reports_due_on)
    assert review.reports_due_on == date(2026, 1, 30)  # 5 working days before the meeting
    assert set(review.participants) == PARTICIPANTS  # GM, quality manager, every department head
    with UnitOfWork(org.database_url, actor="test") as uow:
        again, new = open_review(uow.session, org, today=OPENED + timedelta(days=3))
        assert not new and again.id == review.id
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "management_review")).one()
        assert entry.action == "create" and entry.after["meeting_on"] == "2026-02-06"


def test_the_meeting_skips_holidays_and_refuses_a_day_off(org):
    with UnitOfWork(org.database_url, actor="test") as uow:
        # opened just before 国庆 2025: the holiday week does not count, the make-up Saturday does
        review, _ = open_review(uow.session, org, year=2024, today=date(2025, 9, 26))
        assert is_working_day(review.meeting_on) and review.meeting_on == add_working_days(date(2025, 9, 26), 20)
        assert review.meeting_on > date(2025, 10, 8)
        with pytest.raises(ReviewError, match="must be a working day"):
            open_review(uow.session, org, year=2023, today=date(2025, 9, 26), meeting_on=date(2025, 10, 3))
        with pytest.raises(ReviewError, match="has not begun"):
            open_review(uow.session, org, year=2027, today=OPENED)


# -- department reports -----------------------------------------------------------------------------------


def test_reports_are_requested_once_and_chased_until_submitted(org, tmp_path):
    review = _open(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert advance_due(uow.session, org, _at(date(2026, 1, 12))) == [("2025-review", "request_reports", 8)]
        assert advance_due(uow.session, org, _at(date(2026, 1, 13))) == []  # nothing more before the pack
        uow.commit()
    with UnitOfWork(org.database_url, actor="test") as uow:
        mails = _outbox(uow, "2025-review:request:%")
        assert sorted(m.recipient for m in mails) == sorted(MANAGERS.values())
        cs = next(m for m in mails if m.recipient == MANAGERS["CS"])
        assert "2026-01-30" in cs.subject and "客服部" in cs.subject and "2026-02-06" in cs.body_text
        assert "sqms review submit CS --year 2025" in cs.body_text

        items = due_items(uow.session, org, _at(date(2026, 1, 12)))
        assert {(i.kind, i.owner, i.department) for i in items} == {
            ("review-report", m, d) for d, m in MANAGERS.items()}
        assert {i.due_at for i in items} == {datetime(2026, 1, 30, 23, 59, 59, tzinfo=TZ)}

        report = tmp_path / "运营部2025年度工作报告.txt"
        report.write_text("运营部全年工作……", encoding="utf-8")
        submit_report(uow.session, org, _review(uow), "客服部", text="客服部全年工作……", actor="cli:wang")
        row = submit_report(uow.session, org, _review(uow), "OPS", file=report, actor="cli:liu")
        stored = org.reports_dir / "management-review" / "2025" / "department-reports" / f"OPS-{report.name}"
        assert row.file_path == str(stored) and stored.read_text(encoding="utf-8") == "运营部全年工作……"
        submit_report(uow.session, org, _review(uow), "CS", text="修订版", actor="cli:wang")  # replaces
        with pytest.raises(ReviewError, match="unknown department 'XX'"):
            submit_report(uow.session, org, _review(uow), "XX", text="x", actor="t")
        with pytest.raises(ReviewError, match="--text or --file"):
            submit_report(uow.session, org, _review(uow), "HR", text="  ", actor="t")
        uow.commit()

    with UnitOfWork(org.database_url, actor="test") as uow:
        # the reminder engine chases the six still missing, on their due day, their managers
        due_day = collect(uow.session, org, _at(date(2026, 1, 30)), sources=[due_items])
        reminders = plan(due_day, org, date(2026, 1, 30))
        assert {(r.stage, r.recipient) for r in reminders} == {
            ("due-today", m) for d, m in MANAGERS.items() if d not in ("CS", "OPS")}
        assert [r.department for r in reports_of(uow.session, _review(uow))] == ["CS", "OPS"]
        assert reports_of(uow.session, review)[0].text == "修订版"


# -- the input pack -----------------------------------------------------------------------------------------


def _computation(session, period: str, values: list[tuple[str, str | None, float | None]], stored_target=50.0):
    computation = KpiComputation(period=period, as_of=_at(date(2026, 1, 2)), computed_at=_at(date(2026, 1, 2)),
                                 actor="test", input_counts={})
    computation.values = [KpiValue(kpi=k, department=d, value=v, target=stored_target, status="missed", n=100,
                                   low_confidence=False, extra={}) for k, d, v in values]
    session.add(computation)
    session.flush()


def test_pack_kpi_completion_equals_the_stored_values_judged_by_hand(org):
    review = _open(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        # targets (config/sqms.yaml): fcr_pct ≥ 75; avg_handling_hours ≤ 24, RND ≤ 48
        _computation(uow.session, "2025-01", [("fcr_pct", None, 80.0), ("avg_handling_hours", None, 30.0),
                                              ("fcr_pct", "CS", 70.0), ("avg_handling_hours", "CS", 20.0),
                                              ("avg_handling_hours", "RND", 40.0), ("nps", None, None),
                                              ("record_volume", None, 500.0)])
        _computation(uow.session, "2025-02", [("fcr_pct", None, 90.0)])  # superseded by the next one
        _computation(uow.session, "2025-02", [("fcr_pct", None, 74.9), ("avg_handling_hours", None, 24.0),
                                              ("fcr_pct", "CS", 75.0), ("avg_handling_hours", "CS", 25.0)])
        pack = build_pack(uow.session, org, _review(uow), as_of=_at(date(2026, 1, 15)))
        for period in ("2025-03", "2025-12"):  # months never computed are computed and kept
            assert latest_computation(uow.session, period) is not None
        uow.commit()

    rows = {(r["kpi"], r["department"]): r for r in records(pack.kpi_completion)}
    hand = {("fcr_pct", None): (2, 1, 80.0 + 74.9), ("avg_handling_hours", None): (2, 1, 30.0 + 24.0),
            ("fcr_pct", "CS"): (2, 1, 70.0 + 75.0), ("avg_handling_hours", "CS"): (2, 1, 20.0 + 25.0),
            ("avg_handling_hours", "RND"): (1, 1, 40.0)}
    for key, (judged, met, total) in hand.items():
        row = rows[key]
        assert (row["judged"], row["met"], row["missed"]) == (judged, met, judged - met), key
        assert row["completion_pct"] == pytest.approx(100.0 * met / judged)
        assert row["mean_value"] == pytest.approx(total / judged)
    assert rows[("avg_handling_hours", "RND")]["target"] == 48 and rows[("nps", None)]["judged"] == 0
    assert "record_volume" not in set(pack.kpi_completion["kpi"])
    assert rows[("fcr_pct", "OPS")]["judged"] == 0 and rows[("fcr_pct", "OPS")]["completion_pct"] is None

    by_month = pack.completion_by_month.set_index("period")
    assert list(by_month.index) == [f"2025-{m:02d}" for m in range(1, 13)]
    assert by_month.loc["2025-01", ["judged", "met"]].tolist() == [2, 1]
    assert by_month.loc["2025-02", ["judged", "met"]].tolist() == [2, 1]
    assert by_month.loc["2025-03", "judged"] == 0
    by_dept = {r["department"]: r for r in records(pack.completion_by_department)}
    assert (by_dept[None]["judged"], by_dept[None]["met"], by_dept[None]["completion_pct"]) == (4, 2, 50.0)
    assert (by_dept["CS"]["judged"], by_dept["CS"]["met"]) == (4, 2)
    assert (by_dept["RND"]["judged"], by_dept["RND"]["completion_pct"]) == (1, 100.0)
    assert pack.totals["kpi_completion_pct"] == 50.0 and pack.totals["weakest_department"] == "客服部"
    assert review.year == pack.year


def test_pack_gathers_the_years_complaints_surveys_improvement_and_previous_actions(org):
    with UnitOfWork(org.database_url, actor="test") as uow:
        previous, _ = open_review(uow.session, org, year=2024, today=date(2025, 1, 10))
        uow.session.add(ReviewOutput(review_id=previous.id, kind="decision", text="去年的决议", owner=MANAGERS["CS"],
                                     due_on=date(2025, 6, 30), created_at=_at(date(2025, 2, 10))))
        uow.session.flush()
        from sqms.actions.service import NewAction, open_action

        action = open_action(uow.session, org, NewAction(source="review_decision", type="improvement", title="去年的决议",
                                                         department="CS", due_on=date(2025, 6, 30)),
                             now=_at(date(2025, 2, 10)))
        uow.session.scalars(select(ReviewOutput)).one().action_id = action.id
        received = [("K1", "CS", datetime(2025, 1, 1, 0, 30), True), ("K2", "CS", datetime(2025, 6, 5, 10), False),
                    ("K3", "OPS", datetime(2025, 12, 31, 23, 30), True),
                    ("K0", "CS", datetime(2024, 12, 31, 23, 30), True)]  # local times; K0 is last year's
        for ident, dept, at, settled in received:
            at = at.replace(tzinfo=TZ)
            uow.session.add(Complaint(complaint_id=ident, received_at=at, department=dept, channel="phone",
                                      severity="special" if ident == "K2" else "normal", category="服务态度",
                                      resolved_at=at + timedelta(days=1) if settled else None,
                                      deadline_at=at + timedelta(days=2)))
        uow.session.add(SurveyCampaign(code="2025-annual", kind="annual", questionnaire="annual",
                                       period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), status="reported",
                                       seed=1, sample_total=10, min_per_stratum=1, created_at=_at(date(2026, 1, 10)),
                                       created_by="test", analysis={"response_rate": 41.0, "csat_mean": 4.31,
                                                                    "top2_pct": 86.0, "nps": 35.5, "invited": 100,
                                                                    "responded": 41, "detractors": 3}))
        uow.session.add(ImprovementCycle(department="OPS", kpi="response_within_target_pct", status="do",
                                         owner=MANAGERS["OPS"],
                                         opened_period="2025-09", reason="连续两月未达标", baseline=85.0, target=90.0,
                                         created_at=_at(date(2025, 10, 1)), history=[]))
        review, _ = open_review(uow.session, org, today=OPENED)
        pack = build_pack(uow.session, org, review, as_of=_at(date(2026, 1, 15)))
        uow.commit()

    k = pack.complaints
    assert (k["received"], k["resolved"], k["special"], k["open"]) == (3, 2, 1, 1)
    assert k["closure_pct"] == pytest.approx(200 / 3) and k["on_time_pct"] == pytest.approx(200 / 3)
    by_dept = pack.complaints_by_department.set_index("department")
    assert by_dept.loc["CS", "received"] == 2 and by_dept.loc["OPS", "received"] == 1
    assert pack.complaints_by_month.set_index("period").loc["2025-12", "received"] == 1
    assert pack.complaint_categories.iloc[0].tolist()[:2] == ["服务态度", 3]
    [survey] = pack.surveys.to_dict("records")
    assert (survey["code"], survey["csat_mean"], survey["nps"]) == ("2025-annual", 4.31, 35.5)
    [cycle] = pack.improvement_cycles.to_dict("records")
    assert (cycle["department"], cycle["status"], cycle["owner_name"]) == ("OPS", "do", "刘洋")
    [followed] = pack.previous_actions.to_dict("records")
    assert followed["text"] == "去年的决议" and followed["overdue"] and followed["status"] == "open"
    assert pack.totals["previous_actions"] == 1 and pack.totals["previous_overdue"] == 1
    assert pack.actions.set_index("source").loc["review_decision", "open"] == 1
    assert any("上次管理评审形成措施 1 项" in s for s in pack.summary)


# -- the pack is sent with the invitation ------------------------------------------------------------------


def _ics(settings, message: OutboxMessage) -> Calendar:
    [path] = [a for a in message.attachments if a.endswith(".ics")]
    return Calendar.from_ical(open(path, "rb").read())


def test_pack_and_invitation_go_to_every_participant_and_a_resend_updates_the_event(org):
    _open(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        submit_report(uow.session, org, _review(uow), "CS", text="客服部报告 <script>x</script>", actor="t")
        steps = advance_due(uow.session, org, _at(date(2026, 2, 2)))  # Monday: 4 days before the meeting
        assert [s[1] for s in steps] == ["request_reports"]
        steps = advance_due(uow.session, org, _at(date(2026, 2, 3)))  # pack_days_before = 3
        assert steps == [("2025-review", "send_pack", 10)]
        assert advance_due(uow.session, org, _at(date(2026, 2, 4))) == []
        uow.commit()
    with UnitOfWork(org.database_url, actor="test") as uow:
        mails = _outbox(uow, "2025-review:pack:v1")
        assert {m.recipient for m in mails} == PARTICIPANTS and len(mails) == 10
        assert "2026-02-06 09:30" in mails[0].subject and "总经办会议室" in mails[0].subject
        assert {a.rsplit("/", 1)[1] for a in mails[0].attachments} == {
            "review-pack-2025-v1.html", "review-pack-2025-v1.xlsx", "review-pack-2025-v1.pdf", "management-review-2025-v1.ics"}
        assert "尚未提交年度工作报告的部门" in mails[0].body_text and "客服部、" not in mails[0].body_text
        html = open(next(a for a in mails[0].attachments if a.endswith(".html")), encoding="utf-8").read()
        assert "客服部报告 &lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
        pack_book = openpyxl.load_workbook(next(a for a in mails[0].attachments if a.endswith(".xlsx")))
        assert_print_ready(pack_book, "2025年度管理评审输入材料")
        assert "第 1 版" in pack_book.worksheets[0].oddHeader.right.text
        meeting = {r[0].value: r[1] for r in pack_book["摘要"].iter_rows(min_row=2)}["会议日期"]
        assert meeting.is_date and meeting.value == datetime(2026, 2, 6, 9, 30)
        by_kpi = pack_book["目标完成-按指标"]
        header = [c.value for c in by_kpi[1]]
        first = [c for c in next(by_kpi.iter_rows(min_row=2))]
        assert isinstance(first[header.index("年度目标")].value, (int, float))
        assert first[header.index("目标方向")].value in ("≥", "≤")

        calendar = _ics(org, mails[0])
        [event] = calendar.walk("VEVENT")
        assert calendar["method"] == "REQUEST"
        assert event.decoded("dtstart") == datetime(2026, 2, 6, 9, 30, tzinfo=TZ)
        assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
        assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=3)
        assert {str(a).removeprefix("mailto:") for a in event.get("attendee")} == PARTICIPANTS
        assert str(event["organizer"]) == "mailto:zhang.wei@example.com" and event["location"] == "总经办会议室"
        uid, sequence = str(event["uid"]), int(event["sequence"])
        assert uid == "management-review-2025@example.com" and sequence == 0

        # late reports: the pack goes out again; calendars update the same event
        with pytest.raises(IllegalTransition):
            send_pack(uow.session, org, _review(uow), _at(date(2026, 2, 4)))
        assert send_pack(uow.session, org, _review(uow), _at(date(2026, 2, 4)), resend=True) == 10
        [event2] = _ics(org, _outbox(uow, "2025-review:pack:v2")[0]).walk("VEVENT")
        assert str(event2["uid"]) == uid and int(event2["sequence"]) == 1
        assert _review(uow).status == "pack_sent"
        uow.commit()


# -- outputs, actions, targets, the report --------------------------------------------------------------------


def _to_pack_sent(settings) -> None:
    _open(settings)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        advance_due(uow.session, settings, _at(date(2026, 2, 3)))
        uow.commit()


def test_outputs_become_actions_and_target_changes_are_recorded(org):
    _to_pack_sent(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        with pytest.raises(ReviewError, match="for 2024, not for the review of 2025"):
            record_outputs(uow.session, org, _review(uow), OUTPUTS.replace("year: 2025", "year: 2024"), actor="t")
        added = record_outputs(uow.session, org, _review(uow), OUTPUTS, actor="cli:li.na",
                               now=_at(date(2026, 2, 6), 15))
        assert [o.kind for o in added] == ["decision", "decision", "improvement", "improvement", "resource",
                                           "objective_change", "objective_change"]
        assert _review(uow).status == "outputs_recorded" and _review(uow).minutes.startswith("会议认为")
        actions = {a.title: a for a in uow.session.scalars(select(Action).where(Action.source == "review_decision"))}
        assert len(actions) == 4  # the improvement without an owner stays a recorded output only
        first = next(a for a in actions.values() if "话术" in a.title)
        assert (first.owner, first.due_on, first.department, first.type) == (
            MANAGERS["CS"], date(2026, 3, 31), "CS", "improvement")
        assert first.title.startswith("管理评审2025 评审决议：")
        assert {(link.entity, link.entity_id) for link in first.links} >= {("management_review", "2025-review")}
        ops = next(a for a in actions.values() if "值班" in a.title)
        assert (ops.owner, ops.department, ops.type) == (MANAGERS["OPS"], "OPS", "corrective")
        hr = next(a for a in actions.values() if "坐席" in a.title)
        assert (hr.owner, hr.due_on) == (MANAGERS["HR"], date(2026, 5, 31))
        chased = {i.item_id for i in action_due_items(uow.session, org, _at(date(2026, 2, 7)))}
        assert {a.ref for a in actions.values()} <= chased  # the reminder engine chases them

        changes = {(o.kpi, o.department): o for o in added if o.kind == "objective_change"}
        assert (changes[("fcr_pct", None)].old_target, changes[("fcr_pct", None)].new_target) == (75.0, 78.0)
        assert (changes[("avg_handling_hours", "RND")].old_target,
                changes[("avg_handling_hours", "RND")].new_target) == (48.0, 40.0)
        trail = {e.entity_id: e for e in uow.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "kpi_target"))}
        assert trail["2026:fcr_pct:org"].before == {"target": 75.0}
        assert trail["2026:avg_handling_hours:RND"].after["target"] == 40.0
        document = yaml.safe_load((org.reports_dir / "management-review" / "2025" / "target-changes.yaml")
                                  .read_text(encoding="utf-8"))
        assert document["applies_to_year"] == 2026
        assert document["kpi"] == {"targets": {"fcr_pct": 78.0},
                                   "department_targets": {"RND": {"avg_handling_hours": 40.0}}}
        assert [(c["kpi"], c["old"], c["new"]) for c in document["changes"]] == [
            ("fcr_pct", 75.0, 78.0), ("avg_handling_hours", 48.0, 40.0)]

        # recording the same file again adds nothing; an amendment adds only what is new
        assert record_outputs(uow.session, org, _review(uow), OUTPUTS, actor="t") == []
        more = record_outputs(uow.session, org, _review(uow), {
            "resources": [{"text": "培训预算"}], "improvements": [{"text": "知识库试点", "owner": "li.na@example.com"}]},
            actor="t", now=_at(date(2026, 2, 6), 15))
        assert [(o.kind, o.action_id is None) for o in more] == [("improvement", False), ("resource", True)]
        pilot = uow.session.get(Action, more[0].action_id)  # no due date given: the improvement default
        assert more[0].due_on == pilot.due_on == add_working_days(date(2026, 2, 6), 40)
        uow.commit()

    with UnitOfWork(org.database_url, actor="test") as uow:
        assert advance_due(uow.session, org, _at(date(2026, 2, 9))) == [("2025-review", "report", 10)]
        review = _review(uow)
        assert review.status == "reported" and review.report_id
        generated = uow.session.get(GeneratedReport, review.report_id)
        assert generated.kind == "review-report" and generated.period == "2025"
        assert generated.summary["totals"]["decisions"] == 2 and generated.summary["totals"]["actions"] == 5
        mails = _outbox(uow, "2025-review:report")
        assert {m.recipient for m in mails} == PARTICIPANTS
        book = openpyxl.load_workbook(generated.files["xlsx"])
        decisions = [[c.value for c in row] for row in book["评审决议"].iter_rows()]
        assert decisions[0][:3] == ["内容", "负责人", "完成期限"]
        assert [r[1] for r in decisions[1:]] == ["王芳", "刘洋"]
        assert [r[0] for r in book["目标调整"].iter_rows(values_only=True)][1:] == ["首次解决率", "平均处理时长"]
        assert_print_ready(book)
        changes = list(book["目标调整"].iter_rows(min_row=2))
        header = [c.value for c in book["目标调整"][1]]
        fcr = changes[0][header.index("2026年目标")]
        assert isinstance(fcr.value, (int, float)) and fcr.number_format == '0.0"%"'
        assert changes[0][header.index("目标方向")].value == "≥" and changes[1][header.index("目标方向")].value == "≤"
        html = open(generated.files["html"], encoding="utf-8").read()
        assert "&lt;b&gt;不是标记&lt;/b&gt;" in html and "≥78%" in html
        with pytest.raises(ReviewError, match="report is issued"):
            submit_report(uow.session, org, review, "HR", text="迟到的报告", actor="t")
        with pytest.raises(IllegalTransition):
            record_outputs(uow.session, org, review, {"resources": [{"text": "太晚"}]}, actor="t")


def test_outputs_are_checked_whole_and_name_every_problem(org):
    _to_pack_sent(org)
    bad = {
        "decisions": [{"text": "无负责人"}, {"text": "x", "owner": "nobody@example.com", "due": "2026-13-01"}],
        "objective_changes": [{"kpi": "record_volume", "target": "much"}, {"kpi": "nps", "department": "XX",
                                                                           "target": 40}],
        "resources": [{"text": "y", "colour": "red"}],
        "agenda": [],
    }
    with UnitOfWork(org.database_url, actor="test") as uow:
        with pytest.raises(ReviewError) as error:
            record_outputs(uow.session, org, _review(uow), bad, actor="t")
        message = str(error.value)
        for expected in ("decisions[0]: a decision needs an owner and a due date",
                         "decisions[1].owner: 'nobody@example.com' is not a configured person",
                         "decisions[1].due: '2026-13-01' is not a date",
                         "objective_changes[0].kpi: 'record_volume' is not a KPI with a target",
                         "objective_changes[0].target: 'much' is not a number",
                         "objective_changes[1].department: unknown department 'XX'",
                         "resources[0].colour: unknown field", "agenda: unknown section"):
            assert expected in message, expected
        assert uow.session.scalar(select(func.count()).select_from(ReviewOutput)) == 0
        assert _review(uow).status == "pack_sent"


def test_outputs_need_the_pack_first(org):
    _open(org)
    with UnitOfWork(org.database_url, actor="test") as uow:
        with pytest.raises(IllegalTransition, match="cannot 'record_outputs' from 'planned'"):
            record_outputs(uow.session, org, _review(uow), {"decisions": []}, actor="t")


def test_the_example_outputs_file_is_valid(sqlite_settings):
    parsed = parse_outputs(sqlite_settings, ROOT / "config" / "review-outputs.example.yaml")
    kinds = [e.kind for e in parsed.entries]
    assert parsed.year == 2025 and parsed.minutes
    assert kinds.count("decision") == 2 and kinds.count("objective_change") == 2
    assert all(e.owner and e.due_on for e in parsed.entries if e.kind == "decision")


# -- the command line ---------------------------------------------------------------------------------------


def test_review_commands(sqms_env, sqlite_url, tmp_path):
    from typer.testing import CliRunner

    from sqms.org.service import sync_organisation
    from sqms.reviews.cli import app

    settings = sqms_env(sqlite_url)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    runner = CliRunner()
    opened = runner.invoke(app, ["open", "--year", "2025", "--meeting-on", "2027-03-02"])
    assert opened.exit_code == 0, opened.output
    assert "opened: 2025-review [planned], meeting 2027-03-02" in opened.output
    assert runner.invoke(app, ["submit", "CS", "--text", "年度报告"]).exit_code == 0
    missing = runner.invoke(app, ["submit", "HR"])
    assert missing.exit_code == 2 and "--text or --file" in missing.output
    assert runner.invoke(app, ["outputs", "2025", str(tmp_path / "none.yaml")]).exit_code == 1
    early = runner.invoke(app, ["outputs", "2025", str(ROOT / "config" / "review-outputs.example.yaml")])
    assert early.exit_code == 2 and "cannot 'record_outputs' from 'planned'" in early.output
    shown = runner.invoke(app, ["show", "2025"])
    assert shown.exit_code == 0 and "CS     submitted" in shown.output and "HR     missing" in shown.output
    listed = runner.invoke(app, ["list"])
    assert "2025-review" in listed.output and "1/8" in listed.output
    assert runner.invoke(app, ["show", "2019"]).exit_code == 1


def test_the_whole_review_reads_in_english(sqlite_url, tmp_path):
    """locale: en — every mail, the pack and the report render from the English templates."""
    from sqms.org.service import sync_organisation
    from tests.conftest import make_settings

    settings = make_settings(sqlite_url, tmp_path, organisation={
        "name": "华信运营服务有限公司", "name_en": "Huaxin Operations", "locale": "en"})
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        open_review(uow.session, settings, today=OPENED)
        advance_due(uow.session, settings, _at(date(2026, 1, 12)))
        submit_report(uow.session, settings, _review(uow), "CS", text="Customer service: a good year.", actor="t")
        advance_due(uow.session, settings, _at(date(2026, 2, 3)))
        record_outputs(uow.session, settings, _review(uow), OUTPUTS, actor="t")
        advance_due(uow.session, settings, _at(date(2026, 2, 9)))
        subjects = {m.object.split(":")[1]: m.subject for m in _outbox(uow, "2025-review:%")}
        assert subjects["request"].startswith("[Management review] ") and "annual report 2025" in subjects["request"]
        assert "Tuesday" not in subjects["pack"] and "2026-02-06 09:30" in subjects["pack"]
        assert subjects["report"] == "[Management review report] Management review 2025"
        pack = _outbox(uow, "2025-review:pack:v1")[0]
        assert "Friday 2026-02-06, 09:30–12:30" in pack.body_text and "Customer service" not in pack.body_text
        report = uow.session.get(GeneratedReport, _review(uow).report_id)
        html = open(report.files["html"], encoding="utf-8").read()
        assert "Management Review Report 2025" in html and "First-contact resolution" in html
        [event] = _ics(settings, pack).walk("VEVENT")
        assert str(event["summary"]) == "Management review 2025"
