"""A KPI miss resting on fewer observations than the low-confidence threshold opens no PDCA cycle on
its own (issue 19 item 15): one complaint in 133 records is one observation, not 133."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from sqms.complaints.models import Complaint
from sqms.db import UnitOfWork
from sqms.improvement.models import ImprovementCycle
from sqms.improvement.service import misses, open_for_misses
from sqms.kpi_catalog import observations
from sqms.records.models import ServiceRecord
from sqms.records.service import compute_and_store
from tests.factories import TZ

PERIOD = "2026-09"


def seed(settings, complaints: int, records: int = 133) -> None:
    start = datetime(2026, 9, 7, 9, tzinfo=TZ)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        uow.session.add_all([ServiceRecord(
            record_id=f"R{i}", department="OPS", channel="email", customer_id=f"C{i}",
            opened_at=start + timedelta(minutes=i), first_response_at=start + timedelta(minutes=i, seconds=5),
            resolved_at=start + timedelta(minutes=i, hours=1), first_contact_resolved=True) for i in range(records)])
        uow.session.add_all([Complaint(
            complaint_id=f"K{i}", received_at=start + timedelta(minutes=i), department="OPS", channel="phone",
            severity="normal", category="服务态度", responded_at=start + timedelta(minutes=i, hours=1),
            resolved_at=start + timedelta(minutes=i, hours=5), deadline_at=start + timedelta(days=2),
            status="resolved") for i in range(complaints)])
        compute_and_store(uow.session, settings, PERIOD, as_of=datetime(2026, 10, 1, 8, tzinfo=TZ))
        uow.commit()


def test_one_complaint_in_133_records_opens_no_cycle(org):
    seed(org, complaints=1)
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert [m.kpi for m in misses(uow.session, org, PERIOD)] == []
        assert open_for_misses(uow.session, org, PERIOD) == []
        uow.commit()
        assert uow.session.scalar(select(func.count()).select_from(ImprovementCycle)) == 0


def test_a_rate_resting_on_enough_complaints_still_opens_one(org):
    seed(org, complaints=30, records=3000)  # 10 ‰ against ≤ 5 ‰, from 30 complaints
    with UnitOfWork(org.database_url, actor="test") as uow:
        found = misses(uow.session, org, PERIOD)
    assert [(m.department, m.kpi) for m in found] == [("OPS", "complaint_rate_per_1000")]


def test_observations_of_a_rate_are_its_events():
    assert observations("complaint_rate_per_1000", 133, {"complaints": 1}) == 1
    assert observations("complaint_rate_per_1000", 133, {}) == 133  # stored before the events were kept
    assert observations("fcr_pct", 133, {}) == 133
