"""Configuration: the demo file loads; every problem names its key; SQMS_* variables override."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from sqms.config import ConfigError, Settings, get_settings, load_settings
from tests.conftest import CONFIG

DEMO: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch):
    """No SQMS_* variable from the surrounding shell may change what these tests see."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("SQMS_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def write(tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None, text: str | None = None) -> Path:
    path = tmp_path / "sqms.yaml"
    if text is None:
        data = copy.deepcopy(DEMO)
        if change:
            change(data)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, **overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, **overrides)
    assert str(path) in str(info.value)
    return info.value.problems


def test_the_demo_configuration_loads():
    settings = load_settings(CONFIG)
    assert isinstance(settings, Settings)
    assert [d.code for d in settings.departments] == ["CS", "OPS", "SALES", "GMO", "HR", "FIN", "RND", "ADMIN"]
    assert settings.department("CS").name == "客服部"
    assert str(settings.tz) == "Asia/Shanghai"
    assert settings.complaints.deadline_working_days == {"normal": 2, "special": 5}
    assert settings.kpi.response_targets_seconds == {"phone": 30, "online": 60}
    assert settings.kpi.target("avg_handling_hours", "RND") == 48
    assert settings.kpi.target("avg_handling_hours", "CS") == 24
    assert settings.kpi.target("record_volume", None) is None
    assert settings.smtp.host is None and settings.smtp.password is None
    assert settings.database_url == "sqlite:///var/sqms.db"
    assert [p.email for p in settings.people_with_role("department_manager", "CS")] == ["wang.fang@example.com"]


def test_the_file_named_by_sqms_config_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = write(tmp_path, lambda d: d["organisation"].update(name="测试公司"))
    monkeypatch.setenv("SQMS_CONFIG", str(path))
    assert load_settings().organisation.name == "测试公司"
    assert get_settings().organisation.name == "测试公司"


def test_unknown_department_of_a_person_names_the_key(tmp_path: Path):
    path = write(tmp_path, lambda d: d["people"][3].update(department="QA"))
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith("people[3]")
    assert ".department: unknown department 'QA'" in problems[0]
    assert "liu.yang@example.com" in problems[0]


def test_several_problems_are_all_listed(tmp_path: Path):
    def change(d: dict[str, Any]) -> None:
        d["people"][0]["department"] = "NOPE"
        d["organisation"]["timezone"] = "Asia/Beijing"
        d["kpi"]["targets"]["fcr_pct"] = "high"

    problems = problems_of(write(tmp_path, change))
    joined = "\n".join(problems)
    assert "organisation.timezone:" in joined
    assert "kpi.targets.fcr_pct:" in joined
    # the cross-reference check runs after field validation; field errors come first and are not hidden
    assert len(problems) >= 2


def test_bad_timezone(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["organisation"].update(timezone="Asia/Beijing")))
    assert problems == [
        "organisation.timezone: unknown timezone 'Asia/Beijing' (use an IANA name such as Asia/Shanghai)"
    ]


def test_unknown_kpi_in_targets(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["kpi"]["targets"].update(fcr_percent=80)))
    assert len(problems) == 1
    assert problems[0].startswith("kpi.targets: unknown KPI fcr_percent")


def test_unknown_kpi_in_department_targets(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["kpi"]["department_targets"]["RND"].update(speed=1)))
    assert problems[0].startswith("kpi.department_targets: RND: unknown KPI speed")


def test_department_targets_for_an_unknown_department(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["kpi"]["department_targets"].update(QA={"fcr_pct": 80})))
    assert problems == ["kpi.department_targets.QA: unknown department"]


def test_non_number_target(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["kpi"]["targets"].update(fcr_pct="eighty")))
    assert len(problems) == 1
    assert problems[0].startswith("kpi.targets.fcr_pct: ")
    assert "number" in problems[0]


def test_a_null_target_means_no_target(tmp_path: Path):
    settings = load_settings(write(tmp_path, lambda d: d["kpi"]["targets"].update(nps=None)))
    assert settings.kpi.target("nps", "CS") is None


@pytest.mark.parametrize("cron", ["0 8 1 *", "0 8 1 * * *", "every month", "0 8 1 * MONDAY?!", "61 8 1 * *",
                                  "0 24 1 * *", "0 8 32 * *", "0 8 1 13 *", "0 8 1 * 8", "a b c d e",
                                  "*/0 * * * *", "5-1 * * * *"])
