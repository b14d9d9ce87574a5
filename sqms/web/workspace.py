"""The staff workspace (`/app/`): what every page shares.

The session (a signed cookie, see `sqms.auth.service`), the signed-in person as a dependency,
a unit of work whose actor is that person, CSRF on every POST (one dependency for every
router, added where the routers are mounted), page rendering from `templates/web/app/`, and
the 403 / sign-in answers. Each domain's pages are in `sqms/<domain>/views.py`, mounted by
`sqms.web.mount` (this module imports no domain); who may do what is decided in `sqms.web.permissions`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders

from sqms.auth.service import person_for, secret_key, sign, unsign
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.reporting.render import render_template
from sqms.web.links import item_path

log = logging.getLogger("sqms.web.access")
COOKIE = "sqms_session"


class NotSignedIn(Exception):
    """A workspace page asked for without a (live) session."""


class Forbidden(Exception):
    """The signed-in person may not see or do this (answered 403, logged)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class NotFound(Exception):
    """No such item (404); an item that exists but is out of scope is Forbidden."""


class BadRequestToken(Exception):
    """A POST without the session's CSRF token."""


class Invalid(Exception):
    """Input a form must show again with the problem (422)."""


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings_factory()


# -- the session ------------------------------------------------------------------------------------


def session_state(cookie: str | None, key: bytes, now: float, idle_minutes: int) -> dict[str, Any]:
    """The session in a cookie: {'e': email or absent, 'c': CSRF token, 't': last request}. A
    missing or tampered cookie is a fresh anonymous session; an idle one loses its person."""
    data = unsign(cookie, key)
    if data is None or not isinstance(data.get("c"), str):
        return {"c": secrets.token_urlsafe(24), "t": int(now)}
    if data.get("e") and now - float(data.get("t", 0)) > idle_minutes * 60:
        data.pop("e", None)
        data["c"] = secrets.token_urlsafe(24)
    return data


def start_session(request: Request, email: str | None) -> None:
    """Sign `email` in (None: out), with a new CSRF token (a token seen before the sign-in is not reused)."""
    lang = request.state.session.get("l")
    request.state.session = {"e": email, "c": secrets.token_urlsafe(24), "l": lang} if email else {
        "c": secrets.token_urlsafe(24), "l": lang}


class SessionMiddleware:
    """The workspace's session for every request under /app: read from the cookie into
    `request.state.session` before the page, written back (signed, sliding) when the response starts.
    Pure ASGI, like `sqms.web.security.SecurityHeaders`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/app"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        settings: Settings = scope["app"].state.settings_factory()
        key = secret_key(settings)
        request.state.session = session_state(request.cookies.get(COOKIE), key, time.time(),
                                              settings.web.session_idle_minutes)
        if request.query_params.get("lang") in ("zh_CN", "en"):  # the chosen language stays for the session
            request.state.session["l"] = request.query_params["lang"]

        async def send_with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                # the page may have replaced the session (sign-in, sign-out): read it now
                data = {k: v for k, v in request.state.session.items() if v is not None}
                data["t"] = int(time.time())  # sliding: the idle timeout counts from the last request
                cookie = Response()
                cookie.set_cookie(COOKIE, sign(data, key), path="/app", httponly=True, samesite="lax",
                                  secure=settings.web.base_url.startswith("https://"))
                MutableHeaders(scope=message).append("set-cookie", cookie.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_cookie)


Cfg = Annotated[Settings, Depends(get_settings_dep)]


def current_person(request: Request, settings: Cfg) -> Person:
    person = person_for(settings, request.state.session.get("e"))
    if person is None:
        raise NotSignedIn()
    return person


async def csrf_protect(request: Request) -> None:
    """Every POST under /app/ carries the session's token in the form field `csrf_token`."""
    if request.method != "POST":
        return
    sent = (await request.form()).get("csrf_token")
    expected = request.state.session.get("c", "")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        log.warning("csrf refused: %s %s from %s", request.method, request.url.path,
                    request.client.host if request.client else "?")
        raise BadRequestToken()


Me = Annotated[Person, Depends(current_person)]


def get_uow(person: Me, settings: Cfg) -> Iterator[UnitOfWork]:
    """One transaction per request, every change attributed to the signed-in person."""
    with UnitOfWork(settings.database_url, actor=person.email) as uow:
        yield uow


Uow = Annotated[UnitOfWork, Depends(get_uow)]


# -- pages ------------------------------------------------------------------------------------------


def locale_of(request: Request, settings: Settings) -> str:
    lang = request.query_params.get("lang") or getattr(request.state, "session", {}).get("l")
    return lang if lang in ("zh_CN", "en") else settings.locale


Navigation = Callable[[Person, Settings], dict[str, bool]]
# which sections the header links to: decided by sqms.web.permissions, set by the composition point
# (sqms.web.mount) because the permissions build on this module
_navigation: Navigation = lambda person, settings: {}  # noqa: E731


def use_navigation(navigation: Navigation) -> None:
    global _navigation
    _navigation = navigation


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `templates/web/app/<name>.html.j2` with the signed-in person and the CSRF token."""
    settings: Settings = request.app.state.settings_factory()
    session = getattr(request.state, "session", {})
    me = person_for(settings, session.get("e"))
    html = render_template(settings, f"web/app/{name}.html.j2", locale=locale_of(request, settings),
                           csrf_token=session.get("c", ""), me=me, nav=_navigation(me, settings) if me else {},
                           item_path=item_path, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
