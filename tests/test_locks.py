"""The process lock: one holder at a time across threads (and so processes), stale locks taken over."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from sqms.calendar import utcnow
from sqms.db import get_engine
from sqms.locks import LockTimeout, ProcessLock, process_lock


def test_one_holder_at_a_time(settings):
    inside, most, order = [0], [0], []
    guard = threading.Lock()

    def work(name: str):
        with process_lock(settings.database_url, "monthly-report:2026-10", holder=name, poll=0.05):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.3)
            order.append(name)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=work, args=(f"run-{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert most[0] == 1 and sorted(order) == ["run-0", "run-1", "run-2"]
    with process_lock(settings.database_url, "monthly-report:2026-10", holder="after", wait=1):
        pass  # released by everyone


def test_a_dead_holders_lock_is_taken_over_and_a_live_one_times_out(settings):
    engine = get_engine(settings.database_url)
    with engine.begin() as conn:  # a worker killed two minutes ago stopped renewing its lock
        old = utcnow() - timedelta(minutes=2)
        conn.execute(ProcessLock.__table__.insert().values(name="stale", holder="killed-worker", acquired_at=old,
                                                           renewed_at=old))
    with process_lock(settings.database_url, "stale", holder="new", wait=5) as waited:
        assert waited < 5
    with process_lock(settings.database_url, "busy", holder="first"):
        with pytest.raises(LockTimeout, match="busy is held by another run"):
            with process_lock(settings.database_url, "busy", holder="second", wait=0.3, poll=0.05):
                pass


def test_a_live_holder_renews_its_lock_however_long_it_works(settings):
    """A run working longer than `stale_after` keeps its lock: it is renewed, not taken over."""
    held = threading.Event()
    release = threading.Event()

    def long_run():
        with process_lock(settings.database_url, "long", holder="long-run", stale_after=1, renew_every=0.2):
            held.set()
            release.wait(10)

    worker = threading.Thread(target=long_run)
    worker.start()
    try:
        assert held.wait(10)
        with pytest.raises(LockTimeout):
            with process_lock(settings.database_url, "long", holder="second", wait=2.5, stale_after=1,
                              renew_every=0.2, poll=0.05):
                pass
    finally:
        release.set()
        worker.join(timeout=10)
    engine = get_engine(settings.database_url)
    with engine.connect() as conn:  # released at the end
        assert conn.execute(ProcessLock.__table__.select()).all() == []
