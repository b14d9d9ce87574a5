"""The quality manager's weekly digest: open items, how late they are, who is furthest behind.

Sent once per ISO week, on its first working day (the flow runs every morning; the outbox
key names the week, so later runs of the same week send nothing again).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from sqms.calendar import is_working_day, late_working_days, to_local, utcnow, working_days_between
from sqms.config import Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reminders.service import Sources, registry_of

PROCESS = "weekly-digest"
# ageing of overdue items in full working days late: label, low, high (None = open-ended)
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("<1", 0, 0), ("1–2", 1, 2), ("3–5", 3, 5), ("6–10", 6, 10), (">10", 11, None))


@dataclass
class WeeklyResult:
    week: str
    skipped: str | None = None
    queued: int = 0


def summary(session: Session, settings: Settings, today: date, now: datetime, sources: Sources = None) -> dict:
    """Counts per kind (open, overdue, due within 5 working days), ageing buckets, worst offenders,
    and the figures the processes add (`Deadlines.weekly`: the week's action throughput)."""
    registry = registry_of(sources)
    items = [i for i in registry.collect(session, settings, now) if i.chased]  # tasks, not dates told of
    kinds: dict[str, dict] = {}
    ages = Counter()
    late_by_owner: Counter = Counter()
    worst_late: dict[str, int] = {}
    late_by_department: Counter = Counter()
    for item in items:
        row = kinds.setdefault(item.kind, {"kind": registry.label(item.kind, settings.locale),
                                           "open": 0, "overdue": 0, "due_soon": 0})
        row["open"] += 1
        due_day = to_local(item.due_at, settings.tz).date()
        if due_day < today:
            row["overdue"] += 1
            late = late_working_days(due_day, today)
            for label, low, high in AGE_BUCKETS:
                if late >= low and (high is None or late <= high):
                    ages[label] += 1
            owner = item.owner or "—"
            late_by_owner[owner] += 1
            worst_late[owner] = max(worst_late.get(owner, 0), late)
            late_by_department[item.department or "—"] += 1
        elif working_days_between(today, due_day) <= 5:
            row["due_soon"] += 1
    names = {p.email: p.name for p in settings.people}
    departments = {d.code: d.label(settings.locale) for d in settings.departments}
    top = settings.reminders.worst_offenders
    return {
        "kinds": sorted(kinds.values(), key=lambda r: -r["overdue"]),
        "total_open": len(items),
        "total_overdue": sum(r["overdue"] for r in kinds.values()),
        "ages": [{"label": label, "count": ages.get(label, 0)} for label, _, _ in AGE_BUCKETS],
        "owners": [{"owner": o, "name": names.get(o, o), "count": n, "worst": worst_late[o]}
                   for o, n in late_by_owner.most_common(top)],
        "departments": [{"code": d, "name": departments.get(d, d), "count": n}
                        for d, n in late_by_department.most_common(top)],
        **registry.weekly(session, settings, now),
    }


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def send_weekly_digest(session: Session, settings: Settings, *, today: date | None = None,
                       now: datetime | None = None, sources: Sources = None) -> WeeklyResult:
    now = now or utcnow()
    today = today or to_local(now, settings.tz).date()
    result = WeeklyResult(week=iso_week(today))
    if not is_working_day(today):
        result.skipped = "not a working day"
        return result
    data = summary(session, settings, today, now, sources)
    for recipient in settings.resolve_recipients(settings.reminders.weekly_digest_to):
        email = compose(settings, "weekly_digest", recipient, day=today, week=result.week, **data)
        _, changed = enqueue(session, process=PROCESS, obj="digest", period=result.week, email=email)
        result.queued += int(changed)
    return result