def test_bad_cron(tmp_path: Path, cron: str):
    problems = problems_of(write(tmp_path, lambda d: d["schedules"]["monthly-report"].update(cron=cron)))
    assert len(problems) == 1
    assert problems[0].startswith("schedules.monthly-report.cron: ")
    assert repr(cron) in problems[0]


@pytest.mark.parametrize("cron", ["0 8 1 * *", "*/15 * * * *", "0 9 * * MON-FRI", "30 7 1,15 1-12/3 *",
                                  "0 8 * JAN,JUL 0", "0 8 * * 7", "0 8 ? * SUN"])
def test_good_cron(tmp_path: Path, cron: str):
    settings = load_settings(write(tmp_path, lambda d: d["schedules"]["monthly-report"].update(cron=cron)))
    assert settings.schedules["monthly-report"].cron == cron


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "li na@example.com", "x@example.com>"])
def test_bad_email_of_a_person(tmp_path: Path, email: str):
    problems = problems_of(write(tmp_path, lambda d: d["people"][1].update(email=email)))
    assert len(problems) == 1
    assert problems[0].startswith("people[1].email: ")
    assert "is not an email address" in problems[0]


def test_bad_email_in_distribution_and_sender(tmp_path: Path):
    def change(d: dict[str, Any]) -> None:
        d["report"]["distribution"].append("nobody")
        d["smtp"]["sender"] = "sqms-at-example.com"

    joined = "\n".join(problems_of(write(tmp_path, change)))
    assert "report.distribution: 'nobody' is not an email address" in joined
    assert "smtp.sender: 'sqms-at-example.com' is not an email address" in joined


def test_unknown_role_selector(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["report"]["distribution"].append("role:boss")))
    assert problems[0].startswith("report.distribution: 'role:boss': unknown role")


def test_misspelt_key(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["smtp"].update(hots="mail.example.com")))
    assert problems == ["smtp.hots: is not a known setting (check the spelling)"]


def test_missing_required_section(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d.pop("organisation")))
    assert problems == ["organisation: is required"]


def test_duplicate_department_code(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["departments"].append(
        {"code": "CS", "name": "客服二部"})))
    assert problems == ["departments[8].code: duplicate department code 'CS'"]


def test_smtp_password_in_the_file_is_refused(tmp_path: Path):
    path = write(tmp_path, lambda d: d["smtp"].update(password="hunter2"))
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith("smtp.password: must not be stored in the file")
    assert "hunter2" not in "\n".join(problems)


def test_smtp_password_from_the_environment_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SQMS_SMTP__PASSWORD", "hunter2")
    settings = load_settings(write(tmp_path))
    assert settings.smtp.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings.smtp)


def test_invalid_yaml_reports_the_line(tmp_path: Path):
    text = CONFIG.read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text) if t.startswith("organisation:"))
    text.insert(line + 2, "  timezone: [Asia/Shanghai")  # an unclosed flow sequence
    path = write(tmp_path, text="\n".join(text) + "\n")
    problems = problems_of(path)
    assert len(problems) == 1
    assert "invalid YAML at line" in problems[0]
    reported = int(problems[0].split("line ")[1].split(",")[0])
    assert line + 3 <= reported <= line + 4  # the broken line (1-based) or the one where the parser noticed


def test_tab_indentation_reports_the_line(tmp_path: Path):
    path = write(tmp_path, text="organisation:\n\tname: x\n")
    problems = problems_of(path)
    assert "invalid YAML at line 2, column 1" in problems[0]


def test_missing_file_and_non_mapping(tmp_path: Path):
    problems = problems_of(tmp_path / "nope.yaml")
    assert "file not found" in problems[0]
    problems = problems_of(write(tmp_path, text="- a\n- b\n"))
    assert "the top level must be a mapping" in problems[0]


