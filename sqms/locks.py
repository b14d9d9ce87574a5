"""One run at a time for the same piece of work (a month's report), across processes and machines.

A row in `process_locks` is the lock: inserting it succeeds for one holder, the others wait. A
holder that died (a killed worker) leaves a stale row, taken over after `stale_after`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import String, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from sqms.calendar import utcnow
from sqms.db import Base, get_engine


class ProcessLock(Base):
    __tablename__ = "process_locks"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]


class LockTimeout(RuntimeError):
    """Another run held the lock for longer than we were willing to wait."""


@contextmanager
def process_lock(url: str, name: str, holder: str, *, wait: float = 600, stale_after: float = 1800,
                 poll: float = 0.5) -> Iterator[float]:
    """Hold `name` for the block; yields how long we waited (seconds)."""
    engine = get_engine(url)
    start = time.monotonic()
    while True:
        try:
            with engine.begin() as conn:
                conn.execute(insert(ProcessLock).values(name=name, holder=holder, acquired_at=utcnow()))
            break
        except IntegrityError:
            with engine.begin() as conn:  # a holder that died long ago does not block us forever
                conn.execute(delete(ProcessLock).where(ProcessLock.name == name, ProcessLock.acquired_at <
                                                       utcnow() - timedelta(seconds=stale_after)))
            if time.monotonic() - start > wait:
                raise LockTimeout(f"{name} is held by another run for more than {wait:.0f} s") from None
            time.sleep(poll)
    try:
        yield time.monotonic() - start
    finally:
        with engine.begin() as conn:
            conn.execute(delete(ProcessLock).where(ProcessLock.name == name, ProcessLock.holder == holder))
