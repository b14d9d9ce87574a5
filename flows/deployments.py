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

from flows.alerts import flow_alert
from flows.audits import internal_audit
from flows.complaints import complaint_sla_watch
from flows.monitoring import inspections, staff_grading
from flows.monthly_report import monthly_service_quality_report, report_release
from flows.outbox import outbox_delivery
from flows.quality_meeting import quality_meeting
from flows.reminders import reminders, weekly_digest
from flows.reviews import management_review
from flows.server import prefect_api_url
from flows.standards import standards_review
from flows.surveys import survey_campaigns
from sqms.config import Settings, get_settings


@dataclass(frozen=True)
class Process:
    key: str  # the key of `schedules:` in config/sqms.yaml
    flow: Flow
    schedule_name: str  # the deployment name: <flow name>/<schedule_name>
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency_limit: int | None = 1  # a process never runs twice at once
    tags: tuple[str, ...] = ("sqms",)  # `sqms`: watched by the failure automations

    @property
    def deployment_name(self) -> str:
        return f"{self.flow.name}/{self.schedule_name}"


PROCESSES: tuple[Process, ...] = (
    Process("monthly-report", monthly_service_quality_report, "monthly"),
    Process("report-release", report_release, "quarter-hourly"),
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
    Process("quality-meeting", quality_meeting, "monthly"),
    Process("standards-review", standards_review, "daily"),
    Process("inspections", inspections, "monthly"),
    Process("staff-grading", staff_grading, "quarterly"),
    # run by the automations of `sqms deploy`, not on a schedule; not tagged `sqms`, so that its own
    # failure cannot set off another alert
    Process("flow-alert", flow_alert, "automation", concurrency_limit=None, tags=("sqms-alert",)),
)


def deployments(settings: Settings) -> list:
    """RunnerDeployments for every process, with its configured schedule (paused when disabled)."""
    return [process.flow.to_deployment(**_deployment_options(process, settings)) for process in PROCESSES]


def _deployment_options(process: Process, settings: Settings) -> dict[str, Any]:
    """What a process's deployment is, served (`sqms serve`) or in a work pool (`sqms deploy`) alike."""
    schedule = settings.schedules.get(process.key)
    description = (process.flow.description or "").strip()
    return dict(name=process.schedule_name,
                schedule=Cron(schedule.cron, timezone=settings.organisation.timezone) if schedule else None,
                paused=bool(schedule and not schedule.enabled), parameters=dict(process.parameters),
                tags=[*process.tags, process.flow.name], concurrency_limit=process.concurrency_limit,
                description=description.splitlines()[0] if description else None)


def apply_served(settings: Settings) -> list:
    """`sqms serve`'s deployments, registered with the API, and the alert automations pointing at its
    flow-alert deployment (so `make run` alerts like production). Returns the deployments to serve."""
    served = deployments(settings)
    ids = {f"{d.flow_name}/{d.name}": d.apply() for d in served}
    ensure_automations(ids["flow-alert/automation"])
    return served


def serve_all() -> None:
    """`sqms serve` / `make run`: this process runs every deployment on its schedule."""
    from prefect import serve

    serve(*apply_served(get_settings()))


