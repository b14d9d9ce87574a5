"""Tasks of the management review."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from sqms.reporting.models import GeneratedReport
from sqms.reviews.service import (ReviewError, advance_due, get, latest_open, open_review, parse_outputs,
                                  record_outputs)
from sqms.statemachine import IllegalTransition
from tasks.common import RETRYING, actor, settings, unit_of_work


@task(name="open-management-review", **RETRYING)
def open_management_review() -> str:
    """The review of the previous year, with its meeting day and participants (once)."""
    with unit_of_work() as uow:
        review, new = open_review(uow.session, settings())
        uow.commit()
        get_run_logger().info("%s management review %s: meeting %s, reports due %s", "opened" if new else
                              "already open:", review.code, review.meeting_on, review.reports_due_on)
        return review.code


def _worth_retrying(task, task_run, state) -> bool:
    """Outputs that do not validate, or a review not ready for them, do not get better by retrying:
    fail at once with the message that says what to fix."""
    return not isinstance(state.result(raise_on_failure=False), (ReviewError, IllegalTransition))


@task(name="record-review-outputs", retry_condition_fn=_worth_retrying, **RETRYING)
def record_review_outputs(outputs: str) -> list[int]:
    """The meeting's outputs given as YAML in the run form (the same shape as `sqms review outputs`),
    for the review the YAML names (`year:`) or else the latest open one."""
    cfg = settings()
    parsed = parse_outputs(cfg, outputs)
    with unit_of_work() as uow:
        review = get(uow.session, parsed.year) if parsed.year else latest_open(uow.session)
        added = record_outputs(uow.session, cfg, review, parsed, actor=actor())
        uow.commit()
        get_run_logger().info("%s: %d outputs recorded, %d became actions", review.code, len(added),
                              sum(1 for o in added if o.action_id))
        return [o.id for o in added]


_ARTIFACTS = {"send_pack": ("review-pack", "pack_report_id"), "report": ("review-report", "report_id")}


@task(name="advance-management-reviews", **RETRYING)
def advance_reviews() -> list[list]:
    """Request the department reports, send the pack and invitation, issue the report — as due; the
    pack and the report are published as artifacts."""
    with unit_of_work() as uow:
        done = advance_due(uow.session, settings())
        uow.commit()
    for code, step, _ in done:
        if step not in _ARTIFACTS:
            continue
        key, column = _ARTIFACTS[step]
        with unit_of_work() as uow:
            generated = uow.session.get(GeneratedReport, getattr(get(uow.session, code), column))
            markdown = generated.summary.get("markdown", "")
        create_markdown_artifact(key=key, markdown=markdown, description=f"management review {code}")
    return [list(step) for step in done]
