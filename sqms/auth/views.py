"""Sign in with a one-time link by mail, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from sqms.auth.service import (
    MIN_PASSWORD,
    PasswordError,
    RateLimited,
    check_link,
    check_password,
    claim_link,
    clear_password,
    has_password,
    request_link,
    set_password,
)
from sqms.db import UnitOfWork
from sqms.notify.service import deliver_pending
from sqms.tokens import TokenError
from sqms.web.workspace import Cfg, Me, Uow, page, redirect, start_session

router = APIRouter()


def _next(value: str | None) -> str:
    # only our own pages: never an absolute or protocol-relative address
    return value if value and value.startswith("/app/") and not value.startswith("//") else "/app/"


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return page(request, "login", email="", sent=False, error=None, next=_next(next))


@router.post("/login")
def login_submit(request: Request, background: BackgroundTasks, settings: Cfg,
                 email: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    typed = email.strip()
    if "@" not in typed or len(typed) > 254:
        return page(request, "login", status=422, email=typed, sent=False, error="email", next=_next(next))
    client = request.client.host if request.client else "unknown"
    with UnitOfWork(settings.database_url, actor="web:signin") as uow:
        try:
            request_link(uow.session, settings, typed, client)
        except RateLimited:
            return page(request, "login", status=429, email=typed, sent=False, error="rate", next=_next(next))
        uow.commit()
    # a sign-in link is useless after the next scheduled delivery: send it now (a failure stays pending)
    background.add_task(deliver_pending, settings, process="signin")
    return page(request, "login", email=typed, sent=True, error=None, next=_next(next))


@router.post("/login/password")
def password_submit(request: Request, settings: Cfg, email: Annotated[str, Form()] = "",
                    password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    typed = email.strip()
    client = request.client.host if request.client else "unknown"
    with UnitOfWork(settings.database_url, actor="web:signin") as uow:
        try:
            person = check_password(uow.session, settings, typed, password, client)
        except RateLimited:
            return page(request, "login", status=429, email=typed, sent=False, error="rate", next=_next(next))
        uow.commit()
    if person is None:  # one answer for a wrong password, an unknown address and no password set
        return page(request, "login", status=401, email=typed, sent=False, error="password", next=_next(next))
    start_session(request, person.email)
    return redirect(_next(next))


@router.get("/password")
def password_form(request: Request, me: Me, uow: Uow, saved: int = 0) -> Response:
    return page(request, "password", has_password=has_password(uow.session, me.email), saved=bool(saved),
                error=None, min_length=MIN_PASSWORD)


@router.post("/password")
def password_set(request: Request, me: Me, uow: Uow, password: Annotated[str, Form()] = "",
                 confirm: Annotated[str, Form()] = "") -> Response:
    try:
        set_password(uow.session, me, password, confirm)
    except PasswordError as exc:
        uow.rollback()
        return page(request, "password", status=422, has_password=has_password(uow.session, me.email), saved=False,
                    error=exc, min_length=MIN_PASSWORD)
    uow.commit()
    return redirect("/app/password?saved=1")


@router.post("/password/remove")
def password_remove(me: Me, uow: Uow) -> Response:
    clear_password(uow.session, me)
    uow.commit()
    return redirect("/app/password?saved=1")


@router.get("/login/{token}")
def link_confirm(request: Request, token: str, settings: Cfg) -> Response:
    # a GET never uses the link up (mail scanners open links): the button below does
    with UnitOfWork(settings.database_url) as uow:
        try:
            row = check_link(uow.session, token)
        except TokenError as exc:
            return page(request, "link_refused", status=404 if exc.reason == "unknown" else 410, reason=exc.reason)
    return page(request, "link_confirm", token=token, email=row.email)


@router.post("/login/{token}")
def link_claim(request: Request, token: str, settings: Cfg) -> Response:
    with UnitOfWork(settings.database_url, actor="web:signin") as uow:
        try:
            person = claim_link(uow.session, settings, token)
        except TokenError as exc:
            return page(request, "link_refused", status=404 if exc.reason == "unknown" else 410, reason=exc.reason)
        uow.commit()
    start_session(request, person.email)
    return redirect("/app/")


@router.post("/logout")
def logout(request: Request) -> Response:
    start_session(request, None)
    return redirect("/app/login")
