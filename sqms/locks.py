"""One run at a time for the same piece of work (a month's report), across processes and machines.

A row in `process_locks` is the lock: inserting it succeeds for one holder, the others wait. The holder
renews the row every `renew_every` seconds while it works; a holder that died (a killed worker, a
machine switched off) stops renewing, and its row is taken over after `stale_after` seconds without
renewal, so a rerun after a crash waits a minute or two, not until someone clears the row by hand.
(The times come from the workers' clocks: keep them in sync, as NTP does.)
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import String, delete, insert, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from sqms.calendar import utcnow
from sqms.db import Base, get_engine

log = logging.getLogger(__name__)


class ProcessLock(Base):
    __tablename__ = "process_locks"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]  # the holder's heartbeat


class LockTimeout(RuntimeError):
    """Another run held the lock for longer than we were willing to wait."""


@contextmanager
def process_lock(url: str, name: str, holder: str, *, wait: float = 600, stale_after: float = 90,
                 renew_every: float = 15, poll: float = 0.5) -> Iterator[float]:
    """Hold `name` for the block; yields how long we waited (seconds)."""
    if renew_every >= stale_after:
        raise ValueError("renew_every must be shorter than stale_after")
    engine = get_engine(url)
    start = time.monotonic()
    while True:
        try:
            with engine.begin() as conn:
                now = utcnow()
                conn.execute(insert(ProcessLock).values(name=name, holder=holder, acquired_at=now, renewed_at=now))
            break
        except IntegrityError:
            with engine.begin() as conn:  # a holder that stopped renewing has died: take over
                conn.execute(delete(ProcessLock).where(ProcessLock.name == name, ProcessLock.renewed_at <
                                                       utcnow() - timedelta(seconds=stale_after)))
            if time.monotonic() - start > wait:
                raise LockTimeout(f"{name} is held by another run for more than {wait:.0f} s") from None
            time.sleep(poll)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(renew_every):
            try:
                with engine.begin() as conn:
                    conn.execute(update(ProcessLock).where(ProcessLock.name == name, ProcessLock.holder == holder)
                                 .values(renewed_at=utcnow()))
            except SQLAlchemyError as exc:  # a database hiccup: the next renewal may succeed
                log.warning("could not renew lock %s: %s", name, exc)

    renewer = threading.Thread(target=renew, name=f"lock-{name}", daemon=True)
    renewer.start()
    try:
        yield time.monotonic() - start
    finally:
        stop.set()
        renewer.join(timeout=30)
        try:
            with engine.begin() as conn:
                conn.execute(delete(ProcessLock).where(ProcessLock.name == name, ProcessLock.holder == holder))
        except SQLAlchemyError as exc:  # the database is gone: the error that brought us here is the news
            log.warning("could not release lock %s (taken over %s s after its last renewal): %s", name,
                        stale_after, exc)
