"""管理评审 — the annual management review.

The regulation: once a year top management, organised by the general manager with the heads of
leadership, operations, sales, customer service, HR, finance, R&D and administration, reviews the
service-quality system — the year's plan, the KPI results, the satisfaction survey, each
department's report, the internal audit report, the complaint report and the state of improvement
— makes a review report and follows up every problem it finds. On 10 January this flow opens the
review of the previous year; every morning it moves the open reviews on: the department heads are
asked for their annual reports, the input pack and the meeting invitation go to every participant
a few days before the meeting, and once the outputs are recorded (here, in the run form, or with
`sqms review outputs`) the review report goes to top management and all participants.
"""

from __future__ import annotations

from prefect import flow

from flows.hooks import notify_admins
from sqms.reviews.service import PROCESS
from tasks.notify import deliver_outbox
from tasks.reviews import advance_reviews, open_management_review, record_review_outputs


@flow(name="management-review", on_failure=[notify_admins], on_crashed=[notify_admins])
def management_review(open_review: bool = False, outputs: str | None = None) -> dict:
    """Open the previous year's review (scheduled in January), record the meeting's outputs when given
    (YAML, as in config/review-outputs.example.yaml), then advance every open review."""
    opened = open_management_review() if open_review else None
    recorded = record_review_outputs(outputs) if outputs else None
    steps = advance_reviews()
    delivery = deliver_outbox(PROCESS)
    return {"opened": opened, "outputs": recorded, "steps": steps, **delivery}
