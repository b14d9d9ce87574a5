"""What every SQMS task shares: retries with backoff, no result caching, the acting identity."""

from __future__ import annotations

import os
from typing import Any

from prefect.cache_policies import NO_CACHE

import sqms.processes  # noqa: F401 (the composition point: registers every process's deadlines)
from sqms.config import Settings, get_settings
from sqms.db import UnitOfWork


def _retry_options() -> dict[str, Any]:
    retries = int(os.environ.get("SQMS_TASK_RETRIES", "3"))
    base = float(os.environ.get("SQMS_TASK_RETRY_DELAY_SECONDS", "2"))
    delays = [base * 2**i for i in range(retries)] if base > 0 else 0
    return {"retries": retries, "retry_delay_seconds": delays, "retry_jitter_factor": 0.5 if base > 0 else None}


# Tasks that touch the database, files or SMTP: transient failures retry with backoff
# (2, 4, 8 s by default). Side effects must not be skipped by a cache hit, hence NO_CACHE.
RETRYING: dict[str, Any] = {**_retry_options(), "cache_policy": NO_CACHE}


def run_url(flow_run_id: Any) -> str | None:
    """The run's page in the Prefect UI, for alert mails (None when no UI is configured)."""
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    return f"{ui.rstrip('/')}/runs/flow-run/{flow_run_id}" if ui else None


def settings() -> Settings:
    return get_settings()


def actor() -> str:
    """`prefect:<flow>/<run name>` in the audit trail."""
    from prefect.runtime import flow_run

    try:
        return f"prefect:{flow_run.flow_name}/{flow_run.name}"
    except Exception:
        return "prefect"


def unit_of_work() -> UnitOfWork:
    return UnitOfWork(settings().database_url, actor=actor())
