"""Every SQMS process and its deployment: `<process>/<schedule>`, cron in the configured timezone.

`sqms serve` serves these (the embedded way used by `make run`); `prefect.yaml` declares
the same deployments for a process work pool in production; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import Flow
from prefect.schedules import Cron

from flows.audits import internal_audit
from flows.complaints import complaint_sla_watch
from flows.monthly_report import monthly_service_quality_report
from flows.outbox import outbox_delivery
from flows.reminders import reminders, weekly_digest
from flows.reviews import management_review
from flows.surveys import survey_campaigns
from sqms.config import Settings, get_settings


@dataclass(frozen=True)
class Process:
    key: str  # the key of `schedules:` in config/sqms.yaml
    flow: Flow
    schedule_name: str  # the deployment name: <flow name>/<schedule_name>
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency_limit: int | None = 1  # a process never runs twice at once

    @property
    def deployment_name(self) -> str:
        return f"{self.flow.name}/{self.schedule_name}"


PROCESSES: tuple[Process, ...] = (
    Process("monthly-report", monthly_service_quality_report, "monthly"),
    Process("outbox-delivery", outbox_delivery, "quarter-hourly"),
    Process("complaint-sla-watch", complaint_sla_watch, "hourly"),
    Process("reminders", reminders, "working-days"),
    Process("weekly-digest", weekly_digest, "weekly"),
    Process("survey-quarterly", survey_campaigns, "quarterly", {"kind": "quarterly"}),
    Process("survey-annual", survey_campaigns, "annual", {"kind": "annual"}),
    Process("survey-daily", survey_campaigns, "daily"),
    Process("internal-audit", internal_audit, "semiannual", {"open_cycle": True}),
    Process("internal-audit-daily", internal_audit, "daily"),
    Process("management-review", management_review, "annual", {"open_review": True}),
    Process("management-review-daily", management_review, "daily"),
)


def deployments(settings: Settings) -> list:
    """RunnerDeployments for every process, with its configured schedule (paused when disabled)."""
    out = []
    for process in PROCESSES:
        schedule = settings.schedules.get(process.key)
        out.append(process.flow.to_deployment(
            name=process.schedule_name,
            schedule=Cron(schedule.cron, timezone=settings.organisation.timezone) if schedule else None,
            paused=bool(schedule and not schedule.enabled),
            parameters=dict(process.parameters),
            tags=["sqms", process.flow.name],
            description=(process.flow.description or "").strip().splitlines()[0] if process.flow.description else None,
            concurrency_limit=process.concurrency_limit,
        ))
    return out


def serve_all() -> None:
    from prefect import serve

    serve(*deployments(get_settings()))


def check_deployments(settings: Settings) -> list:
    """`sqms doctor`'s Prefect part: the API answers, and every SQMS deployment exists with its schedule."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    from sqms.doctor import Check

    url = PREFECT_API_URL.value()
    if not url:
        return [Check("prefect api", False, "PREFECT_API_URL is not set: schedules run only under `sqms serve` "
                                            "or `make run`", warning=True)]
    checks = []
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
        if error is not None:
            return [Check("prefect api", False, f"{url}: {error.__class__.__name__}: {error}")]
        checks.append(Check("prefect api", True, f"{url} answers"))
        for process in PROCESSES:
            schedule = settings.schedules.get(process.key)
            try:
                deployment = client.read_deployment_by_name(process.deployment_name)
            except ObjectNotFound:
                checks.append(Check(f"deployment {process.deployment_name}", False,
                                    "missing (run `sqms deploy` or `prefect deploy --all`)"))
                continue
            found = [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules
                     if getattr(s.schedule, "cron", None)]
            wanted = (schedule.cron, settings.organisation.timezone) if schedule else None
            if wanted and wanted not in found:
                checks.append(Check(f"deployment {process.deployment_name}", False,
                                    f"schedule {found or 'none'}, expected {wanted[0]} ({wanted[1]})"))
            elif deployment.paused and schedule and schedule.enabled:
                checks.append(Check(f"deployment {process.deployment_name}", False, "paused"))
            else:
                checks.append(Check(f"deployment {process.deployment_name}", True,
                                    f"{wanted[0]} {wanted[1]}" if wanted else "no schedule"))
    return checks


def deploy_all(settings: Settings, home: Path, pool: str = "sqms") -> list[str]:
    """Production: the `process` work pool (created when missing) and every deployment in it, with the
    configured schedules, run from the checkout `home` by `prefect worker start --pool sqms`.
    Idempotent: running it again updates the deployments in place."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process",
                                                   description="SQMS processes (prefect worker start --pool sqms)"))
    names = []
    for process in PROCESSES:
        schedule = settings.schedules.get(process.key)
        module = process.flow.fn.__module__.replace(".", "/") + ".py"
        source = Flow.from_source(source=str(home), entrypoint=f"{module}:{process.flow.fn.__name__}")
        source.deploy(
            name=process.schedule_name, work_pool_name=pool, build=False, push=False, print_next_steps=False,
            schedule=Cron(schedule.cron, timezone=settings.organisation.timezone) if schedule else None,
            paused=bool(schedule and not schedule.enabled), parameters=dict(process.parameters),
            tags=["sqms", process.flow.name], concurrency_limit=process.concurrency_limit,
            description=(process.flow.description or "").strip().splitlines()[0] if process.flow.description else None,
        )
        names.append(process.deployment_name)
    return names
