"""When the database itself fails mid-run: the admins are still alerted (straight through SMTP, or an
.eml file), the run's error is the one reported, and no report file is left for a version that was
never recorded. The PostgreSQL database is really dropped while the run works."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqms.config import SmtpSettings
from tests.conftest import drop_database, make_settings, migrated_database


@pytest.fixture
def doomed_postgres():
    """A migrated PostgreSQL database of its own (the test drops it); returns (url, drop)."""
    with migrated_database("sqms_doomed") as url:
        yield url, lambda: drop_database(url)


def test_a_lock_whose_database_is_gone_does_not_hide_the_runs_error(doomed_postgres):
    from sqms.locks import process_lock

    url, drop = doomed_postgres
    with pytest.raises(RuntimeError, match="the run's own failure"):
        with process_lock(url, "monthly-report:2026-10", holder="run-1"):
            drop()
            raise RuntimeError("the run's own failure")


def test_alert_without_a_database_goes_straight_out_once_a_day(sqlite_settings, tmp_path, smtp_server):
    from sqms.db import UnitOfWork
    from sqms.notify.alerts import queue_failure_alert, send_failure_alert_directly

    alert = dict(flow_name="monthly-report", run_name="monthly-report-2026-10", run_id="r1", state_name="Failed",
                 message="OperationalError: database is gone", parameters={"period": "2026-10"})
    settings = sqlite_settings  # no SMTP host: the alert is an .eml file in the outbox folder
    admins = sorted(a.email for a in settings.admins())
    assert send_failure_alert_directly(settings, **alert) == len(admins)
    emls = sorted(Path(settings.outbox_dir).glob("*.eml"))
    assert len(emls) == len(admins) and "database is gone" in emls[0].read_text(errors="replace")
    assert send_failure_alert_directly(settings, **alert) == 0  # once a day
    with UnitOfWork(settings.database_url) as uow:  # the database is back: the outbox does not tell them again
        assert queue_failure_alert(uow.session, settings, **alert) == 0

    smtp = make_settings(settings.database_url, tmp_path / "other",
                         smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port))
    assert send_failure_alert_directly(smtp, **alert) == len(admins)
    assert sorted(smtp_server.recipients()) == admins
    assert "流程运行失败" in smtp_server.messages[0]["Subject"]


@pytest.mark.prefect
def test_the_database_dropped_mid_run_still_alerts_and_leaves_no_orphan_report(
        prefect_harness, doomed_postgres, sqms_env, smtp_server, monkeypatch):
    import sqms.reporting.service as reporting
    from flows.monthly_report import monthly_service_quality_report
    from tests.factories import PERIOD, seed_mixed

    url, drop = doomed_postgres
    settings = sqms_env(url, **smtp_server.env())
    seed_mixed(settings)

    checksum = reporting.files_checksum
    dropped = []

    def drop_once_written(files):
        """The report's files are on disk, its version not yet recorded: the database goes away."""
        if not dropped:
            assert all(Path(p).is_file() for p in files.values())
            dropped.append(files)
            drop()
        return checksum(files)

    monkeypatch.setattr(reporting, "files_checksum", drop_once_written)
    state = monthly_service_quality_report(period=PERIOD, return_state=True)

    assert state.is_failed() and dropped
    assert "could not release lock" not in (state.message or "")
    admins = sorted(a.email for a in settings.admins())
    assert sorted(smtp_server.recipients()) == admins  # the alert went out without the database
    body = smtp_server.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "monthly-report" in body and PERIOD in body
    written = [Path(p) for p in dropped[0].values()]
    assert not any(p.exists() for p in written) and not written[0].parent.exists()  # no orphan version
    assert [p for p in Path(settings.reports_dir).rglob("*") if p.is_file()] == []
