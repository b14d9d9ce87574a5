"""Targets decided for a year (by the management review) judge that year's KPIs, and only that year's."""

from __future__ import annotations

from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.db import UnitOfWork
from sqms.records.service import compute_and_store
from sqms.records.targets import effective_settings, set_target
from tests.factories import seed_mixed


def test_a_year_target_applies_to_that_year_only(org):
    seed_mixed(org)  # March 2026: CS FCR 36/40 = 90 %, OPS 32/40 = 80 %
    with UnitOfWork(org.database_url, actor="test") as uow:
        set_target(uow.session, org, year=2026, kpi="fcr_pct", department=None, target=85, source="review 2025",
                   actor="zhang.wei", comment="连续达标，提高目标")
        set_target(uow.session, org, year=2026, kpi="fcr_pct", department="CS", target=92, source="review 2025",
                   actor="zhang.wei")
        uow.commit()
        y2026, y2025 = effective_settings(uow.session, org, 2026), effective_settings(uow.session, org, 2025)
        assert (y2026.kpi.target("fcr_pct", None), y2026.kpi.target("fcr_pct", "OPS"), y2026.kpi.target("fcr_pct", "CS"),
                y2025.kpi.target("fcr_pct", None)) == (85, 85, 92, 75)
        computation = compute_and_store(uow.session, org, "2026-03")
        values = {(v.department, v.kpi): v for v in computation.values}
        assert (values[(None, "fcr_pct")].target, values[(None, "fcr_pct")].status) == (85, "met")  # 85 %
        assert (values[("CS", "fcr_pct")].target, values[("CS", "fcr_pct")].status) == (92, "missed")  # 90 < 92
        assert (values[("OPS", "fcr_pct")].target, values[("OPS", "fcr_pct")].status) == (85, "missed")  # 80 < 85
        assert values[("CS", "csat_mean")].target == org.kpi.target("csat_mean", "CS")  # others unchanged
        old = {(v.department, v.kpi): v for v in compute_and_store(uow.session, org, "2025-03").values}
        assert old[(None, "fcr_pct")].target == 75
        trail = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity_id == "2026:fcr_pct:org")).one()
        assert (trail.before, trail.after["target"], trail.comment) == ({"target": 75.0}, 85, "连续达标，提高目标")
