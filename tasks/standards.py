"""Tasks of the standards register."""

from __future__ import annotations

from prefect import get_run_logger, task

from sqms.standards.service import publish_due
from tasks.common import RETRYING, settings, unit_of_work


@task(name="publish-due-standards", **RETRYING)
def publish_due_standards() -> list[dict]:
    """Publish every approved version whose effective day has come; its trainings are required."""
    with unit_of_work() as uow:
        done = publish_due(uow.session, settings())
        uow.commit()
    for d in done:
        get_run_logger().info("%s published: %d trainings, next review %s", d["version"], d["trainings"],
                              d["next_review_on"])
    return [{**d, "next_review_on": str(d["next_review_on"])} for d in done]
