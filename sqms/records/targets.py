"""KPI targets by year: the configuration's targets, overridden by what the management review decided
for that year (kept in the database, so that every worker on every machine sees the same targets)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.audit_trail import record_change
from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.records.models import KpiTarget

ORGANISATION = "*"


def effective_settings(session: Session, settings: Settings, year: int) -> Settings:
    """`settings` with the targets decided for `year`; `settings.kpi.target(...)` then answers for that year."""
    rows = list(session.scalars(select(KpiTarget).where(KpiTarget.year == year)))
    if not rows:
        return settings
    targets = dict(settings.kpi.targets)
    departments = {d: dict(t) for d, t in settings.kpi.department_targets.items()}
    for row in rows:
        if row.scope == ORGANISATION:
            targets[row.kpi] = row.target
        else:
            departments.setdefault(row.scope, {})[row.kpi] = row.target
    kpi = settings.kpi.model_copy(update={"targets": targets, "department_targets": departments})
    return settings.model_copy(update={"kpi": kpi})


def set_target(session: Session, settings: Settings, *, year: int, kpi: str, department: str | None, target: float | None, source: str,
               actor: str, now: datetime | None = None, comment: str | None = None) -> KpiTarget:
    """Decide the target of `kpi` (organisation-wide when `department` is None) for `year`; audited."""
    scope = department or ORGANISATION
    row = session.scalars(select(KpiTarget).where(KpiTarget.year == year, KpiTarget.kpi == kpi,
                                                  KpiTarget.scope == scope)).first()
    before = effective_settings(session, settings, year).kpi.target(kpi, department)
    if row is None:
        row = KpiTarget(year=year, kpi=kpi, scope=scope)
        session.add(row)
    row.target, row.source, row.decided_by, row.decided_at = target, source, actor, now or utcnow()
    session.flush()
    record_change(session, action="set-target", entity="kpi_target", entity_id=f"{year}:{kpi}:{department or 'org'}",
                  actor=actor, before={"target": before}, after={"target": target, "year": year, "source": source},
                  comment=comment)
    return row
