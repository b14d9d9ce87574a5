"""The monthly report's mail and uncertainty: every number of the subject is one the report shows
(issue 19 item 17); the Wilson interval of csat_top2_pct is in `sqms kpi` and in the report (item 19)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from typer.testing import CliRunner

from sqms.cli import app
from sqms.config import Settings, SmtpSettings
from sqms.db import UnitOfWork
from sqms.notify.service import deliver_pending
from sqms.monthly.messaging import queue_monthly_report_mails
from sqms.records.service import compute_and_store
from sqms.monthly.rendering import produce_monthly_report
from sqms.stats import wilson_interval
from sqms.surveys.models import SurveyResponse
from tests.conftest import make_settings
from tests.factories import PERIOD, TZ, seed_mixed


def seed_responses(settings: Settings) -> None:
    """40 CS answers of March: csat 5, 4, 3, 2 in turn → top-2 20/40."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        start = datetime(2026, 3, 12, 10, tzinfo=TZ)
        uow.session.add_all([SurveyResponse(response_id=f"R{i}", submitted_at=start + timedelta(minutes=i),
                                            department="CS", nps=[10, 9, 7, 3][i % 4], csat=[5, 4, 3, 2][i % 4],
                                            answers={}) for i in range(40)])
        uow.commit()


def test_subject_counts_what_the_report_shows(settings: Settings, tmp_path, smtp_server) -> None:
    settings = make_settings(settings.database_url, tmp_path,
                             smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port))
    seed_mixed(settings)
    seed_responses(settings)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        report = produce_monthly_report(uow.session, settings, compute_and_store(uow.session, settings, PERIOD))
        queue_monthly_report_mails(uow.session, settings, report)
        uow.commit()
    assert deliver_pending(settings).sent >= 1
    mail = smtp_server.messages[0]
    subject = str(mail["Subject"])
    html = next(p for p in mail.iter_attachments() if p.get_filename().endswith(".html")).get_content()
    if isinstance(html, bytes):
        html = html.decode("utf-8")
    claims = re.findall(r"(\d+) 项未达标", subject)
    assert claims, subject
    for number in claims:  # "组织整体 N 项未达标", "部门共 M 项未达标": both said in the report's summary
        assert re.search(rf"(?<!\d){number} 项未达标", html), (subject, number)
    assert "共 " + claims[-1] + " 项未达标" in html
    # and the counts are those of the summary, not their sum
    org_missed = int(re.search(r"(\d+) 项达标，(\d+) 项未达标", html).group(2))
    assert int(claims[0]) == org_missed

    # the Wilson interval of csat_top2_pct, in the report (item 19)
    low, high = (100 * v for v in wilson_interval(20, 40))
    assert f"95%置信区间 {low:.1f}–{high:.1f}%" in html


def test_kpi_command_shows_the_wilson_interval(sqms_env, sqlite_url) -> None:
    settings = sqms_env(sqlite_url)
    seed_mixed(settings)
    seed_responses(settings)
    runner = CliRunner()
    low, high = (100 * v for v in wilson_interval(20, 40))
    table = runner.invoke(app, ["kpi", "--period", PERIOD, "--department", "org"])
    assert table.exit_code == 0, table.output
    line = next(x for x in table.output.splitlines() if "csat_top2_pct" in x)
    assert f"95% CI {low:.1f}–{high:.1f}%" in line
    assert "95% margin ±" in next(x for x in table.output.splitlines() if " nps " in x)
    rows = json.loads(runner.invoke(app, ["kpi", "--period", PERIOD, "--json"]).stdout)
    top2 = next(r for r in rows if r["kpi"] == "csat_top2_pct" and r["department"] is None)
    assert top2["value"] == 50.0 and top2["ci95"] == [100 * wilson_interval(20, 40)[0],
                                                       100 * wilson_interval(20, 40)[1]]
    assert "ci95" not in next(r for r in rows if r["kpi"] == "csat_top2_pct" and r["department"] == "HR")


def test_survey_answers_count_in_the_month_they_were_submitted(settings: Settings, tmp_path) -> None:
    """Decided and documented (issue 19): attribution by submitted_at, in `sqms kpi` and the report alike;
    answers to a Q1 campaign sent in April are April's."""
    from datetime import date

    from sqms.surveys.models import SurveyCampaign

    seed_mixed(settings)
    seed_responses(settings)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        campaign = SurveyCampaign(code="2026-Q1", kind="quarterly", questionnaire="quarterly",
                                  period_start=date(2026, 1, 1), period_end=date(2026, 3, 31), status="invited",
                                  seed=1, sample_total=10, min_per_stratum=1, created_at=datetime(2026, 4, 1, tzinfo=TZ),
                                  created_by="test")
        uow.session.add(campaign)
        uow.session.flush()
        uow.session.add_all([SurveyResponse(response_id=f"Q1-{i}", submitted_at=datetime(2026, 4, 3, 10, tzinfo=TZ),
                                            department="CS", nps=0, csat=1, answers={}, campaign_id=campaign.id)
                             for i in range(5)])
        march = compute_and_store(uow.session, settings, PERIOD)
        april = compute_and_store(uow.session, settings, "2026-04")
        report = produce_monthly_report(uow.session, settings, march)
        uow.commit()
        html = open(report.files["html"], encoding="utf-8").read()
    n = {(v.kpi, v.department): v.n for v in march.values}
    assert n[("csat_mean", None)] == 40 and {(v.kpi, v.department): v.n for v in april.values}[("csat_mean", None)] == 5
    assert "按提交时间计入月份" in html