def test_non_utf8_file(tmp_path: Path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("organisation:\n  name: 华信\n".encode("gbk"))
    assert "not UTF-8 text" in problems_of(path)[0]


# -- environment overrides ------------------------------------------------------------


def test_env_database_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SQMS_DATABASE_URL", "postgresql+psycopg://sqms@db.example.com/sqms")
    assert load_settings(CONFIG).database_url == "postgresql+psycopg://sqms@db.example.com/sqms"


def test_explicit_argument_beats_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SQMS_DATABASE_URL", "postgresql+psycopg://sqms@db.example.com/sqms")
    assert load_settings(CONFIG, database_url="sqlite:///x.db").database_url == "sqlite:///x.db"


def test_env_smtp_host_and_port_merge_with_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    path = write(tmp_path, lambda d: d["smtp"].update(sender="quality@example.com", port=2525))
    monkeypatch.setenv("SQMS_SMTP__HOST", "mail.example.com")
    settings = load_settings(path)
    assert settings.smtp.host == "mail.example.com"
    assert settings.smtp.port == 2525  # from the file
    assert settings.smtp.sender == "quality@example.com"  # the rest of the section is kept
    monkeypatch.setenv("SQMS_SMTP__PORT", "465")
    monkeypatch.setenv("SQMS_SMTP__SSL", "true")
    settings = load_settings(path)
    assert (settings.smtp.port, settings.smtp.ssl) == (465, True)


def test_env_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("sqms_smtp__host", "mail.example.com")
    assert load_settings(CONFIG).smtp.host == "mail.example.com"


@pytest.mark.parametrize("value", ["twenty-five", "0", "70000"])
def test_env_bad_smtp_port_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("SQMS_SMTP__PORT", value)
    problems = problems_of(CONFIG)
    assert len(problems) == 1
    assert problems[0].startswith("smtp.port: ")
    assert "(from the environment variable SQMS_SMTP__PORT)" in problems[0]


def test_file_error_does_not_blame_the_environment(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["smtp"].update(port="abc")))
    assert problems[0].startswith("smtp.port: ")
    assert "environment" not in problems[0]


def test_env_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SQMS_OUTBOX_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("SQMS_REPORTS_DIR", str(tmp_path / "rep"))
    settings = load_settings(CONFIG)
    assert settings.outbox_dir == tmp_path / "out" and settings.reports_dir == tmp_path / "rep"


def test_unrelated_sqms_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """SQMS_CONFIG and SQMS_ACTOR are read elsewhere; they must not trip `extra=forbid`."""
    monkeypatch.setenv("SQMS_CONFIG", str(CONFIG))
    monkeypatch.setenv("SQMS_ACTOR", "tester")
    assert load_settings().organisation.country == "CN"


@pytest.mark.parametrize("kpi, value, message", [
    ("csat_mean", 42, "kpi.targets.csat_mean: 42 is outside the CSAT scale (1–5)"),
    ("csat_mean", 0.5, "kpi.targets.csat_mean: 0.5 is outside the CSAT scale (1–5)"),
    ("nps", 500, "kpi.targets.nps: 500 is outside the NPS range (-100–100)"),
    ("fcr_pct", 120, "kpi.targets.fcr_pct: 120 is outside a percentage (0–100)"),
    ("csat_top2_pct", -5, "kpi.targets.csat_top2_pct: -5 is outside a percentage (0–100)"),
    ("avg_handling_hours", -1, "kpi.targets.avg_handling_hours: -1 is outside hours (at least 0)"),
])
def test_absurd_targets_are_refused_by_key(tmp_path: Path, kpi: str, value: float, message: str):
    """Issue 19.30: a CSAT target of 42 or an NPS of 500 can never be met (or always is)."""
    assert problems_of(write(tmp_path, lambda d: d["kpi"]["targets"].update({kpi: value}))) == [message]


def test_absurd_department_target_names_the_department(tmp_path: Path):
    problems = problems_of(write(tmp_path, lambda d: d["kpi"]["department_targets"]["RND"].update(nps=-101)))
    assert problems == ["kpi.department_targets.RND.nps: -101 is outside the NPS range (-100–100)"]


@pytest.mark.parametrize("kpi, value", [("nps", -100), ("nps", 100), ("csat_mean", 5), ("fcr_pct", 0),
                                        ("avg_handling_hours", 0.5)])
def test_targets_at_the_edges_are_fine(tmp_path: Path, kpi: str, value: float):
    assert load_settings(write(tmp_path, lambda d: d["kpi"]["targets"].update({kpi: value}))).kpi.targets[kpi] == value
