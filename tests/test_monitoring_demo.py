"""The demo's service-monitoring year (issue 15): 60 front-line staff, each inspected every quarter by
someone of another department, one department's inspection scores falling; loading again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import func, select

from sqms.db import UnitOfWork
from sqms.monitoring.demo import INSPECTION_DRIFT, load_monitoring_demo
from sqms.monitoring.models import Inspection, Staff

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_demo_year_of_monitoring(org, tmp_path):
    first = load_monitoring_demo(org, tmp_path, seed=2026, end_period="2026-10", months=13, now=NOW)
    assert first["staff"].inserted == 60 and first["compliments"].rows > 100 and first["service-errors"].rows > 10
    with UnitOfWork(org.database_url) as uow:
        count = uow.session.scalar(select(func.count()).select_from(Inspection))
        rows = pd.DataFrame([(i.staff_id, i.department, i.source, i.score, i.inspector, i.inspected_at)
                             for i in uow.session.scalars(select(Inspection))],
                            columns=["staff_id", "department", "source", "score", "inspector", "at"])
        staff = {s.staff_id for s in uow.session.scalars(select(Staff))}
    again = load_monitoring_demo(org, tmp_path, seed=2026, end_period="2026-10", months=13, now=NOW)
    assert all(r.inserted == 0 and r.updated == 0 for r in again.values())
    with UnitOfWork(org.database_url) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Inspection)) == count

    internal = rows[rows["source"] == "internal"].copy()
    internal["quarter"] = pd.to_datetime(internal["at"]).dt.tz_convert(org.tz).dt.to_period("Q").astype(str)
    homes = {p.email: p.department for p in org.people}
    assert not (internal["inspector"].map(homes) == internal["department"]).any()
    for quarter in ("2026Q1", "2026Q2", "2026Q3"):
        assert set(internal[internal["quarter"] == quarter]["staff_id"]) == staff, quarter
    drift = internal[internal["department"] == INSPECTION_DRIFT]
    early = drift[drift["quarter"].isin(["2025Q4", "2026Q1"])]["score"].mean()
    late = drift[drift["quarter"] == "2026Q4"]["score"].mean()
    assert late < early - 8
    assert (rows["source"] == "mystery_shopper").sum() > 50
