"""Organisation-declared working-day calendars (`config/calendar/<year>.yaml`, issue 19 item 36).

The 2027 dates below are TEST DATA for a year chinesecalendar 1.11 does not know, not the official
2027 notice (unpublished when this was written)."""

from __future__ import annotations

import email
import shutil
from datetime import date, datetime, time
from email import policy
from pathlib import Path

import pytest
import yaml

from sqms import calendar as cal
from sqms.config import ConfigError
from tests.conftest import ROOT, make_settings

TEST_2027 = {"year": 2027, "source": "test data, not the official notice",
             "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}],
             "workdays": [{"date": "2027-01-09", "name": "元旦调休"}]}


@pytest.fixture(autouse=True)
def restore_calendar():
    yield
    cal.use_declared(ROOT / "config" / "calendar")


@pytest.fixture
def declared(tmp_path: Path):
    """Write `<year>.yaml` files into a calendar folder; returns the folder."""
    folder = tmp_path / "calendar"
    folder.mkdir()

    def write(*years: dict) -> Path:
        for data in years:
            (folder / f"{data['year']}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return folder

    return write


def test_the_library_does_not_know_2027():
    assert not cal.library_knows(2027)  # the premise of this file; when it fails, revisit config/calendar


def test_the_shipped_example_agrees_with_the_library():
    data = yaml.safe_load((ROOT / "config" / "calendar" / "2026.yaml.example").read_text(encoding="utf-8"))
    cal._declared = {2026: cal.parse_declared_year(data, "2026.yaml")}
    try:
        assert cal.disagreements(2026) == []
    finally:
        cal._declared = {}
    assert not list((ROOT / "config" / "calendar").glob("*.yaml"))  # no unofficial year is active


@pytest.mark.parametrize("change, message", [
    ({"year": 2028}, "2027.yaml: year: 2028 does not match the file name"),
    ({"holidays": [{"name": "元旦", "from": "2026-12-31", "to": "2027-01-01"}]}, "holidays[0].from: 2026-12-31 is not in 2027"),
    ({"holidays": [{"from": "2027-01-01"}]}, "holidays[0]: needs a name"),
    ({"workdays": [{"date": "2027-01-04"}]}, "workdays[0]: 2027-01-04 is a Monday"),
    ({"workdays": [{"date": "2027-01-02"}]}, "workdays[0]: 2027-01-02 is also declared a holiday"),
    ({"holidays": [{"name": "元旦", "from": "2027-01-03", "to": "2027-01-01"}]}, "is before from"),
    ({"holiday": []}, "unknown key(s) holiday"),
])
def test_a_bad_file_is_refused_naming_file_and_key(declared, tmp_path, sqlite_url, change, message):
    folder = declared({**TEST_2027, **change}) if "year" not in change else declared(TEST_2027)
    if "year" in change:
        (folder / "2027.yaml").write_text(yaml.safe_dump({**TEST_2027, **change}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        make_settings(sqlite_url, tmp_path, calendar_dir=folder)
    assert message in str(err.value)


def test_deadlines_across_the_year_boundary(declared, tmp_path, sqlite_url):
    """Received Thursday 2026-12-31 (2026: the library): 2 working days. Unknown 2027 counts New Year's Day;
    the declared 2027 does not, and its make-up Saturday counts."""
    received = cal.to_utc(datetime(2026, 12, 31, 10, 0), cal.ZoneInfo("Asia/Shanghai"))
    tz = cal.ZoneInfo("Asia/Shanghai")

    make_settings(sqlite_url, tmp_path, calendar_dir=tmp_path / "none")
    assert cal.source_of(2027) is None
    assert cal.to_local(cal.deadline_after(received, 2, tz), tz).date() == date(2027, 1, 4)  # Fri 1 Jan counted

    make_settings(sqlite_url, tmp_path, calendar_dir=declared(TEST_2027))
    assert cal.source_of(2027) == "declared" and cal.source_of(2026) == "library"
    assert not cal.is_working_day(date(2027, 1, 1)) and cal.is_working_day(date(2027, 1, 9))
    assert cal.to_local(cal.deadline_after(received, 2, tz), tz).date() == date(2027, 1, 5)
    assert cal.working_days_between(date(2027, 1, 4), date(2027, 1, 11)) == 6  # Tue–Fri, Sat 9, Mon 11


def test_the_file_yields_to_an_agreeing_library_and_a_disagreement_fails_doctor(declared, tmp_path, sqlite_url):
    from sqms.doctor import check_calendar_files

    example = yaml.safe_load((ROOT / "config" / "calendar" / "2026.yaml.example").read_text(encoding="utf-8"))
    settings = make_settings(sqlite_url, tmp_path, calendar_dir=declared(example))
    check = check_calendar_files(settings)
    assert check.ok and "agrees with chinesecalendar" in check.detail

    example["workdays"] = [w for w in example["workdays"] if w["date"] != date(2026, 10, 10)]
    folder = tmp_path / "calendar2"
    shutil.copytree(tmp_path / "calendar", folder)
    (folder / "2026.yaml").write_text(yaml.safe_dump(example, allow_unicode=True), encoding="utf-8")
    settings = make_settings(sqlite_url, tmp_path, calendar_dir=folder)
    assert cal.disagreements(2026) == [(date(2026, 10, 10), True, False)]
    check = check_calendar_files(settings)
    assert not check.ok and "2026-10-10" in check.detail
    assert not cal.is_working_day(date(2026, 10, 10))  # the organisation's file is used meanwhile


def _open_complaint_due_2027(settings):
    """An open complaint (as imported) whose settle-by deadline falls in 2027."""
    from sqms.complaints.models import Complaint
    from sqms.db import UnitOfWork
    from sqms.org.service import sync_organisation

    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.session.add(Complaint(complaint_id="CP-20261130-001", department="CS", channel="phone",
                                  severity="special", category="服务态度", status="registered",
                                  received_at=cal.to_utc(datetime(2026, 11, 30, 10, 0), settings.tz),
                                  deadline_at=cal.to_utc(datetime(2027, 1, 4, 23, 59, 59), settings.tz)))
        uow.commit()
    return "CP-20261130-001"


def test_doctor_fails_on_an_open_deadline_in_an_unknown_year(declared, tmp_path, sqlite_url):
    from sqms.doctor import check_open_deadlines

    settings = make_settings(sqlite_url, tmp_path, calendar_dir=tmp_path / "none")
    ident = _open_complaint_due_2027(settings)
    check = check_open_deadlines(settings)
    assert not check.ok and not check.warning and "2027" in check.detail and ident in check.detail

    settings = make_settings(sqlite_url, tmp_path, calendar_dir=declared(TEST_2027))
    assert check_open_deadlines(settings).ok


def test_monthly_report_says_so(tmp_path, sqlite_url):
    from sqms.db import UnitOfWork
    from sqms.monthly.report import calendar_notice

    settings = make_settings(sqlite_url, tmp_path, calendar_dir=tmp_path / "none")
    _open_complaint_due_2027(settings)
    with UnitOfWork(settings.database_url) as uow:
        notice = calendar_notice(uow.session, settings, "zh_CN")
    assert notice and "1 项未结事项的期限落在 2027 年" in notice
    template = (ROOT / "templates" / "reports" / "monthly_report.html.j2").read_text(encoding="utf-8")
    assert "report.calendar_notice" in template


def test_the_quality_manager_is_mailed_once_per_year(tmp_path, sqlite_url):
    from sqms.db import UnitOfWork
    from sqms.notify.service import deliver_pending
    from sqms.reminders.service import send_reminders

    settings = make_settings(sqlite_url, tmp_path, calendar_dir=tmp_path / "none")
    ident = _open_complaint_due_2027(settings)
    for day in (date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 4)):  # a working day, a holiday, a Monday
        with UnitOfWork(settings.database_url, actor="test") as uow:
            send_reminders(uow.session, settings, today=day, now=cal.to_utc(datetime.combine(day, time(9)), settings.tz))
            uow.commit()
    deliver_pending(settings)
    mails = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in Path(settings.outbox_dir).glob("*.eml")]
    warnings = [m for m in mails if "工作日日历" in str(m["Subject"])]
    assert len(warnings) == 1
    [warning] = warnings
    assert warning["To"].addresses[0].addr_spec == "li.na@example.com"
    text = warning.get_body(("plain",)).get_content()
    assert "2027" in text and ident in text and "元旦" in text


def test_the_coming_unknown_year_is_announced_in_december(tmp_path, sqlite_url):
    """No open item in 2027 yet: from 2 December (30 days ahead) the quality manager hears of it, once."""
    from sqms.db import UnitOfWork
    from sqms.org.service import sync_organisation
    from sqms.reminders.service import warn_unknown_calendar_years

    settings = make_settings(sqlite_url, tmp_path, calendar_dir=tmp_path / "none")
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        counts = [warn_unknown_calendar_years(uow.session, settings, cal.to_utc(datetime.combine(day, time(9)),
                                                                                  settings.tz), today=day)
                  for day in (date(2026, 11, 30), date(2026, 12, 2), date(2026, 12, 3))]
        uow.commit()
    assert counts == [0, 1, 0]
