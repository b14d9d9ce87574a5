"""The public suggestion form `/suggest` (customers; staff too until the workspace has its own).

No captcha: a hidden honeypot field that people never fill (a bot that fills it gets the thank-you
page and nothing is stored), and a rate limit per client address (`suggestions.rate_limit_per_hour`),
counted in the database so that it holds across web workers. The address itself is not kept, only a
short hash of it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Callable

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.reporting.render import render_template

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
        from sqms.suggestions.models import Suggestion
        from sqms.suggestions.service import SuggestionError, submit

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
