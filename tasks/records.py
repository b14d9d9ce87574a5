"""Tasks over service records and KPIs."""

from __future__ import annotations

from prefect import task

from sqms.records.service import compute_and_store
from tasks.common import RETRYING, settings, unit_of_work


@task(name="compute-kpis", **RETRYING)
def compute_kpis(period: str) -> int:
    """Compute and store the month's KPIs; returns the computation id."""
    with unit_of_work() as uow:
        computation = compute_and_store(uow.session, settings(), period)
        uow.commit()
        return computation.id
