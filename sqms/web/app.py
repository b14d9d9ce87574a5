"""`sqms web`: the pages people outside the organisation answer (complaint feedback; surveys later).

Plain server-rendered forms (FastAPI + the shared Jinja2 environment, autoescaped), readable
on a phone, in the organisation's language (`?lang=en` or `?lang=zh_CN` to switch). A link is
a single-use token: a used or expired link gets a page that says so, never the form again.
"""

from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse

from sqms.config import Settings, get_settings
from sqms.db import UnitOfWork
from sqms.reporting.render import render_template
from sqms.tokens import TokenError, lookup

MAX_COMMENT = 2000


def create_app(settings_factory: Callable[[], Settings] = get_settings) -> FastAPI:
    app = FastAPI(title="SQMS", docs_url=None, redoc_url=None, openapi_url=None)

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        settings = settings_factory()
        lang = request.query_params.get("lang")
        locale = lang if lang in ("zh_CN", "en") else settings.locale
        html = render_template(settings, f"web/{name}.html.j2", locale=locale, lang_query=f"?lang={locale}",
                               **context)
        return HTMLResponse(html, status_code=status)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return page(request, "home")

    @app.get("/feedback/{token}", response_class=HTMLResponse)
    def feedback_form(request: Request, token: str) -> HTMLResponse:
        from sqms.complaints.service import FEEDBACK, get

        settings = settings_factory()
        with UnitOfWork(settings.database_url) as uow:
            try:
                row = lookup(uow.session, token, FEEDBACK)
            except TokenError as exc:
                return page(request, "link_problem", status=410 if exc.reason != "unknown" else 404,
                            reason=exc.reason)
            complaint = get(uow.session, row.subject_id)
            return page(request, "feedback", complaint=complaint, token=token, errors=[], score=None, comment="")

    @app.post("/feedback/{token}", response_class=HTMLResponse)
    def feedback_submit(request: Request, token: str, score: str = Form(""), comment: str = Form("")) -> HTMLResponse:
        from sqms.complaints.service import FEEDBACK, get, record_web_feedback

        settings = settings_factory()
        errors = []
        value = int(score) if score.strip().isdigit() else None
        if value is None or not 1 <= value <= 5:
            errors.append("score")
        if len(comment) > MAX_COMMENT:
            errors.append("comment")
        with UnitOfWork(settings.database_url, actor="web") as uow:
            try:
                if errors:
                    row = lookup(uow.session, token, FEEDBACK)
                    return page(request, "feedback", status=422, complaint=get(uow.session, row.subject_id),
                                token=token, errors=errors, score=value, comment=comment)
                complaint, made = record_web_feedback(uow.session, settings, token, score=value, comment=comment)
            except TokenError as exc:
                return page(request, "link_problem", status=410 if exc.reason != "unknown" else 404,
                            reason=exc.reason)
            uow.commit()
        return page(request, "thanks", reopened="reopen" in made, score=value)

    return app


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(create_app(), host=host or settings.web.host, port=port or settings.web.port, log_level="info")
