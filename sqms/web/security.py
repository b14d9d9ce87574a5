"""What every page of `sqms web` shares for safety: response headers and clean form text.

`install_security_headers(app)` adds one middleware to an app: every response it sends (forms,
error pages, health check, any router mounted later) carries the headers below.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.datastructures import MutableHeaders

# No inline script anywhere (style attributes and <style> blocks are fine); forms post only to us;
# no page can be framed; a single-use link in the address bar never leaves in a Referer header.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # pages behind a personal link are not kept by shared caches
}


class SecurityHeaders:
    """Pure ASGI middleware: the headers go on every response's start message. (Not
    `@app.middleware("http")`, whose BaseHTTPMiddleware costs a task group and a body stream per
    request: measurable on the public forms, see `make bench`.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
    # an unexpected error is answered outside every middleware: it carries the headers itself
    app.add_exception_handler(Exception, _server_error)


async def _server_error(request: Request, exc: Exception) -> PlainTextResponse:
    return PlainTextResponse("Internal Server Error", status_code=500, headers=SECURITY_HEADERS)


# C0 control characters but tab, line feed and carriage return, and DEL: PostgreSQL refuses NUL in
# text, and none of them is something a person meant to type.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: Any) -> str:
    """A form value as text a person typed: control characters removed, lone surrogates replaced."""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub("", text.encode("utf-8", "replace").decode("utf-8"))
