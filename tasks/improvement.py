"""The PDCA step of the monthly process."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact

from sqms.improvement.service import advance, board
from sqms.reporting.formatting import fmt_target, fmt_value
from tasks.common import RETRYING, settings, unit_of_work


@task(name="advance-improvement-cycles", **RETRYING)
def advance_improvement_cycles(period: str) -> list[list[str]]:
    """With the month's KPIs stored: open cycles for new misses, check the ones that are due; publish the board."""
    with unit_of_work() as uow:
        done = advance(uow.session, settings(), period)
        uow.commit()
        rows = board(uow.session, settings())
    if rows:
        create_table_artifact(key="pdca-board", description=f"PDCA improvement cycles after {period}",
                              table=board_table(rows, settings().locale))
    return [list(step) for step in done]


def board_table(rows: list[dict], loc: str) -> list[dict]:
    """The PDCA board as the artifact shows it: KPI values with their unit and decimals."""
    return [
        {"cycle": r["ref"], "state": r["status"], "iteration": r["iteration"], "department": r["department"],
         "kpi": r["kpi_label"], "baseline": fmt_value(r["baseline"], r["kpi"], loc),
         "target": fmt_target(r["target"], r["kpi"], loc),
         "check": (f"{r['check_period'] or ''} "
                   f"{fmt_value(r['check_value'], r['kpi'], loc) if r['check_value'] is not None else ''}").strip(),
         "actions": f"{r['actions_done']}/{r['actions']}"} for r in rows]
