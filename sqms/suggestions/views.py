"""The public suggestion form `/suggest` (customers), and the staff's in the workspace (`/app/suggestions`).

No captcha: a hidden honeypot field that people never fill (a bot that fills it gets the thank-you
page and nothing is stored), and a rate limit per client address (`suggestions.rate_limit_per_hour`),
counted in the database so that it holds across web workers. The address itself is not kept, only a
short hash of it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated, Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from sqms.actions.service import ActionError
from sqms.audit_trail import history
from sqms.calendar import parse_day, utcnow
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.reporting.formatting import t
from sqms.reporting.render import render_template
from sqms.statemachine import IllegalTransition
from sqms.suggestions.models import SUBMITTED, Suggestion
from sqms.suggestions.service import (
    LIFECYCLE,
    SuggestionError,
    evaluate,
    get,
    listing,
    submit,
)
from sqms.web import permissions as perm
from sqms.web.security import clean_text
from sqms.web.workspace import Cfg, Me, NotFound, Uow, locale_of, redirect
from sqms.web.workspace import page as ws_page

MAX_TEXT = 2000
HONEYPOT = "website"


def _client(request: Request) -> str:
    address = request.client.host if request.client else "unknown"
    return "web:" + hashlib.sha256(address.encode()).hexdigest()[:16]


def router(settings_factory: Callable[[], Settings]) -> APIRouter:
    routes = APIRouter()

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        settings = settings_factory()
        lang = request.query_params.get("lang")
        locale = lang if lang in ("zh_CN", "en") else settings.locale
        html = render_template(settings, f"web/{name}.html.j2", locale=locale, lang_query=f"?lang={locale}",
                               honeypot=HONEYPOT, **context)
        return HTMLResponse(html, status_code=status)

    @routes.get("/suggest", response_class=HTMLResponse)
    def suggest_form(request: Request) -> HTMLResponse:
        return page(request, "suggest", errors=[], values={})

    @routes.post("/suggest", response_class=HTMLResponse)
    def suggest_submit(request: Request, text: str = Form(""), name: str = Form(""), email: str = Form(""),
                       website: str = Form("")) -> HTMLResponse:
        settings = settings_factory()
        values = {"text": text, "name": name, "email": email}
        if website.strip():  # the honeypot: only a bot fills a field nobody sees
            return page(request, "suggest_thanks")
        errors = []
        if not text.strip():
            errors.append("text")
        if len(text) > MAX_TEXT:
            errors.append("text_long")
        client = _client(request)
        with UnitOfWork(settings.database_url, actor=client) as uow:
            recent = uow.session.scalar(select(func.count()).select_from(Suggestion).where(
                Suggestion.created_by == client, Suggestion.received_at >= utcnow() - timedelta(hours=1)))
            if recent >= settings.suggestions.rate_limit_per_hour:
                return page(request, "suggest", status=429, errors=["rate"], values=values)
            if errors:
                return page(request, "suggest", status=422, errors=errors, values=values)
            try:
                submit(uow.session, settings, text=text, source="customer", name=name, email=email, actor=client)
            except SuggestionError:
                return page(request, "suggest", status=422, errors=["email"], values=values)
            uow.commit()
        return page(request, "suggest_thanks")

    return routes



# -- the staff workspace (/app/suggestions): staff submit and follow their suggestions; the evaluators
# accept (an improvement action) or reject with a reason — the same `submit` and `evaluate` the CLI calls.

workspace = APIRouter()


def load_suggestion(ref: str, uow: Uow) -> Suggestion:
    try:
        return get(uow.session, ref)
    except SuggestionError:
        raise NotFound() from None


Viewable = Annotated[Suggestion, Depends(perm.allow(perm.suggestion_view, load_suggestion))]
Evaluable = Annotated[Suggestion, Depends(perm.allow(perm.suggestion_evaluate, load_suggestion))]
Submits = [Depends(perm.allow(perm.suggestion_submit, perm.nothing))]


def _list(request: Request, me: Person, uow: UnitOfWork, settings: Settings, status: int = 200,
          errors: dict | None = None, values: dict | None = None) -> Response:
    evaluator = perm.suggestion_evaluate(me, None, settings, {})
    rows = listing(uow.session)
    mine = [s for s in rows if s.created_by == me.email]
    queue = sorted((s for s in rows if s.status == SUBMITTED), key=lambda s: (s.evaluation_due_on, s.id)) \
        if evaluator else []
    return ws_page(request, "suggestions", status=status, mine=mine, queue=queue, evaluator=evaluator,
                   errors=errors or {}, values=values or {}, max_text=MAX_TEXT)


@workspace.get("/suggestions", dependencies=Submits)
def suggestions_page(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    return _list(request, me, uow, settings)


@workspace.post("/suggestions", dependencies=Submits)
def suggestion_new(request: Request, me: Me, uow: Uow, settings: Cfg, text: Annotated[str, Form()] = "",
                   department: Annotated[str, Form()] = "") -> Response:
    loc = locale_of(request, settings)
    text = clean_text(text)
    values = {"text": text, "department": department}
    errors = {}
    if not text.strip():
        errors["text"] = t(loc, "建议内容：请填写您的建议。", "Suggestion: write your suggestion.")
    elif len(text) > MAX_TEXT:
        errors["text"] = t(loc, f"建议内容：不能超过 {MAX_TEXT} 字。", f"Suggestion: at most {MAX_TEXT} characters.")
    if department and department not in [d.code for d in settings.departments]:
        errors["department"] = t(loc, "涉及部门：请从列表中选择。", "Department: choose one from the list.")
    if errors:
        return _list(request, me, uow, settings, status=422, errors=errors, values=values)
    row = submit(uow.session, settings, text=text, source="staff", name=me.name, email=me.email,
                 department=department or None, actor=me.email)
    uow.commit()
    return redirect(f"/app/suggestions/{row.ref}")


def _show(request: Request, me: Person, uow: UnitOfWork, settings: Settings, suggestion: Suggestion,
          status: int = 200, errors: dict | None = None, values: dict | None = None,
          refused: Exception | None = None) -> Response:
    from sqms.actions.models import Action

    return ws_page(request, "suggestion", status=status, s=suggestion,
                   evaluates=perm.suggestion_evaluate(me, suggestion, settings, {})
                   and bool(LIFECYCLE.allowed(suggestion.status)),
                   action=uow.session.get(Action, suggestion.action_id) if suggestion.action_id else None,
                   history=history(uow.session, LIFECYCLE.entity, suggestion.ref), errors=errors or {},
                   values=values or {"department": suggestion.department or ""}, refused=refused)


@workspace.get("/suggestions/{ref}")
def suggestion_page(request: Request, suggestion: Viewable, me: Me, uow: Uow, settings: Cfg) -> Response:
    return _show(request, me, uow, settings, suggestion)


@workspace.post("/suggestions/{ref}/evaluate")
def suggestion_evaluate(request: Request, suggestion: Evaluable, me: Me, uow: Uow, settings: Cfg,
                        decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                        department: Annotated[str, Form()] = "", owner: Annotated[str, Form()] = "",
                        due_on: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "") -> Response:
    loc = locale_of(request, settings)
    reason, title = clean_text(reason), clean_text(title)
    values = {"decision": decision, "reason": reason, "department": department, "owner": owner, "due_on": due_on,
              "title": title}
    errors = {}
    if decision not in ("accept", "reject"):
        errors["decision"] = t(loc, "评估结论：请选择采纳或不采纳。", "Decision: choose accept or reject.")
    if not reason.strip():
        errors["reason"] = t(loc, "理由：请说明理由（会告知提交人）。", "Reason: say why (the submitter is told).")
    if decision == "accept" and not (department or suggestion.department):
        errors["department"] = t(loc, "落实部门：采纳的建议须指定落实部门。",
                                 "Department: name the department that acts on it.")
    if department and department not in [d.code for d in settings.departments]:
        errors["department"] = t(loc, "落实部门：请从列表中选择。", "Department: choose one from the list.")
    if owner and owner not in [p.email for p in settings.people]:
        errors["owner"] = t(loc, "责任人：请从列表中选择。", "Owner: choose a person from the list.")
    day = None
    if due_on.strip():
        try:
            day = parse_day(due_on)
        except ValueError:
            errors["due_on"] = t(loc, f"完成期限：{due_on} 不是日期（如 2026-12-15）。",
                                 f"Due: {due_on} is not a date such as 2026-12-15.")
    refused = None
    if not errors:
        try:
            evaluate(uow.session, settings, suggestion, decision, by=me.email, reason=reason, owner=owner or None,
                     department=department or None, due_on=day, title=title or None, actor=me.email)
        except (SuggestionError, IllegalTransition, ActionError) as exc:
            refused = exc
    if errors or refused:
        uow.rollback()
        return _show(request, me, uow, settings, load_suggestion(suggestion.ref, uow), status=422, errors=errors,
                     values=values, refused=refused)
    uow.commit()
    return redirect(f"/app/suggestions/{suggestion.ref}")
