"""A corrective action's page: 5-why and root cause, progress notes, evidence files, done,
verify / reject (the same `record`, `note`, `add_evidence` and `advance` the CLI calls)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import Response

from sqms.actions.models import Action, ActionEvidence
from sqms.actions.service import (
    ActionError,
    Update,
    add_evidence,
    advance,
    evidence_of,
    get,
    note,
    read_evidence,
    record,
)
from sqms.audit_trail import history
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.statemachine import IllegalTransition
from sqms.web import permissions as perm
from sqms.web.files import attachment, read_upload
from sqms.web.workspace import Cfg, Me, NotFound, Uow, page, redirect

router = APIRouter()


def load_action(action_id: str, uow: Uow) -> Action:
    try:
        return get(uow.session, action_id)
    except ActionError:
        raise NotFound() from None


Viewable = Annotated[Action, Depends(perm.allow(perm.action_view, load_action))]
Workable = Annotated[Action, Depends(perm.allow(perm.action_work, load_action))]
Movable = Annotated[Action, Depends(perm.allow(perm.action_move, load_action))]


def _show(request: Request, uow: UnitOfWork, settings: Settings, me: Person, action: Action, status: int = 200,
          error: Exception | None = None, values: dict | None = None) -> Response:
    return page(request, "action", status=status, a=action, moves=perm.action_moves(me, action, settings),
                works=perm.action_work(me, action, settings, {}), evidence=evidence_of(uow.session, action),
                history=history(uow.session, "action", action.id), error=error, values=values or {})


def _failed(request: Request, uow: UnitOfWork, settings: Settings, me: Person, action: Action, exc: Exception,
            values: dict) -> Response:
    uow.rollback()
    return _show(request, uow, settings, me, get(uow.session, action.id), status=422, error=exc, values=values)


@router.get("/actions/{action_id}")
def action_page(request: Request, action: Viewable, me: Me, uow: Uow, settings: Cfg) -> Response:
    return _show(request, uow, settings, me, action)


@router.post("/actions/{action_id}/analysis")
async def action_analysis(request: Request, action: Workable, me: Me, uow: Uow, settings: Cfg) -> Response:
    form = await request.form()
    whys = [str(form.get(f"why{i}", "")) for i in range(1, 6)]
    values = {"whys": whys, "root_cause": str(form.get("root_cause", "")), "measures": str(form.get("measures", ""))}
    try:
        record(uow.session, settings, action, Update(whys=whys, root_cause=values["root_cause"],
                                                     measures=values["measures"]), actor=me.email)
    except ActionError as exc:
        return _failed(request, uow, settings, me, action, exc, values)
    uow.commit()
    return redirect(f"/app/actions/{action.ref}")


@router.post("/actions/{action_id}/note")
def action_note(request: Request, action: Workable, me: Me, uow: Uow, settings: Cfg,
                text: Annotated[str, Form()] = "") -> Response:
    try:
        note(uow.session, action, text, actor=me.email)
    except ActionError as exc:
        return _failed(request, uow, settings, me, action, exc, {"note": text})
    uow.commit()
    return redirect(f"/app/actions/{action.ref}")


@router.post("/actions/{action_id}/evidence")
async def action_evidence(request: Request, action: Workable, me: Me, uow: Uow, settings: Cfg) -> Response:
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) and not hasattr(upload, "read"):
        missing = ActionError("evidence: choose a file", code="evidence.missing")
        return _failed(request, uow, settings, me, action, missing, {})
    data = await read_upload(upload, settings.web.evidence_max_bytes)
    try:
        add_evidence(uow.session, settings, action, filename=upload.filename or "", data=data, actor=me.email)
    except ActionError as exc:
        return _failed(request, uow, settings, me, action, exc, {})
    uow.commit()
    return redirect(f"/app/actions/{action.ref}")


@router.get("/actions/{action_id}/evidence/{evidence_id}")
def evidence_download(evidence_id: int, action: Viewable, uow: Uow, settings: Cfg) -> Response:
    row = uow.session.get(ActionEvidence, evidence_id)
    if row is None or row.action_id != action.id:
        raise NotFound()
    return attachment(read_evidence(settings, row), row.filename, row.content_type)


@router.post("/actions/{action_id}/move/{move}")
def action_move(request: Request, move: str, action: Movable, me: Me, uow: Uow, settings: Cfg,
                comment: Annotated[str, Form()] = "") -> Response:
    try:
        advance(uow.session, settings, action, move, by=me.email if move in ("verify", "reject") else None,
                actor=me.email, comment=comment or None)
    except (ActionError, IllegalTransition) as exc:
        return _failed(request, uow, settings, me, action, exc, {"move": move, "comment": comment})
    uow.commit()
    return redirect(f"/app/actions/{action.ref}")
