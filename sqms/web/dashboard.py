"""Every generated report with its versions and downloads, and the quality manager's dashboard:
this month's KPIs against targets (the stored computation `sqms kpi` writes), open items by
owner and age, the outbox, the latest report of each kind."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import func, select

from sqms.calendar import to_local, utcnow
from sqms.monthly.messaging import PROCESS as MONTHLY
from sqms.monthly.messaging import release_held
from sqms.notify.models import FAILED, PENDING, OutboxMessage
from sqms.records.service import compute_and_store, latest_computation, results_of
from sqms.reporting.hold import HoldError, comment, held, hold_of
from sqms.reporting.models import GeneratedReport
from sqms.web import permissions as perm
from sqms.web.prefect_runs import last_runs
from sqms.web.security import clean_text
from sqms.web.workspace import Cfg, Me, NotFound, Uow, page, redirect

router = APIRouter()
MEDIA = {"html": "text/html; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "ics": "text/calendar; charset=utf-8"}


@router.get("/reports/", dependencies=[Depends(perm.allow(perm.reports_view, perm.nothing))])
def reports(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    rows = list(uow.session.scalars(select(GeneratedReport).order_by(GeneratedReport.created_at.desc(),
                                                                     GeneratedReport.id.desc()).limit(500)))
    holds = held(uow.session) if perm.report_hold(me, None, settings, {}) else []
    return page(request, "reports", reports=rows, holds=holds)


# -- a monthly report held as a draft for the quality manager's analysis (report.hold_hours) ---------------

Holds = [Depends(perm.allow(perm.report_hold, perm.nothing))]


def _held(request: Request, uow: Uow, period: str, status: int = 200, error: Exception | None = None,
          text: str | None = None) -> Response:
    hold = hold_of(uow.session, MONTHLY, period)
    if hold is None:
        raise NotFound()
    draft = uow.session.get(GeneratedReport, hold.report_id)
    released = uow.session.get(GeneratedReport, hold.released_report_id) if hold.released_report_id else None
    return page(request, "report_hold", status=status, hold=hold, draft=draft, released=released, error=error,
                text=hold.commentary or "" if text is None else text)


@router.get("/reports/held/{period}", dependencies=Holds)
def held_report(request: Request, period: str, uow: Uow) -> Response:
    return _held(request, uow, period)


@router.post("/reports/held/{period}/comment", dependencies=Holds)
def held_comment(request: Request, period: str, me: Me, uow: Uow, text: Annotated[str, Form()] = "") -> Response:
    """Keep the analysis (the same rule as `sqms report comment`); it prints in the version that goes out."""
    text = clean_text(text)
    try:
        comment(uow.session, MONTHLY, period, text, actor=me.email, now=utcnow())
    except HoldError as exc:
        uow.rollback()
        return _held(request, uow, period, status=422, error=exc, text=text)
    uow.commit()
    return redirect(f"/app/reports/held/{period}")


@router.post("/reports/held/{period}/release", dependencies=Holds)
def held_release(request: Request, period: str, me: Me, uow: Uow, settings: Cfg) -> Response:
    """Send it now with the analysis entered so far (`sqms report release`); the outbox delivers it."""
    try:
        release_held(uow.session, settings, now=utcnow(), actor=me.email, period=period)
    except HoldError as exc:
        uow.rollback()
        return _held(request, uow, period, status=422, error=exc)
    uow.commit()
    return redirect(f"/app/reports/held/{period}")


@router.get("/reports/{report_id}/{fmt}", dependencies=[Depends(perm.allow(perm.reports_view, perm.nothing))])
def report_file(report_id: int, fmt: str, uow: Uow, settings: Cfg) -> Response:
    row = uow.session.get(GeneratedReport, report_id)
    path = Path(row.files.get(fmt, "")) if row is not None and fmt in (row.files or {}) else None
    if path is None or not path.is_file():
        raise NotFound()
    # only files the report generator wrote under the reports folder
    if not path.resolve().is_relative_to(Path(settings.reports_dir).resolve()):
        raise NotFound()
    return FileResponse(path, media_type=MEDIA.get(fmt, "application/octet-stream"), headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name, safe='')}",
        "X-Content-Type-Options": "nosniff"})


def _open_items(uow: Uow, settings: Cfg, now) -> list[dict[str, Any]]:
    """Open complaints and actions per owner, by how long past their due day (aggregate queries:
    the dashboard answers quickly whatever the number of items)."""
    from datetime import datetime

    from sqms.actions.service import open_by_owner as actions_by_owner
    from sqms.complaints.service import open_by_owner as complaints_by_owner

    today = to_local(now, settings.tz).date()
    today_start = datetime.combine(today, datetime.min.time(), tzinfo=settings.tz)
    by_owner: dict[str, dict[str, Any]] = defaultdict(lambda: {"open": 0, "overdue": 0, "over_7_days": 0,
                                                               "oldest": None})
    rows = [(o, n, late, very, to_local(oldest, settings.tz).date() if oldest else None)
            for o, n, late, very, oldest in complaints_by_owner(uow.session, settings, today_start)]
    rows += actions_by_owner(uow.session, settings, today)
    for owner, n, late, very, oldest in rows:
        row = by_owner[owner or "—"]
        row["open"] += n
        row["overdue"] += late
        row["over_7_days"] += very
        if oldest is not None:
            row["oldest"] = oldest if row["oldest"] is None else min(row["oldest"], oldest)
    return sorted(({"owner": k, **v} for k, v in by_owner.items()), key=lambda r: (-r["overdue"], -r["open"]))


@router.get("/dashboard", dependencies=[Depends(perm.allow(perm.dashboard_view, perm.nothing))])
def dashboard(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    now = utcnow()
    period = to_local(now, settings.tz).strftime("%Y-%m")
    computation = latest_computation(uow.session, period)
    outbox = dict(uow.session.execute(select(OutboxMessage.status, func.count()).where(
        OutboxMessage.status.in_((PENDING, FAILED))).group_by(OutboxMessage.status)).all())
    failed = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.status == FAILED)
                                      .order_by(OutboxMessage.updated_at.desc()).limit(10)))
    latest_ids = select(func.max(GeneratedReport.id)).group_by(GeneratedReport.kind)
    latest = list(uow.session.scalars(select(GeneratedReport).where(GeneratedReport.id.in_(latest_ids))
                                      .order_by(GeneratedReport.kind)))
    runs, runs_error = last_runs()
    return page(request, "dashboard", period=period, computation=computation, runs=runs, runs_error=runs_error,
                kpis=results_of(computation) if computation else [], owners=_open_items(uow, settings, now),
                pending=outbox.get(PENDING, 0), failed_count=outbox.get(FAILED, 0), failed=failed, latest=latest,
                may_compute=perm.kpi_compute(me, None, settings, {}))


@router.post("/dashboard/kpi", dependencies=[Depends(perm.allow(perm.kpi_compute, perm.nothing))])
def compute_kpis(uow: Uow, settings: Cfg) -> Response:
    """This month's KPIs, computed and stored as `sqms kpi --period` does."""
    compute_and_store(uow.session, settings, to_local(utcnow(), settings.tz).strftime("%Y-%m"))
    uow.commit()
    return redirect("/app/dashboard")
