"""Staff sign-in: the people of `people:` in config are the accounts.

A person asks for a link on the sign-in form; SQMS mails a one-time link through the outbox
(valid `web.signin_link_minutes`, only its hash stored, claimed once with a conditional
UPDATE so two tabs cannot both use it). An unknown address gets the same answer as a known
one. Attempts are counted in the database per address and per client, so the limit holds
across workers. The session is a signed cookie (HMAC-SHA256) holding the address, a CSRF
token and the time of the last request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sqms.auth.models import SignInAttempt
from sqms.calendar import to_local, utcnow
from sqms.config import Person, Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.tokens import AccessToken, TokenError, lookup

PROCESS = "signin"
SIGN_IN = "sign-in"


class RateLimited(Exception):
    """Too many sign-in requests for this address or from this client; try again later."""


def person_for(settings: Settings, email: str | None) -> Person | None:
    email = (email or "").strip().lower()
    return next((p for p in settings.people if p.email == email), None) if email else None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def request_link(session: Session, settings: Settings, email: str, client: str, *,
                 now: datetime | None = None) -> bool:
    """Record the attempt and, for a configured person, queue a sign-in link. Returns whether a
    mail was queued (the caller must not tell the visitor). RateLimited when over a limit."""
    now = now or utcnow()
    web = settings.web
    address = _sha256((email or "").strip().lower())
    since = now - timedelta(minutes=web.signin_window_minutes)
    recent = select(func.count()).select_from(SignInAttempt).where(SignInAttempt.at >= since)
    by_address = session.scalar(recent.where(SignInAttempt.address_hash == address))
    by_client = session.scalar(recent.where(SignInAttempt.client == client[:64]))
    if by_address >= web.signin_attempts_per_address or by_client >= web.signin_attempts_per_client:
        raise RateLimited()
    session.add(SignInAttempt(at=now, address_hash=address, client=client[:64]))
    person = person_for(settings, email)
    if person is None:
        session.flush()
        return False
    token = secrets.token_urlsafe(32)
    row = AccessToken(token_hash=_sha256(token), purpose=SIGN_IN, subject_id=person.email, email=person.email,
                      created_at=now, expires_at=now + timedelta(minutes=web.signin_link_minutes))
    session.add(row)
    session.flush()
    link = f"{web.base_url}/app/login/{token}"
    mail = compose(settings, "signin_link", person, link=link, minutes=web.signin_link_minutes,
                   valid_until=to_local(row.expires_at, settings.tz))
    enqueue(session, process=PROCESS, obj=f"link:{row.id}", period=now.strftime("%Y-%m-%dT%H:%M:%S"), email=mail)
    return True


def check_link(session: Session, token: str, *, now: datetime | None = None) -> AccessToken:
    """The valid, unused sign-in token (TokenError: unknown | used | expired)."""
    return lookup(session, token, SIGN_IN, now)


def claim_link(session: Session, settings: Settings, token: str, *, now: datetime | None = None) -> Person:
    """Use the link up, atomically: of two concurrent claims exactly one succeeds."""
    now = now or utcnow()
    claimed = session.execute(
        update(AccessToken)
        .where(AccessToken.token_hash == _sha256(token), AccessToken.purpose == SIGN_IN,
               AccessToken.used_at.is_(None), AccessToken.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        lookup(session, token, SIGN_IN, now)  # raises with the reason
        raise TokenError("used")
    email = session.scalar(select(AccessToken.subject_id).where(AccessToken.token_hash == _sha256(token)))
    person = person_for(settings, email)
    if person is None:  # removed from the configuration since the link was mailed
        raise TokenError("unknown")
    return person


# -- the session cookie ---------------------------------------------------------------------


def secret_key(settings: Settings) -> bytes:
    """`web.secret_key` (SQMS_WEB__SECRET_KEY), else the key file, created once with mode 600."""
    if settings.web.secret_key:
        return settings.web.secret_key.encode()
    path = settings.web.secret_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(payload: dict[str, Any], key: bytes) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unsign(cookie: str | None, key: bytes) -> dict[str, Any] | None:
    """The payload of a cookie signed with `key`, or None (missing, tampered, malformed)."""
    if not cookie or "." not in cookie:
        return None
    body, mac = cookie.rsplit(".", 1)
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
