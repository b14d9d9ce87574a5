"""A re-generated monthly report whose figures changed after v1 went out is mailed once more to the
same list, marked as a correction and saying what changed; a rerun with the same figures is not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.monthly.messaging import queue_monthly_report_mails
from sqms.records.service import compute_and_store
from sqms.monthly.rendering import produce_monthly_report
from tests.factories import PERIOD, TZ, _records, seed_mixed


def _run(settings) -> int:
    with UnitOfWork(settings.database_url, actor="test") as uow:
        report = produce_monthly_report(uow.session, settings, compute_and_store(uow.session, settings, PERIOD))
        queued = queue_monthly_report_mails(uow.session, settings, report)
        uow.commit()
    return queued


def _mark_sent(settings) -> None:
    with UnitOfWork(settings.database_url, actor="test") as uow:
        uow.session.execute(update(OutboxMessage).values(status="sent"))
        uow.commit()


def _mails(settings) -> list[OutboxMessage]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.process == "monthly-report")
                                        .order_by(OutboxMessage.id)))


def test_a_changed_v2_goes_once_as_a_correction_and_an_identical_rerun_not(sqlite_settings):
    seed_mixed(sqlite_settings)
    recipients = len(sqlite_settings.resolve_recipients(sqlite_settings.report.distribution))
    assert _run(sqlite_settings) == recipients
    _mark_sent(sqlite_settings)
    assert _run(sqlite_settings) == 0  # v2, same figures: nothing goes out again

    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:  # late records arrive for March
        uow.session.add_all(_records("LATE", "CS", datetime(2026, 3, 20, 9, tzinfo=TZ), 10, channel="phone",
                                     response_s=10, handling_h=2, fcr_true=0))
        uow.commit()
    assert _run(sqlite_settings) == recipients  # v3 differs from v2 (= v1): a correction to the same list
    corrections = [m for m in _mails(sqlite_settings) if m.object.startswith("correction:")]
    assert len(corrections) == recipients and {m.object for m in corrections} == {"correction:v3"}
    mail = corrections[0]
    assert mail.subject.startswith("【更正】[服务质量月报]")
    assert "本邮件为第 2 版月报的更正（第 3 版），变化如下：" in mail.body_text
    assert "- 服务量: 80 (无目标) → 90 (无目标)" in mail.body_text and "- records: 80 → 90" in mail.body_text
    assert "- 首次解决率: 85.0% (达标) → 75.6% (达标)" in mail.body_text
    assert "本邮件为第 2 版月报的更正" in mail.body_html
    # the version is in the file names, attached and named in the mail
    names = sorted(a.rsplit("/", 1)[1] for a in mail.attachments)
    assert names == [f"monthly-report-{PERIOD}-v3.html", f"monthly-report-{PERIOD}-v3.pdf",
                     f"monthly-report-{PERIOD}-v3.xlsx"]
    assert all(f"/v3/monthly-report-{PERIOD}-v3." in a for a in mail.attachments)
    assert f"完整报告见附件：monthly-report-{PERIOD}-v3.html" in mail.body_text
    assert f"monthly-report-{PERIOD}-v3.xlsx（数据表）" in mail.body_text and "投诉分析报告见附件" not in mail.body_text
    _mark_sent(sqlite_settings)
    assert _run(sqlite_settings) == 0  # v4 = v3: no second correction
    assert {m.object for m in _mails(sqlite_settings)} == {"report", "correction:v3"}


def test_versioned_names() -> None:
    from sqms.reporting.versions import versioned_name

    assert versioned_name("monthly-report-2026-10.html", 2) == "monthly-report-2026-10-v2.html"
    assert versioned_name("monthly-report-2026-10-v2.html", 2) == "monthly-report-2026-10-v2.html"
    assert versioned_name("survey-report-2026-Q3-v1.xlsx", 3) == "survey-report-2026-Q3-v1-v3.xlsx"
