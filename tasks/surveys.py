"""Tasks of the survey campaigns."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from sqms.calendar import to_local, utcnow
from sqms.reporting.formatting import figure
from sqms.surveys.service import advance_due, plan_campaign, previous_quarter, previous_year
from tasks.common import RETRYING, settings, unit_of_work


@task(name="plan-survey-campaign", **RETRYING)
def plan_survey(kind: str) -> str:
    """The campaign of the quarter (or year) just ended, planned once."""
    cfg = settings()
    today = to_local(utcnow(), cfg.tz).date()
    code, start, end = previous_year(today) if kind == "annual" else previous_quarter(today)
    with unit_of_work() as uow:
        campaign, new = plan_campaign(uow.session, cfg, kind=kind, code=code, period_start=start, period_end=end)
        uow.commit()
    get_run_logger().info("%s campaign %s", "planned" if new else "already planned:", code)
    return code


@task(name="advance-survey-campaigns", **RETRYING)
def advance_campaigns() -> list[list]:
    """Every campaign's due steps (sample, invite, remind, close, analyse, report), in one transaction."""
    with unit_of_work() as uow:
        done = advance_due(uow.session, settings())
        reported = [code for code, step, _ in done if step == "report"]
        uow.commit()
    for code in reported:
        with unit_of_work() as uow:
            from sqms.surveys.service import get

            figures = get(uow.session, code).analysis
        create_markdown_artifact(key="survey-report", description=f"survey {code}",
                                 markdown=survey_markdown(code, figures))
    return [list(step) for step in done]


def survey_markdown(code: str, figures: dict) -> str:
    """The key figures of a reported campaign, rounded for reading ("—" when there is none)."""
    return (f"# 满意度调查 {code}\n\n| 指标 | 数值 |\n|---|---:|\n"
            f"| 回收率 % | {figure(figures.get('response_rate'))} |\n"
            f"| CSAT | {figure(figures.get('csat_mean'), 'csat_mean')} |\n"
            f"| 满意比例 % | {figure(figures.get('top2_pct'))} |\n"
            f"| NPS | {figure(figures.get('nps'))} |\n| 不满意客户 | {figures.get('detractors', 0)} |\n")
