"""Codes or their configured names wherever the CLI takes a code; periods checked at the door (item 29)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sqms.cli import app
from tests.factories import PERIOD, seed_mixed

runner = CliRunner()


@pytest.fixture
def cli(sqms_env, sqlite_url):
    settings = sqms_env(sqlite_url)

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    invoke.settings = settings
    assert invoke("init").exit_code == 0
    return invoke


def test_resolver_takes_codes_and_names() -> None:
    from sqms.codes import UnknownCode, label, resolve

    assert resolve(None, "channel", "电话") == "phone"
    assert resolve(None, "channel", "ONSITE") == "onsite"
    assert resolve(None, "severity", "重大投诉") == "special" and resolve(None, "severity", "一般") == "normal"
    assert resolve(None, "action_type", "纠正措施") == "corrective"
    assert label(None, "channel", "onsite", "zh_CN") == "现场"
    with pytest.raises(UnknownCode, match="unknown channel 'fax'.*phone"):
        resolve(None, "channel", "fax")


def test_register_a_complaint_with_names(cli) -> None:
    from sqms.complaints.models import Complaint
    from sqms.db import UnitOfWork

    result = cli("complaint", "register", "--department", "客服部", "--channel", "电话", "--severity", "重大",
                 "--category", "服务态度", "--received-at", "2026-10-09 10:00")
    assert result.exit_code == 0, result.output
    with UnitOfWork(cli.settings.database_url) as uow:
        [c] = uow.session.scalars(select(Complaint)).all()
        assert (c.department, c.channel, c.severity) == ("CS", "phone", "special")


def test_an_unknown_channel_lists_codes_and_names(cli) -> None:
    result = cli("complaint", "register", "--department", "CS", "--channel", "传真", "--category", "x")
    assert result.exit_code == 2
    assert "--channel" in result.output and "onsite (现场)" in result.output


def test_action_and_lists_take_department_names(cli) -> None:
    opened = cli("action", "open", "--title", "整改", "--department", "运营部", "--type", "纠正措施")
    assert opened.exit_code == 0, opened.output
    assert "corrective" in opened.output
    listed = cli("action", "list", "--department", "Operations")
    assert listed.exit_code == 0 and "OPS" in listed.output
    assert cli("complaint", "list", "--department", "客服部").exit_code == 0


def test_kpi_takes_a_department_name_and_full_width_digits(cli) -> None:
    seed_mixed(cli.settings)
    full_width = PERIOD.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    result = cli("kpi", "--period", full_width, "--department", "运营部")
    assert result.exit_code == 0, result.output
    assert "OPS" in result.output and "CS " not in result.output


@pytest.mark.parametrize("args", [
    ("kpi", "--period", "9999-12"),
    ("kpi", "--period", "1999-12"),
    ("run", "monthly-report", "--period", "9999-12"),
    ("run", "monthly-report", "--period", "２０２６-１３"),
    ("init", "--end-period", "3026-01"),
])
def test_periods_are_checked_before_any_flow_runs(cli, args, monkeypatch) -> None:
    import flows.monthly_report

    def must_not_run(**kwargs):
        raise AssertionError("the flow ran")

    monkeypatch.setattr(flows.monthly_report, "monthly_service_quality_report", must_not_run)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "--period" in result.output or "--end-period" in result.output
    assert args[-1] in result.output


def test_the_domain_refuses_full_width_periods() -> None:
    from sqms.calendar import parse_period

    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_period("２０２６-１０")


# -- item 25: figures printed for people are rounded --------------------------------------------

FIGURES = {"response_rate": 41.37931034482759, "csat_mean": 4.314159265, "top2_pct": 86.66666666666667,
           "nps": 35.483870967741936, "nps_margin": 9.123456789, "invited": 100, "responded": 41, "csat_n": 41,
           "nps_n": 41, "detractors": 3, "dimensions": {"reliability": -0.3333333333333}, "previous": None}


def test_survey_show_rounds_figures(cli) -> None:
    from datetime import date, datetime, timezone

    from sqms.db import UnitOfWork
    from sqms.surveys.models import SurveyCampaign

    with UnitOfWork(cli.settings.database_url, actor="test") as uow:
        uow.session.add(SurveyCampaign(code="2026-Q3", kind="quarterly", questionnaire="quarterly",
                                       period_start=date(2026, 7, 1), period_end=date(2026, 9, 30), status="reported",
                                       seed=1, sample_total=100, min_per_stratum=1, created_by="test",
                                       created_at=datetime(2026, 10, 5, tzinfo=timezone.utc), analysis=FIGURES))
        uow.commit()
    for args in (("survey", "show", "2026-Q3"), ("survey", "list")):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert not re.search(r"\d\.\d{4,}", result.output), result.output
    shown = cli("survey", "show", "2026-Q3").output
    assert re.search(r"csat_mean\s+4\.31\b", shown) and re.search(r"response_rate\s+41\.4\b", shown)
    assert re.search(r"invited\s+100\b", shown)


def test_artifacts_round_figures() -> None:
    from tasks.improvement import board_table
    from tasks.surveys import survey_markdown

    markdown = survey_markdown("2026-Q3", FIGURES)
    assert "| 41.4 |" in markdown and "| 4.31 |" in markdown and "| 35.5 |" in markdown
    assert not re.search(r"\d\.\d{3,}", markdown)
    assert "| —" in survey_markdown("2026-Q3", {"response_rate": None})
    [row] = board_table([{"ref": "PDCA-00001", "status": "do", "iteration": 1, "department": "运营部",
                          "kpi": "response_within_target_pct", "kpi_label": "响应及时率", "baseline": 84.61538461538461,
                          "target": 90.0, "check_period": "2026-11", "check_value": 88.8888888889,
                          "actions_done": 1, "actions": 2}], "zh_CN")
    assert row["baseline"] == "84.6%" and row["check"] == "2026-11 88.9%" and "90" in row["target"]


def test_states_by_name(cli) -> None:
    from sqms.codes import resolve

    assert resolve(None, "complaint_state", "调查中") == "investigating"
    assert resolve(None, "action_state", "in progress") == "in_progress"
    assert cli("complaint", "list", "--status", "已登记").exit_code == 0
    assert cli("action", "list", "--status", "实施中").exit_code == 0
    bad = cli("complaint", "list", "--status", "done")
    assert bad.exit_code == 2 and "unknown state 'done'" in bad.output and "registered (已登记)" in bad.output
