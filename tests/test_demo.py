"""The demo-data generator: deterministic, believable, importable, idempotent.

The believability checks read the generated CSV files with plain pandas; the load
test runs the real importer on SQLite and PostgreSQL and computes the KPIs of the
last month from the database. `now` is fixed so that nothing depends on the clock.
"""

from __future__ import annotations

import filecmp
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from sqms.calendar import is_working_day, periods_ending
from sqms.complaints.models import Complaint
from sqms.complaints.service import deadlines_for
from sqms.db import UnitOfWork
from sqms.demo import CATEGORIES, FILES, HTML_COMMENT, generate_demo, load_demo
from sqms.org.models import Customer
from sqms.records.models import ServiceRecord
from sqms.records.service import PeriodData, compute_kpis, load_period
from sqms.surveys.models import SurveyResponse
from tests.conftest import make_settings

END = "2026-10"  # 2025-10..2026-10: includes 国庆 2025 and 春节 2026
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=timezone.utc)
PERIODS = periods_ending(END, 13)
DEPARTMENTS = ["CS", "OPS", "SALES", "GMO", "HR", "FIN", "RND", "ADMIN"]
HEADERS = {
    "customers": "customer_id,name,email,phone,department",
    "service-records": "record_id,department,channel,customer_id,opened_at,first_response_at,resolved_at,"
                       "first_contact_resolved,staff_id",
    "complaints": "complaint_id,received_at,department,channel,severity,category,customer_id,responded_at,"
                  "resolved_at,description",
    "survey-responses": "response_id,submitted_at,department,customer_id,nps,csat,TAN1,TAN2,REL1,REL2,RES1,RES2,"
                        "ASS1,ASS2,EMP1,EMP2,comment",
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture(scope="module")
def plain_settings(tmp_path_factory: pytest.TempPathFactory):
    """The demo configuration; generation alone never opens the database."""
    tmp = tmp_path_factory.mktemp("demo-settings")
    return make_settings(f"sqlite:///{tmp}/unused.db", tmp)


@pytest.fixture(scope="module")
def demo_dir(plain_settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo (seed 2026) ending 2026-10, generated once for the module."""
    out = tmp_path_factory.mktemp("demo")
    generate_demo(plain_settings, end_period=END, out_dir=out, now=NOW)
    return out


@pytest.fixture(scope="module")
def demo(demo_dir: Path) -> dict[str, pd.DataFrame]:
    """The demo files read back as text, by import kind."""
    return {kind: pd.read_csv(demo_dir / name, dtype=str, keep_default_na=False, encoding="utf-8")
            for kind, name in FILES.items()}


def _local(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column.replace("", None), format="%Y-%m-%d %H:%M:%S")


def _utc(column: pd.Series, settings) -> pd.Series:
    """Local text timestamps of the files as naive UTC, the way the importer stores them."""
    local = _local(column).dt.tz_localize(settings.tz)
    return local.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def _month(column: pd.Series) -> pd.Series:
    return column.str[:7]


# -- determinism ----------------------------------------------------------------------


def test_same_seed_gives_identical_files_and_another_seed_differs(plain_settings, tmp_path: Path, demo_dir):
    again = generate_demo(plain_settings, seed=2026, end_period=END, out_dir=tmp_path / "a", now=NOW)
    other = generate_demo(plain_settings, seed=7, end_period=END, out_dir=tmp_path / "b", now=NOW)
    for kind, name in FILES.items():
        assert filecmp.cmp(demo_dir / name, again[kind], shallow=False), kind
    assert not filecmp.cmp(demo_dir / FILES["service-records"], other["service-records"], shallow=False)
    assert not filecmp.cmp(demo_dir / FILES["survey-responses"], other["survey-responses"], shallow=False)


def test_files_follow_the_input_formats(demo, demo_dir):
    for kind, header in HEADERS.items():
        raw = (demo_dir / FILES[kind]).read_bytes()
        assert raw.decode("utf-8").split("\n", 1)[0] == header
        assert not raw.startswith(b"\xef\xbb\xbf")
    records, complaints, responses = demo["service-records"], demo["complaints"], demo["survey-responses"]
    assert records["record_id"].str.fullmatch(r"SR-\d{6}-\d{6}").all() and records["record_id"].is_unique
    assert complaints["complaint_id"].str.fullmatch(r"CP-\d{6}-\d{4}").all() and complaints["complaint_id"].is_unique
    assert responses["response_id"].str.fullmatch(r"SV-\d{6}-\d{5}").all() and responses["response_id"].is_unique
    assert demo["customers"]["customer_id"].str.fullmatch(r"CU-\d{5}").all()
    for frame, columns in ((records, ["opened_at", "first_response_at", "resolved_at"]),
                           (complaints, ["received_at", "responded_at", "resolved_at"]),
                           (responses, ["submitted_at"])):
        for column in columns:
            values = frame[column][frame[column] != ""]
            assert values.str.fullmatch(TIMESTAMP).all(), column
    assert set(records["channel"]) == {"phone", "online", "email", "onsite"}
    assert set(records["first_contact_resolved"]) == {"true", "false", ""}
    # every referenced customer exists in the customers file
    known = set(demo["customers"]["customer_id"])
    assert set(records["customer_id"]) - {""} <= known


# -- believability --------------------------------------------------------------------


def test_thirteen_months_with_every_department(demo):
    records, complaints, responses = demo["service-records"], demo["complaints"], demo["survey-responses"]
    per_month = records.groupby([_month(records["opened_at"]), "department"]).size().unstack(fill_value=0)
    assert list(per_month.index) == PERIODS
    assert sorted(per_month.columns) == sorted(DEPARTMENTS)
    assert (per_month >= 40).all().all(), per_month.min()
    totals = per_month.sum(axis=1)
    assert totals.between(5_000, 10_000).all(), totals
    # CS and OPS carry most of the work
    assert (per_month[["CS", "OPS"]].sum(axis=1) > 0.7 * totals).all()
    assert sorted(_month(complaints["received_at"]).unique()) == PERIODS
    assert _month(complaints["received_at"]).value_counts().between(10, 80).all()
    survey_months = responses.groupby([_month(responses["submitted_at"]), "department"]).size().unstack(fill_value=0)
    assert list(survey_months.index) == PERIODS and (survey_months > 0).all().all()
    assert survey_months.sum(axis=1).between(200, 450).all(), survey_months.sum(axis=1)  # 春节 February dips


def test_volume_follows_working_days_and_office_hours(demo):
    opened = _local(demo["service-records"]["opened_at"])
    daily = opened.dt.normalize().value_counts().reindex(pd.date_range(PERIODS[0] + "-01", "2026-10-31"),
                                                         fill_value=0)
    working = np.array([is_working_day(d.date()) for d in daily.index])
    assert daily[working].mean() > 3 * daily[~working].mean()
    national_day = daily["2025-10-01":"2025-10-07"]
    assert national_day.max() < 0.4 * daily[working].mean()
    spring_festival = daily["2026-02-16":"2026-02-20"]  # Monday-Friday of the 春节 holiday
    assert spring_festival.max() < 0.4 * daily[working].mean()
    hours = opened.dt.hour.value_counts(normalize=True).reindex(range(24), fill_value=0)
    assert hours[[10, 15]].min() > hours[[12, 13]].max()  # morning and afternoon peaks, lunch dip
    assert hours[range(0, 6)].sum() < 0.02


def test_response_times_by_channel(demo, plain_settings):
    records = demo["service-records"]
    delay = (_local(records["first_response_at"]) - _local(records["opened_at"])).dt.total_seconds()
    for channel, target in plain_settings.kpi.response_targets_seconds.items():
        mine = records["channel"] == channel
        assert delay[mine].median() < target / 2
        within = (delay[mine] <= target).mean()
        assert 0.85 < within < 0.99, (channel, within)  # mostly on time, with some misses
        assert 0 < records.loc[mine, "first_response_at"].eq("").mean() < 0.05
    handling = (_local(records["resolved_at"]) - _local(records["opened_at"])).dt.total_seconds() / 3600
    assert (handling.dropna() >= 0).all() and handling.median() < 24
    fcr = records["first_contact_resolved"]
    assert (fcr != "").mean() > 0.85
    assert 0.70 < (fcr[fcr != ""] == "true").mean() < 0.85


def test_complaints_have_both_severities_late_and_open_ones(demo, plain_settings):
    complaints = demo["complaints"]
    severity = complaints["severity"].value_counts(normalize=True)
    assert set(severity.index) == {"normal", "special"} and 0.08 < severity["special"] < 0.2
    assert set(complaints["category"]) <= set(CATEGORIES) and complaints["category"].nunique() >= 6
    assert 0 < (complaints["description"] != "").mean() < 1
    received = _local(complaints["received_at"])
    assert received.dt.hour.between(8, 18).mean() > 0.8  # mostly office hours
    received_utc = _utc(complaints["received_at"], plain_settings)
    deadline = deadlines_for(received_utc, complaints["severity"], plain_settings)
    resolved = _utc(complaints["resolved_at"], plain_settings)
    late = resolved.notna() & (resolved > deadline)
    assert 0 < late.mean() < 0.15
    first_reply = _utc(complaints["responded_at"], plain_settings) - received_utc
    assert first_reply.dt.total_seconds().max() <= 24 * 3600  # first reply within a day
    last = _month(complaints["received_at"]) == END
    still_open = complaints["resolved_at"] == ""
    assert still_open[last].sum() > 0 and late[last].sum() > 0
    assert not still_open[~last].any()


def test_survey_responses_have_a_realistic_mix(demo):
    responses = demo["survey-responses"]
    nps = pd.to_numeric(responses["nps"].replace("", None)).dropna()
    promoters, detractors = (nps >= 9).mean(), (nps <= 6).mean()
    passives = 1 - promoters - detractors
    assert min(promoters, passives, detractors) > 0.03
    assert 20 < 100 * (promoters - detractors) < 70
    csat = pd.to_numeric(responses["csat"].replace("", None)).dropna()
    assert set(csat.unique()) == {1, 2, 3, 4, 5} and 4.0 < csat.mean() < 4.6
    items = responses[["TAN1", "TAN2", "REL1", "REL2", "RES1", "RES2", "ASS1", "ASS2", "EMP1", "EMP2"]]
    assert 0 < (items == "").mean().mean() < 0.15
    assert set(np.unique(items.to_numpy())) <= {"", "1", "2", "3", "4", "5"}
    comments = responses["comment"]
    assert 0.05 < (comments != "").mean() < 0.3
    assert comments.str.contains("<b>HTML</b>", regex=False).sum() == 1
    assert (comments == HTML_COMMENT).sum() == 1
    assert _month(responses.loc[comments == HTML_COMMENT, "submitted_at"]).item() == END


def test_nothing_after_now_and_clipping_keeps_the_ids(plain_settings, demo_dir: Path, tmp_path: Path):
    """With end_period the current month, data stops at now; what came before is unchanged."""
    now = datetime(2026, 10, 14, 3, 30, tzinfo=timezone.utc)  # 11:30 in Shanghai
    clipped = generate_demo(plain_settings, end_period=END, out_dir=tmp_path / "c", now=now)
    local_now = pd.Timestamp("2026-10-14 11:30:00")
    columns = {"service-records": ["opened_at", "first_response_at", "resolved_at"],
               "complaints": ["received_at", "responded_at", "resolved_at"], "survey-responses": ["submitted_at"]}
    for kind, names in columns.items():
        frame = pd.read_csv(clipped[kind], dtype=str, keep_default_na=False)
        for name in names:
            assert (_local(frame[name]).dropna() <= local_now).all(), (kind, name)
        key = frame.columns[0]
        whole = pd.read_csv(demo_dir / FILES[kind], dtype=str, keep_default_na=False).set_index(key)
        assert set(frame[key]) <= set(whole.index)
        first = names[0]
        assert (frame.set_index(key)[first] == whole.loc[frame[key], first]).all()
    records = pd.read_csv(clipped["service-records"], dtype=str, keep_default_na=False)
    assert records["opened_at"].str.startswith("2026-10-14").any()
    with pytest.raises(ValueError, match="future"):
        generate_demo(plain_settings, end_period="2026-12", out_dir=tmp_path / "x", now=now)


def _period_data(demo: dict[str, pd.DataFrame], period: str, settings) -> PeriodData:
    """One month of the CSV files in the shape `compute_kpis` takes (naive UTC, typed)."""
    records = demo["service-records"][_month(demo["service-records"]["opened_at"]) == period].copy()
    for column in ("opened_at", "first_response_at", "resolved_at"):
        records[column] = _utc(records[column], settings)
    records["first_contact_resolved"] = records["first_contact_resolved"].map({"true": True, "false": False})
    complaints = demo["complaints"][_month(demo["complaints"]["received_at"]) == period].copy()
    for column in ("received_at", "responded_at", "resolved_at"):
        complaints[column] = _utc(complaints[column], settings)
    complaints["deadline_at"] = deadlines_for(complaints["received_at"], complaints["severity"], settings)
    responses = demo["survey-responses"][_month(demo["survey-responses"]["submitted_at"]) == period].copy()
    responses["submitted_at"] = _utc(responses["submitted_at"], settings)
    for column in ("nps", "csat"):
        responses[column] = pd.to_numeric(responses[column].replace("", None))
    return PeriodData(records, complaints, responses)


def _judged(results) -> tuple[dict, int, int]:
    status = {(r.kpi, r.department): r.status for r in results}
    values = list(status.values())
    return status, values.count("met"), values.count("missed")


def test_two_departments_drift_below_target_while_most_targets_are_met(demo, plain_settings):
    status, met, missed = _judged(compute_kpis(_period_data(demo, END, plain_settings), plain_settings, NOW))
    # the drifting departments give the report something to say ...
    assert status[("response_within_target_pct", "OPS")] == "missed"
    assert status[("csat_mean", "SALES")] == "missed" and status[("nps", "SALES")] == "missed"
    assert met > 2 * missed
    # ... the others mostly meet their targets
    for kpi in ("response_within_target_pct", "fcr_pct", "avg_handling_hours", "csat_mean", "nps"):
        assert status[(kpi, "CS")] == "met", kpi
    assert status[("record_volume", None)] == "no_target"
    # and before the drift nearly everything is met, month after month
    for period in PERIODS[:8]:
        _, met, missed = _judged(compute_kpis(_period_data(demo, period, plain_settings), plain_settings, NOW))
        assert met > 0.9 * (met + missed), period


# -- through the importer, on SQLite and PostgreSQL --------------------------------------

LOAD_MONTHS = 6  # the importer's speed is tested elsewhere; half a year keeps this test quick


def _counts(settings) -> dict[str, int]:
    with UnitOfWork(settings.database_url, "test") as uow:
        return {model.__tablename__: uow.session.scalar(select(func.count()).select_from(model))
                for model in (Customer, ServiceRecord, Complaint, SurveyResponse)}


def test_load_is_idempotent(settings, tmp_path: Path):
    first = load_demo(settings, end_period=END, out_dir=tmp_path / "demo", now=NOW, months=LOAD_MONTHS)
    # the staff register first (service records name who served), compliments and service errors last (issue 15)
    assert list(first) == ["staff", "customers", "service-records", "complaints", "survey-responses", "compliments",
                           "service-errors"]
    assert all(r.inserted == r.rows > 0 and not r.errors and not r.warnings for r in first.values())
    assert first["staff"].rows == 60
    counts = _counts(settings)
    assert counts == {"customers": first["customers"].rows, "service_records": first["service-records"].rows,
                      "complaints": first["complaints"].rows, "survey_responses": first["survey-responses"].rows}

    second = load_demo(settings, end_period=END, now=NOW, months=LOAD_MONTHS)
    assert all(r.inserted == 0 and r.updated == 0 and r.unchanged == r.rows for r in second.values())
    assert _counts(settings) == counts

    # what the database holds gives the same picture as the files
    with UnitOfWork(settings.database_url, "test") as uow:
        data = load_period(uow.session.connection(), END, settings)
        status, met, missed = _judged(compute_kpis(data, settings, NOW))
    assert data.counts()["records"] > 5_000
    assert status[("response_within_target_pct", "OPS")] == "missed"
    assert status[("response_within_target_pct", "CS")] == "met"
    assert met > 2 * missed


    # who served: a customer served in their own department has one person there, so the staff grading's
    # CSAT component (survey answers of customers served by exactly one person) is not empty
    from sqms.monitoring.grading import components_for
    from sqms.monitoring.models import Staff

    with UnitOfWork(settings.database_url, "test") as uow:
        served = uow.session.execute(select(ServiceRecord.customer_id, ServiceRecord.department,
                                            ServiceRecord.staff_id).where(ServiceRecord.staff_id.is_not(None))).all()
        homes = dict(uow.session.execute(select(Customer.customer_id, Customer.department)).all())
        staff = {s.staff_id: s.department for s in uow.session.scalars(select(Staff))}
        _, components = components_for(uow.session, settings, "2026Q3")
    assert len(served) > 1_000 and all(homes[c] == d == staff[s] for c, d, s in served)
    people = pd.DataFrame(served, columns=["customer", "department", "staff"]).groupby("customer")["staff"].nunique()
    assert people.max() == 1  # one person per customer
    csat = [c["csat"] for c in components.values() if c["csat"] is not None]
    assert len(csat) >= 0.8 * len(components) and all(0 <= v <= 100 for v in csat)


def test_loading_the_demo_again_keeps_what_was_done_in_sqms(settings, tmp_path: Path):
    """Issue 19.1: `sqms init --demo` (every `make run`) must not reset a complaint resolved in SQMS."""
    from sqms.audit_trail import AuditEntry
    from sqms.complaints.service import Step, advance, get

    load_demo(settings, end_period=END, now=NOW, months=LOAD_MONTHS)
    with UnitOfWork(settings.database_url, "test") as uow:
        ident = uow.session.scalar(select(Complaint.complaint_id).where(Complaint.status == "acknowledged")
                                   .order_by(Complaint.received_at.desc()))
        complaint = get(uow.session, ident)
        for action, step in (("investigate", Step()), ("propose", Step(solution="致歉")),
                             ("approve", Step(approver="zhang.wei@example.com")), ("resolve", Step(answer="已处理"))):
            if action == "approve" and complaint.severity != "special":
                continue
            advance(uow.session, settings, complaint, action, step, actor="wang.fang")
        uow.commit()
        resolved_at = complaint.resolved_at
    assert resolved_at is not None

    results = load_demo(settings, end_period=END, now=NOW, months=LOAD_MONTHS)
    with UnitOfWork(settings.database_url, "test") as uow:
        complaint = get(uow.session, ident)
        assert (complaint.status, complaint.resolved_at) == ("resolved", resolved_at)
        assert complaint.complaint_id in {c.complaint_id for c in uow.session.scalars(
            select(Complaint).where(Complaint.resolved_at.is_not(None)))}
        audited = list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "import-conflict",
                                                                    AuditEntry.entity_id == ident)))
    assert [(e.before, e.after) for e in audited] == [({"resolved_at": resolved_at.isoformat()},
                                                       {"resolved_at": None})]
    assert all(e.actor == "demo" for e in audited)
    assert {(c.key, c.column) for c in results["complaints"].conflicts} == {(ident, "resolved_at")}
    assert results["complaints"].updated == 0
