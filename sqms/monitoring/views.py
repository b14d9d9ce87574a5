"""Recording an inspection in the workspace, on a phone at the service site (the same `record_inspection`
the CLI calls): template, department, person, each item pass / fail / n.a. with a note and evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from sqms.calendar import utcnow
from sqms.monitoring.models import Inspection, Staff
from sqms.monitoring.service import (
    InspectionError,
    ItemResult,
    NewInspection,
    parse_result,
    record_inspection,
)
from sqms.monitoring.templates import load_templates
from sqms.web import permissions as perm
from sqms.web.workspace import Cfg, Me, NotFound, Uow, page, redirect

router = APIRouter()


def load_inspection(inspection_id: str, uow: Uow) -> Inspection:
    row = uow.session.get(Inspection, inspection_id)
    if row is None:
        raise NotFound()
    return row


Viewable = Annotated[Inspection, Depends(perm.allow(perm.inspection_view, load_inspection))]


def _form(request: Request, uow, settings, me, template: str, status: int = 200, error: Exception | None = None,
          values: dict | None = None) -> Response:
    templates = load_templates(settings)
    chosen = templates.get(template) or templates[settings.monitoring.plan_template]
    staff = uow.session.scalars(select(Staff).where(Staff.department != me.department)
                                .order_by(Staff.department, Staff.staff_id)).all()
    return page(request, "inspection_new", status=status, templates=templates, template=chosen, staff=staff,
                error=error, values=values or {})


@router.get("/inspections/new", dependencies=[Depends(perm.allow(perm.inspection_record, perm.nothing))])
def inspection_form(request: Request, me: Me, uow: Uow, settings: Cfg, template: str = "") -> Response:
    return _form(request, uow, settings, me, template)


@router.post("/inspections/new", dependencies=[Depends(perm.allow(perm.inspection_record, perm.nothing))])
async def inspection_submit(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    templates = load_templates(settings)
    template = templates.get(form.get("template", ""))
    try:
        if template is None:
            raise InspectionError(f"template: unknown template {form.get('template')!r}", code="not_one_of",
                                  field="template", value=form.get("template", ""), options=sorted(templates))
        results = []
        for item in template.items():
            value = form.get(f"r_{item.code}", "na")
            note = form.get(f"n_{item.code}", "").strip() or None
            evidence = [e.strip() for e in form.get(f"e_{item.code}", "").split(";") if e.strip()]
            results.append(ItemResult(item.code, parse_result(value, item.points), note, evidence))
        staff = form.get("staff_id", "").strip() or None
        when = utcnow()
        new = NewInspection(inspection_id=f"INS-{when.strftime('%Y%m%d%H%M%S')}-{me.email.split('@')[0][:12]}",
                            template=template.code, department=form.get("department", ""), inspector=me.email,
                            inspected_at=when, items=results, source="internal", staff_id=staff,
                            note=form.get("note", "").strip() or None)
        row, _ = record_inspection(uow.session, settings, new, templates=templates, actor=me.email)
    except InspectionError as exc:
        uow.rollback()
        return _form(request, uow, settings, me, form.get("template", ""), status=422, error=exc, values=form)
    uow.commit()
    return redirect(f"/app/inspections/{row.inspection_id}")


@router.get("/inspections/{inspection_id}")
def inspection_page(request: Request, inspection: Viewable, settings: Cfg) -> Response:
    template = load_templates(settings).get(inspection.template)
    return page(request, "inspection", i=inspection, template=template, now=datetime.now())