def check_deployments(settings: Settings) -> list:
    """`sqms doctor`'s Prefect part: the API answers, and every SQMS deployment exists with its schedule."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import WorkerStatus
    from prefect.exceptions import ObjectNotFound

    from sqms.doctor import Check

    url = prefect_api_url()
    if not url:
        return [Check("prefect api", False, "PREFECT_API_URL is not set: schedules run only under `sqms serve` "
                                            "or `make run`", warning=True)]
    checks = []
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
        if error is not None:
            return [Check("prefect api", False, f"{url}: {error.__class__.__name__}: {error}")]
        checks.append(Check("prefect api", True, f"{url} answers"))
        pools: set[str] = set()
        for process in PROCESSES:
            schedule = settings.schedules.get(process.key)
            try:
                deployment = client.read_deployment_by_name(process.deployment_name)
            except ObjectNotFound:
                checks.append(Check(f"deployment {process.deployment_name}", False,
                                    "missing (run `sqms deploy` or `prefect deploy --all`)"))
                continue
            if deployment.work_pool_name:
                pools.add(deployment.work_pool_name)
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
        for pool in sorted(pools):  # `sqms serve` deployments have no pool: the serving process runs them
            online = [w.name for w in client.read_workers_for_work_pool(pool) if w.status == WorkerStatus.ONLINE]
            checks.append(Check(f"workers of pool {pool}", bool(online), ", ".join(online) + " online" if online else
                                "no worker online: scheduled runs will not start (`prefect worker start --pool "
                                f"{pool}`)"))
    from prefect.automations import Automation

    for name in AUTOMATIONS:
        try:
            found = Automation.read(name=name)
            checks.append(Check(f"automation {name}", found.enabled, "enabled" if found.enabled else "disabled"))
        except ValueError:
            checks.append(Check(f"automation {name}", False, "missing (run `sqms deploy`)"))
    return checks


def deploy_all(settings: Settings, home: Path, pool: str = "sqms", late_after_seconds: int = 3600,
               lost_after_seconds: int = 600) -> list[str]:
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
    ids: dict[str, Any] = {}
    for process in PROCESSES:
        module = process.flow.fn.__module__.replace(".", "/") + ".py"
        source = Flow.from_source(source=str(home), entrypoint=f"{module}:{process.flow.fn.__name__}")
        ids[process.deployment_name] = source.deploy(work_pool_name=pool, build=False, push=False,
                                                     print_next_steps=False, **_deployment_options(process, settings))
    ensure_automations(ids["flow-alert/automation"], late_after_seconds, lost_after_seconds)
    return list(ids)


AUTOMATION_FAILED = "sqms: a run failed or crashed"
AUTOMATION_LATE = "sqms: a run is late"
AUTOMATION_LOST = "sqms: a run lost its worker"
AUTOMATIONS = (AUTOMATION_FAILED, AUTOMATION_LATE, AUTOMATION_LOST)
_RUN_STATES = {f"prefect.flow-run.{s}" for s in ("Pending", "Running", "Completed", "Failed", "Crashed", "Cancelled",
                                                 "Cancelling")}
_FINAL_STATES = {f"prefect.flow-run.{s}" for s in ("Completed", "Failed", "Crashed", "Cancelled")}


def ensure_automations(alert_deployment_id: Any, late_after_seconds: int = 3600, lost_after_seconds: int = 600) -> None:
    """The second path to a person, as Prefect automations (replaced on every deploy, so idempotent):

    - a run of a flow tagged `sqms` that fails or crashes runs `flow-alert`, which mails the admins;
    - a run still not started `late_after_seconds` after it became Late does the same;
    - a running run whose heartbeats stop for `lost_after_seconds` (its worker or machine died, so no
      hook could run) is marked Crashed, which sets off the first one.
    """
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.events.actions import ChangeFlowRunState, RunDeployment
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.states import StateType

    runs = {"match": {"prefect.resource.id": "prefect.flow-run.*"},
            "match_related": {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.sqms"}}

    def alert(reason: str) -> RunDeployment:
        # an explicit jinja kind: a bare "{{ flow_run.id }}" is rendered through `tojson`, which fails on a UUID
        return RunDeployment(source="selected", deployment_id=alert_deployment_id,
                             parameters={"flow_run_id": {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"},
                                         "reason": reason})

    wanted = [
        Automation(name=AUTOMATION_FAILED, description="Mail the SQMS admins (flow-alert) about a failed run.",
                   trigger=EventTrigger(**runs, expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                                        posture=Posture.Reactive, threshold=1, within=timedelta(0)),
                   actions=[alert("failed")]),
        Automation(name=AUTOMATION_LATE, description="Mail the SQMS admins about a run late by more than "
                                                     f"{late_after_seconds // 60} minutes.",
                   trigger=EventTrigger(**runs, after={"prefect.flow-run.Late"}, expect=_RUN_STATES,
                                        for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                                        within=timedelta(seconds=late_after_seconds)),
                   actions=[alert("late")]),
        Automation(name=AUTOMATION_LOST, description="Mark a run Crashed when its heartbeats stop for "
                                                     f"{lost_after_seconds} s (its worker died).",
                   trigger=EventTrigger(**runs, after={"prefect.flow-run.heartbeat"},
                                        expect={"prefect.flow-run.heartbeat", *_FINAL_STATES},
                                        for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                                        within=timedelta(seconds=lost_after_seconds)),
                   actions=[ChangeFlowRunState(state=StateType.CRASHED, name="Crashed",
                                               message=f"No heartbeat for {lost_after_seconds} s: the worker or "
                                                       "its machine stopped during the run.")]),
    ]
    for automation in wanted:
        try:
            Automation.read(name=automation.name).delete()
        except ValueError:  # not there yet
            pass
        automation.create()
