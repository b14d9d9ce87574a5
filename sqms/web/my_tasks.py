"""我的待办: everything waiting on the signed-in person, with the reminder engine's stages, and the
audits they still have to record."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sqms.audits.service import slots_to_record
from sqms.calendar import to_local, utcnow
from sqms.processes import DEADLINES
from sqms.reminders.service import waiting_on
from sqms.web.workspace import Cfg, Me, Uow, page

router = APIRouter()


@router.get("/")
def my_tasks(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    now = utcnow()
    items = DEADLINES.collect(uow.session, settings, now)
    rows = waiting_on(items, settings, to_local(now, settings.tz).date(), me.email)
    return page(request, "my_tasks", rows=rows, slots=slots_to_record(uow.session, me.email))
