"""The deployments `sqms serve` creates and those of prefect.yaml are the same, with the configured schedules."""

from __future__ import annotations

import yaml

from flows.deployments import PROCESSES, deployments
from tests.conftest import ROOT, make_settings


def test_prefect_yaml_matches_served_deployments(tmp_path):
    settings = make_settings("sqlite:///" + str(tmp_path / "x.db"), tmp_path)
    served = {f"{d.flow_name}/{d.name}": d for d in deployments(settings)}
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    by_name = {f"{d['flow_name']}/{d['name']}": d for d in declared}
    processes = {p.deployment_name: p for p in PROCESSES}
    assert set(by_name) == set(served) == set(processes)
    for name, declared_one in by_name.items():
        process = processes[name]
        assert declared_one["work_pool"]["name"] == "sqms"
        assert declared_one["tags"] == [*process.tags, process.flow.name]
        if process.key not in settings.schedules:  # run by an automation, not a schedule
            assert declared_one["schedules"] == [] and not served[name].schedules
            continue
        [schedule] = declared_one["schedules"]
        assert schedule["cron"] == settings.schedules[process.key].cron
        assert schedule["timezone"] == settings.organisation.timezone == "Asia/Shanghai"
        assert (declared_one.get("parameters") or {}) == process.parameters == served[name].parameters
        module, function = declared_one["entrypoint"].split(":")
        assert (ROOT / module).exists()
        served_one = served[name]
        assert served_one.schedules[0].schedule.cron == schedule["cron"]
        assert served_one.schedules[0].schedule.timezone == "Asia/Shanghai"
        assert getattr(__import__(module[:-3].replace("/", "."), fromlist=[function]), function).name == \
            process.flow.name == declared_one["flow_name"]


def test_monthly_report_schedule_is_first_of_month_8am_shanghai(tmp_path):
    settings = make_settings("sqlite:///" + str(tmp_path / "x.db"), tmp_path)
    assert settings.schedules["monthly-report"].cron == "0 8 1 * *"
