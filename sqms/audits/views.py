"""An internal audit cycle's page (each department's slot and findings) and the slot's findings
form for the assigned auditor, made for a phone (the same `record_findings` the workbook import calls)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from sqms.audit_trail import history
from sqms.audits.models import RESULTS, AuditCycle, AuditFinding, AuditSlot
from sqms.audits.service import (
    AuditError,
    FindingIn,
    get,
    open_cycle,
    record_findings,
    slot_of,
    slots_of,
)
from sqms.web import permissions as perm
from sqms.web.workspace import Cfg, Me, NotFound, Uow, page, redirect

router = APIRouter()


def load_cycle(cycle_id: str, uow: Uow) -> AuditCycle:
    try:
        return get(uow.session, cycle_id)
    except AuditError:
        raise NotFound() from None


def load_slot(department: str, cycle: Annotated[AuditCycle, Depends(load_cycle)], uow: Uow) -> AuditSlot:
    try:
        return slot_of(uow.session, cycle, department)
    except AuditError:
        raise NotFound() from None


def _findings(uow: Uow, cycle: AuditCycle) -> dict[int, dict[str, AuditFinding]]:
    out: dict[int, dict[str, AuditFinding]] = {}
    for f in uow.session.scalars(select(AuditFinding).where(AuditFinding.cycle_id == cycle.id)):
        out.setdefault(f.slot_id, {})[f.item_code] = f
    return out


@router.post("/audits/", dependencies=[Depends(perm.allow(perm.process_open, perm.nothing))])
def open_audit(me: Me, uow: Uow, settings: Cfg) -> Response:
    """Open (and plan) this half-year's cycle, as `sqms audit open` does."""
    cycle, _ = open_cycle(uow.session, settings, actor=me.email)
    uow.commit()
    return redirect(f"/app/audits/{cycle.code}")


@router.get("/audits/{cycle_id}")
def audit_page(request: Request, cycle: Annotated[AuditCycle, Depends(perm.allow(perm.audit_view, load_cycle))],
               me: Me, uow: Uow, settings: Cfg) -> Response:
    slots = [s for s in slots_of(uow.session, cycle) if perm.slot_view(me, s, settings, {})]
    return page(request, "audit", cycle=cycle, slots=slots, findings=_findings(uow, cycle),
                recordable={s.id for s in slots if perm.slot_record(me, s, settings, {})},
                history=history(uow.session, "audit", cycle.code))


@router.get("/audits/{cycle_id}/{department}")
def slot_page(request: Request, slot: Annotated[AuditSlot, Depends(perm.allow(perm.slot_view, load_slot))],
              cycle: Annotated[AuditCycle, Depends(load_cycle)], me: Me, uow: Uow, settings: Cfg) -> Response:
    return page(request, "audit_slot", cycle=cycle, slot=slot, results=RESULTS,
                findings=_findings(uow, cycle).get(slot.id, {}), can_record=perm.slot_record(me, slot, settings, {}),
                error=None, values={})


@router.post("/audits/{cycle_id}/{department}")
async def slot_record(request: Request, slot: Annotated[AuditSlot, Depends(perm.allow(perm.slot_record, load_slot))],
                      cycle: Annotated[AuditCycle, Depends(load_cycle)], me: Me, uow: Uow, settings: Cfg) -> Response:
    form = await request.form()
    values = {k: str(v) for k, v in form.items()}
    entries = [FindingIn(item_code=i["code"], result=values[f"result-{i['code']}"],
                         evidence=values.get(f"evidence-{i['code']}"), notes=values.get(f"notes-{i['code']}"))
               for i in slot.items if values.get(f"result-{i['code']}")]
    try:
        if not entries:
            raise AuditError(f"{slot.department}: choose a result for at least one item", code="audit.no_result")
        record_findings(uow.session, settings, cycle, slot, entries, actor=me.email)
    except AuditError as exc:
        uow.rollback()
        return page(request, "audit_slot", status=422, cycle=cycle, slot=slot, results=RESULTS,
                    findings=_findings(uow, cycle).get(slot.id, {}), can_record=True, error=exc, values=values)
    uow.commit()
    return redirect(f"/app/audits/{cycle.code}/{slot.department}?saved=1")
