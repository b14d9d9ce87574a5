"""The reminder engine: one mechanism for everything that has an owner and a due date.

Each process declares its deadlines next to its rules (a `Deadlines`: its kinds of item with their
zh_CN/en labels and the function listing its open `DueItem`s), and `sqms.processes`, the one
composition point, registers them all; this package imports no process. Every working day the
engine plans, per item, the reminders due today:

- to the owner: `due-in-N` at the configured offsets before the due day, `due-today`, and
  `overdue` once the due day has passed; a due day that is not a working day keeps its date and
  is `due-soon` on the last working day before it (offset 0);
- escalations: `escalated-N` to the next people of the chain once the item is overdue by N
  full working days (default 1 → the department manager, 3 → the quality manager);
- notices `due-in-Nd` N calendar days before (an item's `notice_days`); an item that is a date
  people are told of, not a task (an audit's day: `chased=False`), gets only these.

What was already sent is kept in `reminders_sent` (item, stage, recipient), so a rerun or a
retry never repeats a reminder; each person gets one digest mail a day with what is new (a process
whose reminders read better as their own mail, the audits', declares a `mail` function instead).
Nothing is sent on non-working days of the official calendar.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Iterable, Mapping

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from sqms.calendar import is_covered, is_working_day, late_working_days, to_local, utcnow, working_days_between
from sqms.config import Person, Settings, person_name
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reminders.models import ReminderSent

PROCESS = "reminders"


@dataclass(frozen=True)
class DueItem:
    kind: str  # a kind its process declares (`Deadlines.kinds`)
    item_id: str
    title: str
    owner: str | None  # email; None: nobody named (the quality manager is told)
    department: str | None
    due_at: datetime  # aware; the item is due by this moment
    notice_days: tuple[int, ...] = ()  # extra notices this many calendar days before (e.g. 30, 7)
    also: tuple[str, ...] = ()  # told with the owner, never escalated to (an audit's auditee)
    chased: bool = True  # False: a date people are told of (only the notices), not a task chased when late


Source = Callable[[Session, Settings, datetime], Iterable[DueItem]]


@dataclass(frozen=True)
class Reminder:
    item: DueItem
    stage: str  # due-in-2 | due-today | overdue | escalated-1 | escalated-3 ...
    recipient: str
    late_working_days: int  # full working days past the due day (0 when not late)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.item.kind, self.item.item_id, self.stage, self.recipient)

    @property
    def escalated(self) -> bool:
        return self.stage.startswith("escalated")

    @property
    def notice(self) -> int | None:
        """N of a `due-in-Nd` notice (calendar days before the due day), else None."""
        if self.stage.startswith("due-in-") and self.stage.endswith("d"):
            return int(self.stage[len("due-in-"):-1])
        return None


# queues a reminder as its own mail (the process's template and outbox key); returns the outbox row id
Mailer = Callable[[Session, Settings, Reminder, date], int | None]


@dataclass(frozen=True)
class Deadlines:
    """What a process declares about its deadlines, next to its rules (`DEADLINES` in its service)."""

    process: str
    kinds: Mapping[str, tuple[str, str]]  # kind -> how a digest names it: zh_CN, en
    due_items: Source  # its open items with an owner and a due date
    mail: Mailer | None = None  # its reminders go as their own mails, not as digest lines
    weekly: Callable[[Session, Settings, datetime], dict] | None = None  # figures it adds to the weekly digest


@dataclass(frozen=True)
class Registry:
    """Every process's `Deadlines`, put together at the composition point (`sqms.processes`), and where
    an item's page is (`link(settings, kind, item_id)`, the workspace's; the engine knows no pages)."""

    processes: tuple[Deadlines, ...]
    link: Callable[[Settings, str, str], str] | None = None
    labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    mailers: Mapping[str, Mailer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        labels, mailers, declared = dict(self.labels), dict(self.mailers), {}
        for d in self.processes:
            for kind, names in d.kinds.items():
                if kind in declared:
                    raise ValueError(f"deadline kind {kind!r} is declared by {declared[kind]} and {d.process}")
                declared[kind] = d.process
                labels[kind] = names
                if d.mail is not None:
                    mailers[kind] = d.mail
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "mailers", mailers)

    def label(self, kind: str, locale: str) -> str:
        zh, en = self.labels.get(kind, (kind, kind))
        return zh if locale.startswith("zh") else en

    def url(self, settings: Settings, kind: str, item_id: str) -> str:
        return self.link(settings, kind, item_id) if self.link else settings.web.base_url + "/app/"

    def collect(self, session: Session, settings: Settings, now: datetime) -> list[DueItem]:
        items: list[DueItem] = []
        for d in self.processes:
            items.extend(d.due_items(session, settings, now))
        return items

    def weekly(self, session: Session, settings: Settings, now: datetime) -> dict:
        figures: dict = {}
        for d in self.processes:
            if d.weekly is not None:
                figures.update(d.weekly(session, settings, now))
        return figures


_registered: Registry | None = None


def register(registry: Registry) -> None:
    """Called once by the composition point: the processes the engine reads when none are passed."""
    global _registered
    _registered = registry


def registered() -> Registry:
    if _registered is None:
        raise ReminderError("no process has registered its deadlines: import sqms.processes (the composition "
                            "point the flows, tasks, CLI and web import) before running the reminder engine")
    return _registered


Sources = Registry | Iterable[Deadlines | Source] | None


def registry_of(sources: Sources) -> Registry:
    """The registry to use: the registered one, or the given processes or bare item functions (named,
    linked and mailed as the registered processes' kinds are)."""
    if sources is None:
        return registered()
    if isinstance(sources, Registry):
        return sources
    base = _registered or Registry(())
    processes = tuple(s if isinstance(s, Deadlines) else Deadlines("", {}, s) for s in sources)
    return Registry(processes, link=base.link, labels=base.labels, mailers=base.mailers)


class ReminderError(ValueError):
    """A reminder run that must not happen; the message says why."""


def check_day(today: date, now: datetime, settings: Settings) -> None:
    """Refuse to plan reminders for a day already past: the items are read as they are now, so a past
    day would mail reminders of a state that no longer holds (stale, or for items settled since)."""
    current = to_local(now, settings.tz).date()
    if today < current:
        raise ReminderError(f"--today {today.isoformat()} is in the past (today is {current.isoformat()}): "
                            "reminders are planned from the items' current state, so a past day would mail "
                            "stale reminders; run it for today (or a later day)")


def _recipients(selector: str, item: DueItem, settings: Settings) -> list[str]:
    if selector == "department_manager":
        manager = settings.department_manager(item.department) if item.department else None
        return [manager.email] if manager else []
    return [r.email if isinstance(r, Person) else r for r in settings.resolve_recipients((selector,))]


def _owners(item: DueItem, quality: list[str]) -> list[str]:
    """Who is told of an item: its owner (the quality manager when none) and those told with them."""
    owners = [item.owner] if item.owner else list(quality)
    return owners + [p for p in item.also if p not in owners]


def plan(items: Iterable[DueItem], settings: Settings, today: date) -> list[Reminder]:
    """Every reminder the items call for today (pure: no database, no clock)."""
    offsets = settings.reminders.due_soon_working_days
    quality = [p.email for p in settings.people_with_role("quality_manager")]
    out: list[Reminder] = []
    for item in items:
        due_day = to_local(item.due_at, settings.tz).date()
        owners = _owners(item, quality)
        if due_day > today and item.notice_days:
            # a notice N days before: on that day, or the first working day after it (runs skip days off);
            # only the nearest notice reached is given, so a late first run does not send both
            left = (due_day - today).days
            reached = [n for n in item.notice_days if left <= n]
            if reached:
                nearest = min(reached)
                out += [Reminder(item, f"due-in-{nearest}d", owner, 0) for owner in owners]
        if not item.chased:
            continue
        if due_day >= today:
            # working days left before the due day; a due day that is not a working day (a first
            # contact due on Saturday 08:00) stays that day, so on the last working day before it the
            # item is due soon, not "due today"
            ahead = working_days_between(today, due_day)
            if ahead in offsets:
                stage = "due-today" if due_day == today else "due-soon" if ahead == 0 else f"due-in-{ahead}"
                out += [Reminder(item, stage, owner, 0) for owner in owners]
            continue
        late = late_working_days(due_day, today)
        out += [Reminder(item, "overdue", owner, late) for owner in owners]
        for step in settings.reminders.escalation:
            if late < step.after_working_days:
                break
            for selector in step.to:
                for recipient in _recipients(selector, item, settings):
                    if recipient not in owners:
                        out.append(Reminder(item, f"escalated-{step.after_working_days}", recipient, late))
    # one line per (item, stage, recipient), in a stable order
    unique = {r.key: r for r in out}
    return sorted(unique.values(), key=lambda r: (r.recipient, r.item.due_at, r.item.kind, r.item.item_id))


def collect(session: Session, settings: Settings, now: datetime, sources: Sources = None) -> list[DueItem]:
    """Every open item of the processes (default: the registered ones)."""
    return registry_of(sources).collect(session, settings, now)


@dataclass
class RunResult:
    day: date
    skipped: str | None = None
    items: int = 0
    planned: int = 0
    new: int = 0
    digests: int = 0
    mails: int = 0  # reminders a process mails on its own (`Deadlines.mail`)
    calendar_warnings: int = 0
    by_recipient: dict[str, int] = field(default_factory=dict)


def send_reminders(session: Session, settings: Settings, *, today: date | None = None, now: datetime | None = None,
                   sources: Sources = None) -> RunResult:
    """Queue today's digests (one per person with something new) and the reminders a process mails on its
    own, and record what they contain; `sources` default to the registered processes.

    Runs in the caller's transaction: the digests and their ledger rows commit together, so a
    retry after a failure either finds both or neither.
    """
    from sqms.ingest import insert_rows  # the driver's bulk path: a backlog of 100 k items is 100 k ledger rows

    now = now or utcnow()
    today = today or to_local(now, settings.tz).date()
    result = RunResult(day=today)
    registry = registry_of(sources)
    # before the working-day check: the warning must not wait for the next working day
    result.calendar_warnings = warn_unknown_calendar_years(session, settings, now, registry, today)
    if not is_working_day(today):
        result.skipped = "not a working day"
        return result
    items = registry.collect(session, settings, now)
    planned = plan(items, settings, today)
    result.items, result.planned = len(items), len(planned)
    sent = _already_sent(session, planned)
    fresh = [r for r in planned if r.key not in sent]
    result.new = len(fresh)

    def record(reminders: list[Reminder], outbox_id: int | None) -> None:
        insert_rows(session.connection(), ReminderSent.__table__, [
            {"item_kind": r.item.kind, "item_id": r.item.item_id, "stage": r.stage, "recipient": r.recipient,
             "on_day": today, "outbox_id": outbox_id, "created_at": now} for r in reminders])

    by_recipient: dict[str, list[Reminder]] = defaultdict(list)
    for reminder in fresh:
        mailer = registry.mailers.get(reminder.item.kind)
        if mailer is None:
            by_recipient[reminder.recipient].append(reminder)
            continue
        record([reminder], mailer(session, settings, reminder, today))
        result.mails += 1
    for recipient, reminders in by_recipient.items():
        person = next((p for p in settings.people if p.email == recipient), recipient)
        email = compose(settings, "reminder_digest", person, day=today,
                        **digest_sections(reminders, settings, registry))
        # the key names the day and what it holds: a rerun with the same news is the same mail
        digest = hashlib.sha1("|".join(":".join(r.key) for r in reminders).encode()).hexdigest()[:12]
        row, _ = enqueue(session, process=PROCESS, obj=f"digest:{digest}", period=today.isoformat(), email=email)
        record(reminders, row.id)
        result.by_recipient[recipient] = len(reminders)
    result.digests = len(by_recipient)
    session.flush()
    return result


def unknown_calendar_years(session: Session, settings: Settings, now: datetime,
                           sources: Sources = None) -> dict[int, list[str]]:
    """Years that neither chinesecalendar nor `config/calendar/<year>.yaml` knows, with the ids of the
    open items whose deadline falls in them (their deadlines were counted Monday–Friday)."""
    found: dict[int, list[str]] = defaultdict(list)
    for item in collect(session, settings, now, sources):
        day = to_local(item.due_at, settings.tz).date()
        if not is_covered(day) and item.item_id not in found[day.year]:
            found[day.year].append(item.item_id)
    return dict(found)


def warn_unknown_calendar_years(session: Session, settings: Settings, now: datetime,
                                sources: Sources = None, today: date | None = None) -> int:
    """Mail the quality manager(s) once per unknown year (keyed by the year, through the outbox) when
    open deadlines fall in it or it begins within 30 days of `today`; returns the mails queued."""
    today = today or to_local(now, settings.tz).date()
    years = unknown_calendar_years(session, settings, now, sources)
    ahead = today + timedelta(days=30)
    if not is_covered(ahead):
        years.setdefault(ahead.year, [])
    queued = 0
    for year, items in sorted(years.items()):
        for person in settings.people_with_role("quality_manager") or settings.admins():
            email = compose(settings, "calendar_unknown", person, year=year, items=items[:20], count=len(items),
                            today=today, calendar_dir=str(settings.calendar_dir))
            _, changed = enqueue(session, process=PROCESS, obj=f"calendar:{year}", period=str(year), email=email)
            queued += int(changed)
    return queued


def _already_sent(session: Session, planned: list[Reminder]) -> set[tuple[str, str, str, str]]:
    keys = [r.key for r in planned]
    found: set[tuple[str, str, str, str]] = set()
    cols = (ReminderSent.item_kind, ReminderSent.item_id, ReminderSent.stage, ReminderSent.recipient)
    for start in range(0, len(keys), 500):
        batch = keys[start:start + 500]
        found.update(tuple(row) for row in session.execute(select(*cols).where(tuple_(*cols).in_(batch))))
    return found


def _overdue_text(reminder: Reminder, settings: Settings) -> str:
    """How late an overdue item is, in the digest language; "—" for an item not yet due.

    On the first day after the due day no full working day has passed yet, which is still overdue."""
    if reminder.stage.startswith("due-"):
        return "—"
    zh = settings.locale.startswith("zh")
    late = reminder.late_working_days
    if late:
        return f"{late} 个工作日" if zh else f"{late} working day{'s' if late > 1 else ''}"
    return "不足 1 个工作日" if zh else "less than 1 working day"


def _line(reminder: Reminder, settings: Settings, registry: Registry) -> dict:
    department = reminder.item.department
    try:
        department_name = settings.department(department).label(settings.locale) if department else "—"
    except KeyError:
        department_name = department
    return {
        "kind": registry.label(reminder.item.kind, settings.locale),
        "item_id": reminder.item.item_id,
        "title": reminder.item.title,
        "owner": person_name(settings, reminder.item.owner),  # people are named, not addressed
        "owner_email": reminder.item.owner or "",
        "department": department_name,
        "due": to_local(reminder.item.due_at, settings.tz),
        "stage": reminder.stage,
        "late": reminder.late_working_days,
        "overdue": _overdue_text(reminder, settings),
        "url": registry.url(settings, reminder.item.kind, reminder.item.item_id),
    }


def digest_sections(reminders: list[Reminder], settings: Settings, sources: Sources = None) -> dict:
    """The digest's three lists (due soon, overdue own items, escalated others' items), together at most
    `reminders.digest_items` lines, the most urgent first; `counts` by stage and department and `hidden`
    (how many are not listed) tell the rest."""
    registry = registry_of(sources)
    limit = settings.reminders.digest_items
    urgency = sorted(reminders, key=lambda r: (-r.late_working_days, r.item.due_at, r.item.kind, r.item.item_id))
    shown = {id(r) for r in urgency[:limit]}
    lines = [(r, _line(r, settings, registry)) for r in urgency if id(r) in shown]
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in reminders:
        section = "escalated" if r.escalated else "overdue" if r.stage == "overdue" else "due_soon"
        counts[(section, r.item.department or "—")] += 1
    return {
        "due_soon": sorted((line for r, line in lines if r.stage.startswith("due-")), key=lambda i: i["due"]),
        "overdue": [line for r, line in lines if r.stage == "overdue"],
        "escalated": [line for r, line in lines if r.escalated],
        "total": len(reminders),
        "hidden": max(0, len(reminders) - limit),
        "counts": [{"section": section, "department": department, "n": n}
                   for (section, department), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))],
    }


