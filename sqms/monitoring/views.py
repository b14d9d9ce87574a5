"""Recording an inspection in the workspace, on a phone at the service site (the same `record_inspection`
the CLI calls): template, department, person, each item pass / fail / n.a. with a note and evidence
files (uploaded, kept by `sqms.evidence`, downloaded only by those who see the inspection); and
compliments (表扬) entered by hand (the same `add_compliment` as the CLI)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from sqms import evidence as evidence_files
from sqms.audit_trail import history
from sqms.calendar import to_local, utcnow
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.kpi_catalog import CHANNELS
from sqms.monitoring.models import Compliment, Inspection, InspectionEvidence, Staff
from sqms.monitoring.service import (
    InspectionError,
    ItemResult,
    NewInspection,
    add_compliment,
    add_inspection_evidence,
    inspection_evidence_of,
    parse_result,
    read_inspection_evidence,
    record_inspection,
)
from sqms.monitoring.templates import load_templates
from sqms.reporting.formatting import t
from sqms.web import permissions as perm
from sqms.web.files import attachment, is_upload, read_upload
from sqms.web.security import clean_text
from sqms.web.workspace import Cfg, Me, NotFound, Uow, locale_of, page, redirect

router = APIRouter()


def load_inspection(inspection_id: str, uow: Uow) -> Inspection:
    row = uow.session.get(Inspection, inspection_id)
    if row is None:
        raise NotFound()
    return row


Viewable = Annotated[Inspection, Depends(perm.allow(perm.inspection_view, load_inspection))]
Evidenced = Annotated[Inspection, Depends(perm.allow(perm.inspection_evidence, load_inspection))]


def _form(request: Request, uow, settings, me, template: str, status: int = 200, error: Exception | None = None,
          values: dict | None = None) -> Response:
    templates = load_templates(settings)
    chosen = templates.get(template) or templates[settings.monitoring.plan_template]
    staff = uow.session.scalars(select(Staff).where(Staff.department != me.department)
                                .order_by(Staff.department, Staff.staff_id)).all()
    return page(request, "inspection_new", status=status, templates=templates, template=chosen, staff=staff,
                error=error, values=values or {}, accept=evidence_files.ACCEPT)


@router.get("/inspections/new", dependencies=[Depends(perm.allow(perm.inspection_record, perm.nothing))])
def inspection_form(request: Request, me: Me, uow: Uow, settings: Cfg, template: str = "") -> Response:
    return _form(request, uow, settings, me, template)


@router.post("/inspections/new", dependencies=[Depends(perm.allow(perm.inspection_record, perm.nothing))])
async def inspection_submit(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    raw = await request.form()
    form = {k: clean_text(v) for k, v in raw.items() if isinstance(v, str)}
    uploads = {k[2:]: v for k, v in raw.items() if k.startswith("f_") and is_upload(v)}  # f_<item>: a photo ...
    templates = load_templates(settings)
    template = templates.get(form.get("template", ""))
    try:
        if template is None:
            raise InspectionError(f"template: unknown template {form.get('template')!r}", code="not_one_of",
                                  field="template", value=form.get("template", ""), options=sorted(templates))
        files = {}
        for code, upload in uploads.items():  # checked before anything is recorded
            data = await read_upload(upload, settings.web.evidence_max_bytes)
            try:
                files[code] = (evidence_files.checked(settings, upload.filename, data).filename, data)
            except evidence_files.EvidenceError as exc:
                raise InspectionError(*exc.problems) from None
        results = []
        for item in template.items():
            value = form.get(f"r_{item.code}", "na")
            note = form.get(f"n_{item.code}", "").strip() or None
            evidence = [e.strip() for e in form.get(f"e_{item.code}", "").split(";") if e.strip()]
            if item.code in files and files[item.code][0] not in evidence:
                evidence.append(files[item.code][0])
            results.append(ItemResult(item.code, parse_result(value, item.points), note, evidence))
        staff = form.get("staff_id", "").strip() or None
        when = utcnow()
        new = NewInspection(inspection_id=f"INS-{when.strftime('%Y%m%d%H%M%S')}-{me.email.split('@')[0][:12]}",
                            template=template.code, department=form.get("department", ""), inspector=me.email,
                            inspected_at=when, items=results, source="internal", staff_id=staff,
                            note=form.get("note", "").strip() or None)
        row, _ = record_inspection(uow.session, settings, new, templates=templates, actor=me.email)
        for code, (name, data) in files.items():
            add_inspection_evidence(uow.session, settings, row, item=code, filename=name, data=data, actor=me.email)
    except InspectionError as exc:
        uow.rollback()
        return _form(request, uow, settings, me, form.get("template", ""), status=422, error=exc, values=form)
    uow.commit()
    return redirect(f"/app/inspections/{row.inspection_id}")


def _show(request: Request, uow: UnitOfWork, settings: Settings, me: Person, inspection: Inspection,
          status: int = 200, error: Exception | None = None) -> Response:
    template = load_templates(settings).get(inspection.template)
    return page(request, "inspection", status=status, i=inspection, template=template, now=datetime.now(),
                evidence=inspection_evidence_of(uow.session, inspection),
                adds_evidence=perm.inspection_evidence(me, inspection, settings, {}), accept=evidence_files.ACCEPT,
                history=history(uow.session, "inspection", inspection.inspection_id), error=error)


@router.get("/inspections/{inspection_id}")
def inspection_page(request: Request, inspection: Viewable, me: Me, uow: Uow, settings: Cfg) -> Response:
    return _show(request, uow, settings, me, inspection)


@router.post("/inspections/{inspection_id}/evidence")
async def inspection_evidence(request: Request, inspection: Evidenced, me: Me, uow: Uow, settings: Cfg) -> Response:
    raw = await request.form()
    upload = raw.get("file")
    try:
        if not is_upload(upload):
            raise InspectionError("evidence: choose a file", code="evidence.missing")
        data = await read_upload(upload, settings.web.evidence_max_bytes)
        add_inspection_evidence(uow.session, settings, inspection, item=clean_text(raw.get("item") or "") or None,
                                filename=upload.filename, data=data, actor=me.email)
    except InspectionError as exc:
        uow.rollback()
        return _show(request, uow, settings, me, load_inspection(inspection.inspection_id, uow), status=422,
                     error=exc)
    uow.commit()
    return redirect(f"/app/inspections/{inspection.inspection_id}")


@router.get("/inspections/{inspection_id}/evidence/{evidence_id}")
def inspection_evidence_download(evidence_id: int, inspection: Viewable, uow: Uow, settings: Cfg) -> Response:
    row = uow.session.get(InspectionEvidence, evidence_id)
    if row is None or row.inspection_id != inspection.inspection_id:
        raise NotFound()
    return attachment(read_inspection_evidence(settings, row), row.filename, row.content_type)


# -- compliments (表扬) entered on the web: the same `add_compliment` as `sqms compliment add` -------------------


def _compliments(request: Request, uow: UnitOfWork, settings: Settings, me: Person, status: int = 200,
                 errors: dict | None = None, values: dict | None = None) -> Response:
    everywhere = perm.compliment_record(me, None, settings, {"department": "*"})
    departments = [d for d in settings.departments if everywhere or d.code == me.department]
    codes = [d.code for d in departments]
    staff = uow.session.scalars(select(Staff).where(Staff.department.in_(codes))
                                .order_by(Staff.department, Staff.staff_id)).all()
    recent = uow.session.scalars(select(Compliment).where(Compliment.department.in_(codes))
                                 .order_by(Compliment.received_at.desc()).limit(20)).all()
    return page(request, "compliments", status=status, departments=departments, staff=staff, recent=recent,
                channels=CHANNELS, errors=errors or {}, values=values or {"department": me.department},
                request_saved=request.query_params.get("saved", "")[:40])


@router.get("/compliments", dependencies=[Depends(perm.allow(perm.compliment_record, perm.nothing))])
def compliments_page(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    return _compliments(request, uow, settings, me)


@router.post("/compliments", dependencies=[Depends(perm.allow(perm.compliment_record, perm.nothing))])
def compliment_submit(request: Request, me: Me, uow: Uow, settings: Cfg, department: Annotated[str, Form()] = "",
                      staff_id: Annotated[str, Form()] = "", channel: Annotated[str, Form()] = "",
                      customer_id: Annotated[str, Form()] = "", received_at: Annotated[str, Form()] = "",
                      description: Annotated[str, Form()] = "") -> Response:
    loc = locale_of(request, settings)
    values = {"department": department, "staff_id": staff_id, "channel": channel, "customer_id": customer_id,
              "received_at": received_at, "description": clean_text(description)}
    errors = {}
    received = utcnow()
    if received_at.strip():
        try:
            received = datetime.fromisoformat(received_at.strip()).replace(tzinfo=settings.tz)
        except ValueError:
            errors["received_at"] = t(loc, f"收到时间：{received_at} 不是日期时间（如 2026-11-30T09:30）。",
                                      f"Received: {received_at} is not a date and time such as 2026-11-30T09:30.")
        else:
            if received > utcnow():
                errors["received_at"] = t(loc, "收到时间：不能晚于现在。", "Received: cannot be in the future.")
    if channel and channel not in CHANNELS:
        errors["channel"] = t(loc, "渠道：请从列表中选择。", "Channel: choose one from the list.")
    if not values["description"].strip():
        errors["description"] = t(loc, "表扬内容：请写下客户表扬了什么。", "Compliment: write what the customer said.")
    staff = uow.session.get(Staff, staff_id) if staff_id else None
    if staff_id and (staff is None or staff.department != department):
        errors["staff_id"] = t(loc, "受表扬员工：请选择该部门的员工。", "Staff praised: choose a person of that department.")
    if errors:
        return _compliments(request, uow, settings, me, status=422, errors=errors, values=values)
    ident = f"PR-{to_local(received, settings.tz):%Y%m%d%H%M%S}-{secrets.token_hex(2).upper()}"
    try:
        add_compliment(uow.session, settings, compliment_id=ident, department=department, received_at=received,
                       staff_id=staff_id or None, channel=channel or None, customer_id=customer_id.strip() or None,
                       description=values["description"].strip(), actor=me.email)
    except InspectionError as exc:
        uow.rollback()
        field = str(exc).split(":", 1)[0]
        return _compliments(request, uow, settings, me, status=422, values=values,
                            errors={field if field in values else "form": str(exc)})
    uow.commit()
    return redirect("/app/compliments?saved=" + ident)
