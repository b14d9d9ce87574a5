"""`sqms web`: the pages people outside the organisation answer (complaint feedback, satisfaction surveys).

Plain server-rendered forms (FastAPI + the shared Jinja2 environment, autoescaped), readable
on a phone, in the organisation's language (`?lang=en` or `?lang=zh_CN` to switch). A link is
a single-use token: a used or expired link gets a page that says so, never the form again.
"""

from __future__ import annotations

import logging
from typing import Callable

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from sqms.config import Settings, get_settings
from sqms.db import UnitOfWork, get_engine
from sqms.reporting.render import render_template
from sqms.tokens import TokenError, lookup
from sqms.web.security import clean_text, install_security_headers

MAX_COMMENT = 2000
log = logging.getLogger(__name__)


def create_app(settings_factory: Callable[[], Settings] = get_settings) -> FastAPI:
    app = FastAPI(title="SQMS", docs_url=None, redoc_url=None, openapi_url=None)
    install_security_headers(app)
    app.state.settings_factory = settings_factory
    from sqms.web.mount import mount

    mount(app)  # the staff workspace under /app/

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        settings = settings_factory()
        lang = request.query_params.get("lang")
        locale = lang if lang in ("zh_CN", "en") else settings.locale
        html = render_template(settings, f"web/{name}.html.j2", locale=locale, lang_query=f"?lang={locale}",
                               **context)
        return HTMLResponse(html, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return page(request, "bad_request", status=400)

    @app.exception_handler(DBAPIError)
    async def database_unavailable(request: Request, exc: DBAPIError) -> HTMLResponse:
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        return page(request, "unavailable", status=503)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 when the pages can work: the database answers."""
        try:
            with get_engine(settings_factory().database_url).connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # whatever the reason, the forms cannot store an answer now
            return JSONResponse({"ok": False, "database": type(exc).__name__}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

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
                return problem(request, exc)
            complaint = get(uow.session, row.subject_id)
            return page(request, "feedback", complaint=complaint, token=token, errors=[], score=None, comment="")

    @app.post("/feedback/{token}", response_class=HTMLResponse)
    def feedback_submit(request: Request, token: str, score: str = Form(""), comment: str = Form("")) -> HTMLResponse:
        from sqms.complaints.service import FEEDBACK, get, record_web_feedback

        settings = settings_factory()
        errors = []
        score, comment = clean_text(score).strip(), clean_text(comment)
        # isdecimal, not isdigit: "²" is a digit that int() refuses
        value = int(score) if score.isdecimal() and len(score) <= 3 else None
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
                return problem(request, exc)
            uow.commit()
        return page(request, "thanks", reopened="reopen" in made, score=value)

    # -- satisfaction surveys ------------------------------------------------------------------

    def survey_page(request: Request, uow: UnitOfWork, token: str, status: int = 200, **extra) -> HTMLResponse:
        from sqms.surveys.service import open_invitation, questionnaire_of

        settings = settings_factory()
        _, invitation, campaign = open_invitation(uow.session, token)
        return page(request, "survey", status=status, campaign=campaign, token=token,
                    q=questionnaire_of(settings, campaign), **{"errors": {}, "values": {}, **extra})

    @app.get("/survey/{token}", response_class=HTMLResponse)
    def survey_form(request: Request, token: str) -> HTMLResponse:
        settings = settings_factory()
        with UnitOfWork(settings.database_url) as uow:
            try:
                return survey_page(request, uow, token)
            except TokenError as exc:
                return problem(request, exc)

    @app.post("/survey/{token}", response_class=HTMLResponse)
    async def survey_submit(request: Request, token: str) -> HTMLResponse:
        form = {clean_text(k): clean_text(v) for k, v in (await request.form()).items()}
        return await run_in_threadpool(survey_answer, request, token, form)

    def survey_answer(request: Request, token: str, form: dict[str, str]) -> HTMLResponse:
        from sqms.surveys.service import open_invitation, questionnaire_of, record_answer, validate_answer

        settings = settings_factory()
        with UnitOfWork(settings.database_url, actor="web") as uow:
            try:
                _, _, campaign = open_invitation(uow.session, token)
                answer, errors = validate_answer(questionnaire_of(settings, campaign), form)
                if errors:
                    return survey_page(request, uow, token, status=422, errors=errors, values=form)
                record_answer(uow.session, settings, token, answer)
            except TokenError as exc:
                return problem(request, exc)
            uow.commit()
        return page(request, "thanks", reopened=False, score=None)

    @app.get("/survey/{token}/opt-out", response_class=HTMLResponse)
    def opt_out_confirm(request: Request, token: str) -> HTMLResponse:
        from sqms.surveys.service import open_invitation

        settings = settings_factory()
        with UnitOfWork(settings.database_url) as uow:
            try:
                open_invitation(uow.session, token, allow_closed=True)
            except TokenError as exc:
                return problem(request, exc)
        return page(request, "opt_out", token=token, done=False)

    @app.post("/survey/{token}/opt-out", response_class=HTMLResponse)
    def opt_out_submit(request: Request, token: str) -> HTMLResponse:
        from sqms.surveys.service import opt_out

        settings = settings_factory()
        with UnitOfWork(settings.database_url, actor="web") as uow:
            try:
                opt_out(uow.session, token)
            except TokenError as exc:
                return problem(request, exc)
            uow.commit()
        return page(request, "opt_out", token=token, done=True)

    def problem(request: Request, exc: TokenError) -> HTMLResponse:
        return page(request, "link_problem", status=410 if exc.reason != "unknown" else 404, reason=exc.reason)

    from sqms.suggestions.views import router as suggestions_router

    app.include_router(suggestions_router(settings_factory))
    return app


def serve(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(create_app(), host=host or settings.web.host, port=port or settings.web.port, log_level="info")
