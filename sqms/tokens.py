"""Single-use links for people outside the organisation (complaint feedback, survey invitations).

Only a hash of the token is stored: a copy of the database does not let anyone answer
in a customer's name. A token is redeemed once, within its validity.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from sqms.calendar import utcnow
from sqms.db import Base


class AccessToken(Base):
    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(40))  # complaint-feedback, survey, ...
    subject_id: Mapped[str] = mapped_column(String(120), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TokenError(Exception):
    """Why a link cannot be used: `reason` is unknown | used | expired | closed (its survey is over)."""

    def __init__(self, reason: str, token: AccessToken | None = None):
        super().__init__(reason)
        self.reason = reason
        self.token = token


ISSUED_KEY = "sqms.tokens.issued"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()  # any text a URL decodes to


@dataclass
class Issued:
    token: str  # the secret, only ever in the link
    row: AccessToken


def issue(session: Session, *, purpose: str, subject_id: str, email: str | None, valid_days: int,
          now: datetime | None = None) -> Issued:
    now = now or utcnow()
    token = secrets.token_urlsafe(24)  # 192 bits
    row = AccessToken(token_hash=_hash(token), purpose=purpose, subject_id=subject_id, email=email,
                      created_at=now, expires_at=now + timedelta(days=valid_days))
    session.add(row)
    session.flush()
    # the outbox seals any mail of this transaction that carries the token (sqms.notify.service.enqueue)
    session.info.setdefault(ISSUED_KEY, set()).add(token)
    return Issued(token, row)


def issued_in(session: Session) -> set[str]:
    """The tokens issued in this session: only the links carry them."""
    return session.info.get(ISSUED_KEY, set())


def lookup(session: Session, token: str, purpose: str, now: datetime | None = None) -> AccessToken:
    """The valid, unused token, or TokenError."""
    row = session.scalars(select(AccessToken).where(AccessToken.token_hash == _hash(token),
                                                    AccessToken.purpose == purpose)).first()
    if row is None:
        raise TokenError("unknown")
    if row.used_at is not None:
        raise TokenError("used", row)
    if (now or utcnow()) >= row.expires_at:
        raise TokenError("expired", row)
    return row


def redeem(session: Session, token: str, purpose: str, now: datetime | None = None) -> AccessToken:
    """Mark the token used (once); the caller commits together with what the answer changes.

    The claim is one conditional UPDATE: of two requests redeeming the same link at once, the
    second waits for the first's row (or database) lock and then finds the link used."""
    row = lookup(session, token, purpose, now)
    now = now or utcnow()
    claimed = session.execute(
        update(AccessToken).where(AccessToken.id == row.id, AccessToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise TokenError("used", row)
    set_committed_value(row, "used_at", now)
    return row
