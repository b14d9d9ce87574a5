"""满意度调查 — customer-satisfaction survey campaigns.

The regulation: customer satisfaction is surveyed regularly (at least once a year, and
periodically for daily service), by questionnaire, phone or online; the results are analysed
and fed back to the departments concerned, and unhappy customers are called back. A quarterly
and an annual run plan the campaign of the period just ended; every run (and a daily one)
takes each campaign through its due steps: sample → invite → remind (day 7) → close (day 14)
→ analyse → report.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow

from flows.hooks import notify_admins
from tasks.notify import deliver_outbox
from tasks.surveys import advance_campaigns, plan_survey


@flow(name="survey-campaigns", on_failure=[notify_admins], on_crashed=[notify_admins])
def survey_campaigns(kind: Literal["quarterly", "annual"] | None = None) -> dict:
    """Plan the period's campaign (quarterly/annual runs), then advance every campaign that is due."""
    planned = plan_survey(kind) if kind else None
    steps = advance_campaigns()
    delivery = deliver_outbox("surveys")
    return {"planned": planned, "steps": steps, **delivery}
