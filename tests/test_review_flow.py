"""A whole management review as Prefect runs it: demo data for the year reviewed, the session's Prefect
test harness, a real aiosmtpd server, SQLite and PostgreSQL. Nothing of our own is mocked."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from sqms.calendar import add_working_days, to_local, utcnow
from sqms.db import UnitOfWork
from sqms.kpi_catalog import status_of

pytestmark = pytest.mark.prefect


def _artifacts(flow_run_id) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {a.key: a for a in found}


def _attachments(message) -> dict[str, bytes]:
    """The attachments' bytes (text parts carry no charset, so they are decoded here, as UTF-8)."""
    return {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}


def _sheet(content: bytes, name: str) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [list(row) for row in book[name].iter_rows(values_only=True)]


def _organisation_targets_met(session, settings, year: int) -> tuple[int, int]:
    """By hand: each month's latest stored computation, the organisation's values against the year's targets."""
    from sqms.records.service import latest_computation

    met = judged = 0
    for month in range(1, 13):
        for v in latest_computation(session, f"{year}-{month:02d}").values:
            if v.department is None:
                status = status_of(v.kpi, v.value, settings.kpi.target(v.kpi, None))
                met += status == "met"
                judged += status in ("met", "missed")
    return met, judged


def test_management_review_flow(prefect_harness, db_url, sqms_env, smtp_server, tmp_path):
    """Open the previous year's review, ask for the annual reports once, send the pack with its invitation,
    record the outputs in the run form, mail the report."""
    from flows.reviews import management_review
    from sqms.actions.models import Action
    from sqms.complaints.models import Complaint
    from sqms.demo import load_demo
    from sqms.org.service import sync_organisation
    from sqms.reviews.models import ManagementReview
    from sqms.reviews.pack import year_bounds
    from sqms.reviews.service import submit_report
    from sqms.surveys.models import SurveyCampaign

    settings = sqms_env(db_url, **smtp_server.env())
    today = to_local(utcnow(), settings.tz).date()
    year = today.year - 1
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    load_demo(settings, seed=5, end_period=f"{year}-12", now=datetime(year + 1, 1, 5, tzinfo=timezone.utc), months=12)
    with UnitOfWork(settings.database_url, actor="test") as uow:  # the annual survey of the year, as analysed
        uow.session.add(SurveyCampaign(
            code=f"{year}-annual", kind="annual", questionnaire="annual", period_start=datetime(year, 1, 1).date(),
            period_end=datetime(year, 12, 31).date(), status="reported", seed=1, sample_total=400, min_per_stratum=20,
            created_at=utcnow(), created_by="test",
            analysis={"response_rate": 38.5, "csat_mean": 4.27, "top2_pct": 84.1, "nps": 33.3, "invited": 400,
                      "responded": 154, "detractors": 9}))
        uow.commit()

    # 10 January: the review opens and every department head is asked for the annual report, once
    opened = management_review(open_review=True, return_state=True)
    assert opened.is_completed(), opened.message
    code = f"{year}-review"
    assert opened.result()["opened"] == code and opened.result()["steps"] == [[code, "request_reports", 8]]
    managers = sorted(p.email for p in settings.people_with_role("department_manager"))
    assert sorted(smtp_server.recipients()) == managers
    assert all("年度工作报告" in m["Subject"] for m in smtp_server.messages)
    assert management_review(open_review=True, return_state=True).result()["sent"] == 0

    # two departments report (text, file); then time passes until the pack is due
    report_file = tmp_path / "运营部年度工作报告.txt"
    report_file.write_text("运营部：全年响应及时率下半年下滑，原因是在线渠道人手不足。", encoding="utf-8")
    with UnitOfWork(settings.database_url, actor="test") as uow:
        review = uow.session.scalars(select(ManagementReview)).one()
        submit_report(uow.session, settings, review, "CS", text="客服部：全年投诉按期办结。", actor="cli:wang.fang")
        submit_report(uow.session, settings, review, "OPS", file=report_file, actor="cli:liu.yang")
        review.meeting_on = add_working_days(today, 2)  # as if the meeting were near
        meeting_on, participants = review.meeting_on, set(review.participants)
        uow.commit()
    smtp_server.clear()
    packed = management_review(return_state=True)
    assert packed.is_completed(), packed.message
    assert packed.result()["steps"] == [[code, "send_pack", 10]] and packed.result()["sent"] == 10
    pack_mails = smtp_server.messages
    assert {m["To"].addresses[0].addr_spec for m in pack_mails} == participants
    files = _attachments(pack_mails[0])
    assert set(files) == {f"review-pack-{year}-v1.html", f"review-pack-{year}-v1.xlsx", f"review-pack-{year}-v1.pdf",
                          f"management-review-{year}-v1.ics",
                          f"OPS-{report_file.name}"}
    assert "会议通知" in pack_mails[0]["Subject"] and meeting_on.isoformat() in pack_mails[0]["Subject"]

    # the invitation parses: the meeting at 09:30 Shanghai time, every participant invited
    [event] = Calendar.from_ical(files[f"management-review-{year}-v1.ics"]).walk("VEVENT")
    assert event.decoded("dtstart") == datetime.combine(meeting_on, datetime.min.time().replace(hour=9, minute=30),
                                                        tzinfo=settings.tz)
    assert {str(a).removeprefix("mailto:") for a in event.get("attendee")} == participants
    assert str(event["uid"]) == f"management-review-{year}@example.com"

    # the pack's content is the year's data
    start, end = year_bounds(year, settings)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        complaints = uow.session.scalar(select(func.count()).select_from(Complaint).where(
            Complaint.received_at >= start, Complaint.received_at < end))
        met, judged = _organisation_targets_met(uow.session, settings, year)
    pack_xlsx = files[f"review-pack-{year}-v1.xlsx"]
    by_department = _sheet(pack_xlsx, "投诉-按部门")
    assert by_department[0][:2] == ["部门", "受理"] and sum(r[1] for r in by_department[1:]) == complaints > 100
    completion = _sheet(pack_xlsx, "目标完成-按部门")
    assert completion[1][:4] == ["组织整体", judged, met, judged - met] and judged >= 100
    surveys = _sheet(pack_xlsx, "满意度调查")
    assert dict(zip(surveys[0], surveys[1])) | {"起": None, "止": None} == {
        "调查": f"{year}-annual", "起": None, "止": None, "邀请": 400, "回收": 154, "回收率%": 38.5, "满意度均值": 4.27,
        "满意率%": 84.1, "净推荐值": 33.3, "不满意客户": 9}
    html = files[f"review-pack-{year}-v1.html"].decode("utf-8")
    assert "客服部：全年投诉按期办结。" in html and f"{judged - met}" in html
    assert "review-pack" in _artifacts(packed.state_details.flow_run_id)

    # the meeting: its outputs are given in the run form; a wrong form fails at once and records nothing
    from sqms.reviews.service import ReviewError

    wrong = management_review(outputs="decisions:\n  - {text: 无负责人的决议}\n", return_state=True)
    assert wrong.is_failed()
    with pytest.raises(ReviewError, match=r"decisions\[0\]: a decision needs an owner and a due date"):
        wrong.result()
    smtp_server.clear()  # (the admins were told of the failed run)
    outputs = (f"year: {year}\n"
               "attendees: [张伟, 李娜, liu.yang@example.com, 赵磊]\n"
               "decisions:\n"
               f"  - {{text: 在线渠道高峰增加值班, owner: liu.yang@example.com, due: {meeting_on + timedelta(days=60)}}}\n"
               "resources:\n"
               f"  - {{text: 增加2名在线客服坐席, owner: 赵磊, due: {meeting_on + timedelta(days=90)}}}\n"
               "objective_changes:\n"
               "  - {kpi: fcr_pct, department: null, target: 78}\n")
    early = management_review(outputs=outputs, return_state=True)  # the meeting has not taken place yet
    assert early.is_failed()
    with pytest.raises(ReviewError, match="has not taken place yet"):
        early.result()
    smtp_server.clear()
    with UnitOfWork(settings.database_url, actor="test") as uow:  # the meeting day has come
        uow.session.scalars(select(ManagementReview)).one().meeting_on = today
        uow.commit()
    reported = management_review(outputs=outputs, return_state=True)
    assert reported.is_completed(), reported.message
    result = reported.result()
    # the report to the 10 participants, and each new action to its owner at once
    assert len(result["outputs"]) == 3 and result["steps"] == [[code, "report", 10]] and result["sent"] == 12
    with UnitOfWork(settings.database_url, actor="test") as uow:
        actions = uow.session.scalars(select(Action).where(Action.source == "review_decision")
                                      .order_by(Action.id)).all()
        assert [(a.owner, a.department, a.due_on) for a in actions] == [
            ("liu.yang@example.com", "OPS", meeting_on + timedelta(days=60)),
            ("zhao.lei@example.com", "HR", meeting_on + timedelta(days=90))]
        assert uow.session.scalars(select(ManagementReview)).one().status == "reported"
    report_mails = [m for m in smtp_server.messages if "管理评审报告" in m["Subject"]]
    assert {m["To"].addresses[0].addr_spec for m in report_mails} == participants
    assigned = sorted(m["To"].addresses[0].addr_spec for m in smtp_server.messages if "管理评审报告" not in m["Subject"])
    assert assigned == ["liu.yang@example.com", "zhao.lei@example.com"]
    report_files = _attachments(report_mails[0])
    assert set(report_files) == {f"review-report-{year}-v1.html", f"review-report-{year}-v1.xlsx",
                                 f"review-report-{year}-v1.pdf"}
    decisions = _sheet(report_files[f"review-report-{year}-v1.xlsx"], "评审决议")
    assert decisions[1][:2] == ["在线渠道高峰增加值班", "刘洋"] and decisions[1][3] == actions[0].ref
    assert "review-report" in _artifacts(reported.state_details.flow_run_id)

    assert management_review(return_state=True).result() == {"opened": None, "outputs": None, "steps": [],
                                                             "sent": 0, "failed": 0}
