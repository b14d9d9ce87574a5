"""Small data sets whose KPIs can be computed by hand, shared by the report and flow tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqms.complaints.models import Complaint
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.org.service import sync_organisation
from sqms.records.models import ServiceRecord

TZ = ZoneInfo("Asia/Shanghai")
PERIOD = "2026-03"
XSS = "<script>alert(1)</script>"
FORMULA = "=1+1"


def _records(prefix: str, dept: str, start: datetime, count: int, *, channel: str, response_s, handling_h: float,
             fcr_true: int) -> list[ServiceRecord]:
    rows = []
    for i in range(count):
        opened = start + timedelta(minutes=10 * i)
        delay = response_s(i) if callable(response_s) else response_s
        rows.append(ServiceRecord(
            record_id=f"{prefix}-{i:03d}", department=dept, channel=channel, customer_id=f"C{i}",
            opened_at=opened, first_response_at=opened + timedelta(seconds=delay),
            resolved_at=opened + timedelta(hours=handling_h), first_contact_resolved=i < fcr_true))
    return rows


def _complaint(ident: str, dept: str, category: str, received: datetime) -> Complaint:
    return Complaint(complaint_id=ident, received_at=received, department=dept, channel="phone", severity="normal",
                     category=category, responded_at=received + timedelta(hours=1),
                     resolved_at=received + timedelta(days=1), deadline_at=received + timedelta(days=2),
                     description="test")


def seed_mixed(settings: Settings) -> None:
    """2026-02: CS 40 phone records, FCR 28/40 = 70 % (missed).
    2026-03: CS 40 phone records (10 s, 2 h, FCR 36/40); OPS 40 online records (30 of them answered in
    30 s, 10 in 90 s → 75 %, 10 h, FCR 32/40); 4 complaints, all settled in a day."""
    feb, mar = datetime(2026, 2, 10, 9, tzinfo=TZ), datetime(2026, 3, 10, 9, tzinfo=TZ)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.session.add_all(_records("FEB-CS", "CS", feb, 40, channel="phone", response_s=10, handling_h=2,
                                     fcr_true=28))
        uow.session.add_all(_records("CS", "CS", mar, 40, channel="phone", response_s=10, handling_h=2, fcr_true=36))
        uow.session.add_all(_records("OPS", "OPS", mar, 40, channel="online",
                                     response_s=lambda i: 30 if i < 30 else 90, handling_h=10, fcr_true=32))
        uow.session.add_all([
            _complaint("K1", "CS", "服务态度", mar), _complaint("K2", "CS", "服务态度", mar + timedelta(hours=1)),
            _complaint("K3", "CS", XSS, mar + timedelta(hours=2)), _complaint("K4", "OPS", FORMULA, mar),
        ])
        uow.commit()


def seed_all_met(settings: Settings) -> None:
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.session.add_all(_records("CS", "CS", datetime(2026, 3, 10, 9, tzinfo=TZ), 40, channel="phone",
                                     response_s=10, handling_h=2, fcr_true=36))
        uow.commit()
