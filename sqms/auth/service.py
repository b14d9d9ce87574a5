"""Staff sign-in: the people of `people:` in config are the accounts.

A person asks for a link on the sign-in form; SQMS mails a one-time link through the outbox
(valid `web.signin_link_minutes`, only its hash stored, claimed once with a conditional
UPDATE so two tabs cannot both use it). An unknown address gets the same answer as a known
one. Attempts are counted in the database per address and per client, so the limit holds
across workers. The session is a signed cookie (HMAC-SHA256) holding the address, a CSRF
token and the time of the last request.

Optionally a person sets a password (signed in by a link first) and signs in with it: only its
argon2id hash is stored (argon2-cffi), attempts count against the same limits as link requests,
an unknown address costs the same work as a known one, and a hash made with older parameters
is made again with the current ones at the next successful sign-in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sqms.audit_trail import record_change
from sqms.auth.models import SignInAttempt, StaffPassword
from sqms.calendar import to_local, utcnow
from sqms.config import Person, Settings
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.rule_errors import RuleError
from sqms.tokens import AccessToken, TokenError, lookup

PROCESS = "signin"
SIGN_IN = "sign-in"


class RateLimited(Exception):
    """Too many sign-in requests for this address or from this client; try again later."""


class PasswordError(RuleError):
    """A password that cannot be set (too short, not confirmed)."""


HASHER = PasswordHasher()  # argon2id with the library's current parameters
MIN_PASSWORD = 12


@functools.cache
def _dummy_hash() -> str:
    """Verified for an unknown address, so that it costs as much as a known one."""
    return HASHER.hash(secrets.token_urlsafe(16))


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
    _count_attempt(session, settings, email, client, now)
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


def _count_attempt(session: Session, settings: Settings, email: str, client: str, now: datetime) -> None:
    """Record a sign-in attempt (link or password); RateLimited when over a limit."""
    web = settings.web
    address = _sha256((email or "").strip().lower())
    since = now - timedelta(minutes=web.signin_window_minutes)
    recent = select(func.count()).select_from(SignInAttempt).where(SignInAttempt.at >= since)
    by_address = session.scalar(recent.where(SignInAttempt.address_hash == address))
    by_client = session.scalar(recent.where(SignInAttempt.client == client[:64]))
    if by_address >= web.signin_attempts_per_address or by_client >= web.signin_attempts_per_client:
        raise RateLimited()
    session.add(SignInAttempt(at=now, address_hash=address, client=client[:64]))


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


# -- an optional password ------------------------------------------------------------------


def has_password(session: Session, email: str) -> bool:
    return session.get(StaffPassword, email) is not None


def set_password(session: Session, person: Person, password: str, confirm: str, *, now: datetime | None = None
                 ) -> None:
    """Set (or replace) the person's password; audited, without the hash."""
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"password: at least {MIN_PASSWORD} characters", code="password.short", n=MIN_PASSWORD)
    if password != confirm:
        raise PasswordError("password: the two entries differ", code="password.mismatch")
    if password.strip().lower() == person.email:
        raise PasswordError("password: not your address", code="password.weak")
    now = now or utcnow()
    row = session.get(StaffPassword, person.email)
    if row is None:
        row = StaffPassword(email=person.email, hash="", set_at=now)
        session.add(row)
    row.hash, row.set_at = HASHER.hash(password), now
    record_change(session, action="password-set", entity="person", entity_id=person.email, actor=person.email)
    session.flush()


def clear_password(session: Session, person: Person) -> None:
    """Back to mailed links only."""
    row = session.get(StaffPassword, person.email)
    if row is not None:
        session.delete(row)
        record_change(session, action="password-removed", entity="person", entity_id=person.email,
                      actor=person.email)
        session.flush()


def check_password(session: Session, settings: Settings, email: str, password: str, client: str, *,
                   now: datetime | None = None) -> Person | None:
    """The person whose password this is, or None (wrong password, unknown address, no password set:
    one answer). RateLimited when over the sign-in limits. An older hash is replaced on success."""
    now = now or utcnow()
    _count_attempt(session, settings, email, client, now)
    person = person_for(settings, email)
    row = session.get(StaffPassword, person.email) if person else None
    try:
        HASHER.verify(row.hash if row else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or person is None:
        return None
    if HASHER.check_needs_rehash(row.hash):
        row.hash = HASHER.hash(password)
    session.flush()
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
