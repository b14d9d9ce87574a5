"""Issue 17 §1: `report.hold_hours` — the monthly report is made as a draft, the quality manager is
mailed its link and may add a written analysis (`sqms report comment`), and the report goes to its
list at the end of the hold (the report-release flow) or at once (`sqms report release`), with the
analysis printed. Real Prefect runs, SQLite, the mails parsed from an aiosmtpd server."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from sqms.audit_trail import AuditEntry
from sqms.calendar import utcnow
from sqms.cli import app
from sqms.db import UnitOfWork
from sqms.reporting.models import GeneratedReport, ReportHold
from tests.factories import PERIOD, seed_mixed

pytestmark = pytest.mark.prefect
runner = CliRunner()
ANALYSIS = "运营部在线渠道响应率下降，主因是 3 月中旬排班缺口。\n已调整排班规范，4 月复查。<b>勿转义失败</b>"


@pytest.fixture
def flows(prefect_harness):
    from flows.monthly_report import monthly_service_quality_report, report_release

    return monthly_service_quality_report, report_release


def _attachments(message: EmailMessage) -> dict[str, bytes | str]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def _report_mails(smtp_server) -> list[EmailMessage]:
    return [m for m in smtp_server.messages if "[服务质量月报]" in m["Subject"]]


def _versions(settings) -> list[int]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(GeneratedReport.version).where(
            GeneratedReport.kind == "monthly-report").order_by(GeneratedReport.version)))


def test_held_draft_analysis_and_release_at_the_end_of_the_hold(flows, sqlite_url, sqms_env, smtp_server):
    report_flow, release_flow = flows
    settings = sqms_env(sqlite_url, SQMS_REPORT__HOLD_HOURS="24", **smtp_server.env())
    seed_mixed(settings)
    started = utcnow()

    result = report_flow(period=PERIOD)
    assert result["version"] == 1 and result["held_until"] is not None
    # only the quality manager hears of it, with a link to the draft and the draft attached
    assert _report_mails(smtp_server) == []
    drafts = [m for m in smtp_server.messages if m["Subject"].startswith("【草稿】")]
    assert [m["To"].addresses[0].addr_spec for m in drafts] == ["li.na@example.com"]
    draft = drafts[0]
    assert f"服务质量月报 {PERIOD}（第 1 版）待您补充分析" in draft["Subject"]
    text = draft.get_body(preferencelist=("plain",)).get_content()
    assert f"sqms report comment {PERIOD}" in text and f"sqms report release {PERIOD}" in text
    assert f"{settings.web.base_url}/app/reports/{result['report_id']}/html" in text
    assert set(_attachments(draft)) == {f"monthly-report-{PERIOD}-v1.html", f"monthly-report-{PERIOD}-v1.xlsx",
                                        f"monthly-report-{PERIOD}-v1.pdf"}
    with UnitOfWork(settings.database_url) as uow:
        hold = uow.session.scalars(select(ReportHold)).one()
        assert hold.until - started >= timedelta(hours=24) and hold.until - started < timedelta(hours=25)
        assert hold.released_at is None and len(hold.also) == 1  # the complaint analysis travels with it

    assert release_flow()["released"] == []  # the hold is not over: nothing goes out
    assert _report_mails(smtp_server) == []

    out = runner.invoke(app, ["report", "comment", PERIOD, "--text", ANALYSIS, "--as", "li.na"])
    assert out.exit_code == 0, out.output
    assert "analysis kept" in out.output
    listed = runner.invoke(app, ["report", "held"])
    assert f"monthly-report {PERIOD} v1" in listed.output and "analysis: yes, by cli:li.na" in listed.output
    with UnitOfWork(settings.database_url) as uow:
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "comment")).one()
        assert (entry.actor, entry.entity_id, entry.after) == ("cli:li.na", f"monthly-report:{PERIOD}",
                                                               {"commentary": ANALYSIS})
        uow.session.execute(update(ReportHold).values(until=utcnow() - timedelta(minutes=1)))  # the hold is over
        uow.commit()

    smtp_server.clear()
    released = release_flow()
    assert [(r["period"], r["version"], r["commentary"]) for r in released["released"]] == [(PERIOD, 2, True)]
    mails = _report_mails(smtp_server)
    distribution = sorted(getattr(r, "email", r) for r in settings.resolve_recipients(settings.report.distribution))
    assert sorted(m["To"].addresses[0].addr_spec for m in mails) == distribution
    mail = mails[0]
    assert not mail["Subject"].startswith("【更正】")  # the list never had v1: this is the report, not a correction
    files = _attachments(mail)
    assert set(files) == {f"monthly-report-{PERIOD}-v2.html", f"monthly-report-{PERIOD}-v2.xlsx",
                          f"monthly-report-{PERIOD}-v2.pdf", f"complaint-report-{PERIOD}-v1.html",
                          f"complaint-report-{PERIOD}-v1.xlsx", f"complaint-report-{PERIOD}-v1.pdf"}
    html = files[f"monthly-report-{PERIOD}-v2.html"]
    html = html.decode() if isinstance(html, bytes) else html
    section = html[html.index('<section id="problems">'):html.index('<section id="improvement">')]
    assert 'id="commentary"' in section and "质量经理分析" in section and "<p>运营部在线渠道响应率下降，主因是 3 月中旬排班缺口。</p>" in section
    assert "&lt;b&gt;勿转义失败&lt;/b&gt;" in section and "<b>勿转义失败" not in html
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"monthly-report-{PERIOD}-v2.html" in body and f"complaint-report-{PERIOD}-v1.html" in body
    assert _versions(settings) == [1, 2]

    assert release_flow()["released"] == []  # released once
    smtp_server.clear()
    rerun = report_flow(period=PERIOD)  # after the release a new version is not held again; same figures
    assert rerun["held_until"] is None and rerun["version"] == 3 and _report_mails(smtp_server) == []
    rerun_html = open(rerun["files"]["html"], encoding="utf-8").read()
    assert 'id="commentary"' in rerun_html and "运营部在线渠道响应率下降" in rerun_html  # the month's analysis stays with its report


def test_release_at_once_without_analysis_sends_the_draft(flows, sqlite_url, sqms_env, smtp_server):
    report_flow, _ = flows
    settings = sqms_env(sqlite_url, SQMS_REPORT__HOLD_HOURS="48", **smtp_server.env())
    seed_mixed(settings)
    assert report_flow(period=PERIOD)["held_until"] is not None
    assert runner.invoke(app, ["report", "release", "2026-02"]).exit_code == 2  # nothing held for February
    out = runner.invoke(app, ["report", "release", PERIOD, "--as", "li.na"])
    assert out.exit_code == 0, out.output
    assert f"released monthly-report {PERIOD} v1:" in out.output
    mails = _report_mails(smtp_server)
    assert len(mails) == len(settings.resolve_recipients(settings.report.distribution))
    assert f"monthly-report-{PERIOD}-v1.html" in _attachments(mails[0])
    assert _versions(settings) == [1]  # no analysis: the draft itself went out
    html = open(next(iter(
        p for p in _files(settings) if p.endswith(".html"))), encoding="utf-8").read()
    assert 'id="commentary"' not in html
    again = runner.invoke(app, ["report", "release", PERIOD])
    assert again.exit_code == 2 and "released already" in again.output
    comment = runner.invoke(app, ["report", "comment", PERIOD, "--text", "太迟了"])
    assert comment.exit_code == 2 and "released already" in comment.output
    with UnitOfWork(settings.database_url) as uow:
        hold = uow.session.scalars(select(ReportHold)).one()
        assert hold.released_by == "cli:li.na" and hold.commentary is None
        assert uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "release")) == 1


def _files(settings) -> list[str]:
    with UnitOfWork(settings.database_url) as uow:
        report = uow.session.scalars(select(GeneratedReport).where(GeneratedReport.kind == "monthly-report")).one()
        return list(report.files.values())
