"""Sign-in attempts, kept to rate-limit the sign-in form per address and per client."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sqms.db import Base


class SignInAttempt(Base):
    __tablename__ = "signin_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    address_hash: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the typed address
    client: Mapped[str] = mapped_column(String(64), index=True)  # the client's IP address


class StaffPassword(Base):
    """A password a person chose for signing in without a mailed link (argon2id hash only)."""

    __tablename__ = "staff_passwords"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    hash: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime] = mapped_column()