# -- what waits on one person (the workspace's 我的待办) ------------------------------------------

_URGENCY = {"escalated": 0, "overdue": 1, "due-today": 2, "due-in": 3, "open": 4}


@dataclass(frozen=True)
class Waiting:
    item: DueItem
    stage: str  # as in the digests (due-in-N, due-today, overdue, escalated-N), or `open` (not due soon yet)
    late_working_days: int

    @property
    def urgency(self) -> int:
        return _URGENCY["due-in" if self.stage.startswith("due-in") else self.stage.split("-")[0]]


def waiting_on(items: Iterable[DueItem], settings: Settings, today: date, email: str) -> list[Waiting]:
    """Everything `email` owns or has been escalated, with the stage `plan` gives it today (the
    most urgent one of an item); most urgent first, then by due time. Dates people are only told
    of (`chased=False`, an audit's day) are not tasks: they are left out."""
    items = [i for i in items if i.chased]
    quality = [p.email for p in settings.people_with_role("quality_manager")]
    found: dict[tuple[str, str], Waiting] = {}
    for r in plan(items, settings, today):
        if r.recipient != email:
            continue
        w = Waiting(r.item, r.stage, r.late_working_days)
        key = (r.item.kind, r.item.item_id)
        old = found.get(key)
        # an item escalated twice to the same person shows its latest step
        if old is None or (w.urgency, -w.late_working_days, w.stage) < (old.urgency, -old.late_working_days, old.stage):
            found[key] = w
    for item in items:  # own items no reminder is due for today
        owners = _owners(item, quality)
        if email not in owners or (item.kind, item.item_id) in found:
            continue
        due_day = to_local(item.due_at, settings.tz).date()
        ahead = working_days_between(today, due_day) if due_day >= today else 0
        stage = "due-today" if due_day == today else f"due-in-{ahead}" if due_day > today else "overdue"
        found[(item.kind, item.item_id)] = Waiting(item, stage, 0)
    return sorted(found.values(), key=lambda w: (w.urgency, w.item.due_at, w.item.kind, w.item.item_id))
