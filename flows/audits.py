"""内部审核 — the semiannual internal audit.

The regulation: once or twice a year, at mid-year and year-end, the general manager's office
organises an internal audit of every department involved in service (operating and
supporting), of people, resources, technology and processes: an audit plan and checklists,
records of what was audited, rectification of nonconformities, and an audit report that
feeds the management review. In June and December this flow opens the cycle and plans it;
every morning it moves the open cycles on: the plan to auditors and auditees, the report once
every department's findings are in, and the close once every nonconformity is verified or
carried over. The reminders 14 and 7 days before each audit are the reminder engine's
(`flows/reminders.py`), like every other deadline's.
"""

from __future__ import annotations

from prefect import flow

from flows.hooks import notify_admins
from tasks.audits import advance_audits, open_audit_cycle
from tasks.notify import deliver_outbox


@flow(name="internal-audit", on_failure=[notify_admins], on_crashed=[notify_admins])
def internal_audit(open_cycle: bool = False) -> dict:
    """Open this half-year's cycle (scheduled in June and December), then advance every open cycle."""
    opened = open_audit_cycle() if open_cycle else None
    steps = advance_audits()
    delivery = deliver_outbox("internal-audit")
    return {"opened": opened, "steps": steps, **delivery}
