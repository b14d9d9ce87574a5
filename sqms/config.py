"""Load and validate `config/sqms.yaml`; environment variables `SQMS_*` override it.

Every problem is reported as `<key>: <what is wrong>` so that a quality manager
editing the YAML by hand can find the line to fix.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, SettingsConfigDict

from sqms.kpi_catalog import CHANNELS, KPI_CODES, target_problem

DEFAULT_CONFIG_PATH = Path("config/sqms.yaml")
ROLES = ("quality_manager", "department_manager", "general_manager", "internal_auditor", "frontline_staff", "admin")
Role = Literal["quality_manager", "department_manager", "general_manager", "internal_auditor", "frontline_staff",
               "admin"]
_EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists `key: reason` lines."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"invalid configuration ({source}):\n" + "\n".join(f"  - {p}" for p in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"'{value}' is not an email address")
    return value.strip().lower()


class Organisation(_Model):
    name: str
    name_en: str = ""
    timezone: str = "Asia/Shanghai"
    locale: Literal["zh_CN", "en"] = "zh_CN"
    country: Literal["CN"] = "CN"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{value}' (use an IANA name such as Asia/Shanghai)") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Department(_Model):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,15}$")
    name: str = Field(min_length=1)
    name_en: str = ""
    kind: Literal["operating", "supporting"] = "operating"

    def label(self, locale: str) -> str:
        return self.name if locale.startswith("zh") or not self.name_en else self.name_en


class ServiceItem(_Model):
    """One line of the service catalogue (服务项目): the optional `service_item` column of service
    records and complaints names it by code; its targets override the organisation's per KPI."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="lower case, as in the files")
    name: str = Field(min_length=1)
    name_en: str = ""
    department: str
    targets: dict[str, float | None] = Field(default_factory=dict)

    def label(self, locale: str) -> str:
        return self.name if locale.startswith("zh") or not self.name_en else self.name_en

    @field_validator("targets")
    @classmethod
    def _known_kpis(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(KPI_CODES))
        if unknown:
            raise ValueError(f"unknown KPI {', '.join(unknown)} (known: {', '.join(KPI_CODES)})")
        for kpi, target in value.items():
            problem = target_problem(kpi, target)
            if problem:
                raise ValueError(f"{kpi}: {problem}")
        return value


class Person(_Model):
    email: str
    name: str = Field(min_length=1)
    department: str
    roles: tuple[Role, ...] = ()

    _email = field_validator("email")(classmethod(lambda cls, v: _check_email(v)))


def _check_selectors(value: tuple[str, ...]) -> tuple[str, ...]:
    """Recipients: email addresses or `role:<role>`."""
    for entry in value:
        if entry.startswith("role:"):
            if entry[5:] not in ROLES:
                raise ValueError(f"'{entry}': unknown role (known: {', '.join(ROLES)})")
        else:
            _check_email(entry)
    return value


class ReportSettings(_Model):
    """Who receives the monthly report: emails or selectors `role:<role>`."""

    distribution: tuple[str, ...] = ("role:general_manager", "role:quality_manager", "role:department_manager")
    keep_versions: int = Field(default=0, ge=0, description="0 keeps every version")
    # a draft hold: the report is made, the quality manager (`hold_to`) is mailed a draft link and may
    # add a written analysis; the report goes out at the end of the hold. 0 sends at once.
    hold_hours: float = Field(default=0, ge=0, le=24 * 14)
    hold_to: tuple[str, ...] = ("role:quality_manager",)
    # the longest list a report prints (open complaints, repeat complainants, ...): a report is read by
    # people; its workbook keeps every row, and the report says how many it left out
    detail_rows: int = Field(default=100, ge=1, le=10_000)

    _selectors = field_validator("distribution", "hold_to")(classmethod(lambda cls, v: _check_selectors(v)))


class KpiSettings(_Model):
    targets: dict[str, float | None] = Field(default_factory=dict)
    department_targets: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    response_targets_seconds: dict[str, int] = Field(default_factory=lambda: {"phone": 30, "online": 60})
    low_confidence_n: int = Field(default=30, ge=1)
    # Control charts: the limits come from the earliest months of the 13-month window (phase I), and
    # the months after them are judged against those limits.
    control_baseline_months: int = Field(default=9, ge=3, le=13)
    # Weekly control charts of the volume-heavy KPIs (sqms.spc.WEEKLY_KPIS): the last `control_weeks`
    # whole weeks, limits from the first `control_baseline_weeks` of them.
    control_weeks: int = Field(default=26, ge=8, le=104)
    control_baseline_weeks: int = Field(default=20, ge=6, le=100)

    @field_validator("targets")
    @classmethod
    def _known_kpis(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(KPI_CODES))
        if unknown:
            raise ValueError(f"unknown KPI {', '.join(unknown)} (known: {', '.join(KPI_CODES)})")
        return value

    @model_validator(mode="after")
    def _baseline_within_weeks(self) -> "KpiSettings":
        if self.control_baseline_weeks >= self.control_weeks:
            raise ValueError("control_baseline_weeks must be fewer than control_weeks")
        return self

    @field_validator("department_targets")
    @classmethod
    def _known_department_kpis(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for dept, targets in value.items():
            unknown = sorted(set(targets) - set(KPI_CODES))
            if unknown:
                raise ValueError(f"{dept}: unknown KPI {', '.join(unknown)}")
        return value

    @field_validator("response_targets_seconds")
    @classmethod
    def _known_channels(cls, value: dict[str, int]) -> dict[str, int]:
        for channel, seconds in value.items():
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel '{channel}' (known: {', '.join(CHANNELS)})")
            if seconds <= 0:
                raise ValueError(f"{channel}: the target must be a positive number of seconds")
        return value

    def target_problems(self) -> list[str]:
        """Targets no KPI can reach or that mean nothing (a CSAT of 42, an NPS of 500), by key."""
        found = [(f"kpi.targets.{k}", target_problem(k, v)) for k, v in self.targets.items()]
        found += [(f"kpi.department_targets.{d}.{k}", target_problem(k, v))
                  for d, targets in self.department_targets.items() for k, v in targets.items()]
        return [f"{key}: {why}" for key, why in found if why]

    def target(self, kpi: str, department: str | None) -> float | None:
        if department is not None and kpi in self.department_targets.get(department, {}):
            return self.department_targets[department][kpi]
        return self.targets.get(kpi)


class ComplaintCategory(_Model):
    """A complaint category's English name (categories themselves come with the data)."""
    name: str = Field(min_length=1)
    name_en: str | None = None


class ComplaintSettings(_Model):
    deadline_working_days: dict[Literal["normal", "special"], int] = Field(
        default_factory=lambda: {"normal": 2, "special": 5}
    )
    first_contact_hours: int = Field(default=24, gt=0)
    # the general manager hears of a special complaint at once (regulation: 重大投诉立即上报)
    notify_special_to: tuple[str, ...] = ("role:general_manager",)
    # a special complaint received longer ago than this is history (e.g. an import): no notice of its own
    special_notice_within_days: int = Field(default=3, ge=1)
    # early signals: a category rising in a department against its own last N months, FDR-controlled
    signal_baseline_months: int = Field(default=12, ge=3)
    signal_fdr: float = Field(default=0.05, gt=0, lt=1)
    # N complaints of one category in one department and month open a corrective action
    repeat_category_threshold: int = Field(default=3, ge=2)
    # return visit (回访): a score at or below this reopens the complaint
    reopen_at_or_below_score: int = Field(default=2, ge=1, le=5)
    feedback_link_days: int = Field(default=14, ge=1)
    # only complaints resolved this recently get a feedback mail (never the history of an import)
    feedback_within_days: int = Field(default=7, ge=1)
    # optional English names of categories, shown in English reports: [{name: 服务态度, name_en: Staff attitude}]
    categories: tuple[ComplaintCategory, ...] = ()

    def category_label(self, name: str, locale: str) -> str:
        """A category as an English report shows it (its `name_en` when configured), else as stored."""
        if locale.startswith("zh"):
            return name
        return next((c.name_en for c in self.categories if c.name == name and c.name_en), name)

    _recipients = field_validator("notify_special_to")(classmethod(lambda cls, v: _check_selectors(v)))

    @field_validator("deadline_working_days")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for severity in ("normal", "special"):
            if severity not in value:
                raise ValueError(f"'{severity}' is missing")
            if value[severity] < 1:
                raise ValueError(f"{severity}: must be at least 1 working day")
        return value


class ActionSettings(_Model):
    """Corrective and preventive actions (CAPA)."""

    # default due date of a new action, in working days, by type
    due_working_days: dict[Literal["immediate", "corrective", "preventive", "improvement"], int] = Field(
        default_factory=lambda: {"immediate": 2, "corrective": 20, "preventive": 30, "improvement": 40})
    verification_days: int = Field(default=30, ge=0)  # effectiveness verified N days after done


class Escalation(_Model):
    after_working_days: int = Field(ge=1)
    # `department_manager` (of the item's department) or recipients (`role:<role>`, addresses)
    to: tuple[str, ...]

    @field_validator("to")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v for v in value if v == "department_manager") + _check_selectors(
            tuple(v for v in value if v != "department_manager"))


class ReminderSettings(_Model):
    """The reminder engine: one daily digest per person on working days, escalation, a weekly digest."""

    due_soon_working_days: tuple[int, ...] = (2, 0)  # remind 2 working days before and on the day
    escalation: tuple[Escalation, ...] = (
        Escalation(after_working_days=1, to=("department_manager",)),
        Escalation(after_working_days=3, to=("role:quality_manager",)),
    )
    weekly_digest_to: tuple[str, ...] = ("role:quality_manager",)
    worst_offenders: int = Field(default=5, ge=1)
    # a digest lists at most this many items, the most urgent first; counts by stage and department
    # cover the rest (a digest is read by a person: it stays small whatever the backlog)
    digest_items: int = Field(default=50, ge=1)

    _weekly = field_validator("weekly_digest_to")(classmethod(lambda cls, v: _check_selectors(v)))

    @field_validator("due_soon_working_days")
    @classmethod
    def _offsets(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(v < 0 for v in value):
            raise ValueError("offsets are working days before the due date: 0 or more")
        return tuple(sorted(set(value), reverse=True))

    @field_validator("escalation")
    @classmethod
    def _ascending(cls, value: tuple[Escalation, ...]) -> tuple[Escalation, ...]:
        days = [e.after_working_days for e in value]
        if days != sorted(set(days)):
            raise ValueError("escalation steps must have increasing after_working_days")
        return value


class SurveySettings(_Model):
    """Customer-satisfaction survey campaigns (满意度调查)."""

    sample_total: int = Field(default=400, ge=1)  # invitations per campaign, over all departments
    min_per_stratum: int = Field(default=20, ge=0)  # at least this many per department (when it has them)
    exclude_surveyed_days: int = Field(default=90, ge=0)  # nobody is asked twice within this many days
    remind_after_days: int = Field(default=7, ge=1)  # non-responders get one reminder
    close_after_days: int = Field(default=14, ge=1)  # the campaign closes; links stop working
    detractor_action_working_days: int = Field(default=2, ge=1)  # return visit to an unhappy customer
    questionnaires: dict[Literal["quarterly", "annual"], str] = Field(
        default_factory=lambda: {"quarterly": "quarterly", "annual": "annual"})
    report_to: tuple[str, ...] = ("role:general_manager", "role:quality_manager", "role:department_manager")

    _report_to = field_validator("report_to")(classmethod(lambda cls, v: _check_selectors(v)))

    @model_validator(mode="after")
    def _reminder_before_close(self) -> "SurveySettings":
        if self.remind_after_days >= self.close_after_days:
            raise ValueError("remind_after_days must be less than close_after_days")
        return self


class AuditSettings(_Model):
    """Internal audits (内部审核): mid-year and year-end, organised by the general manager's office."""

    scope: tuple[str, ...] = ()  # department codes; empty = every department
    first_audit_after_working_days: int = Field(default=15, ge=1)  # time to prepare after the plan is out
    audits_per_day: int = Field(default=2, ge=1)
    reminder_days_before: tuple[int, ...] = (14, 7)
    major_due_days: int = Field(default=30, ge=1)  # corrective action of a major nonconformity
    minor_due_days: int = Field(default=60, ge=1)
    report_to: tuple[str, ...] = ("role:general_manager", "role:quality_manager", "role:department_manager")

    _report_to = field_validator("report_to")(classmethod(lambda cls, v: _check_selectors(v)))


class ImprovementSettings(_Model):
    """PDCA improvement cycles opened by KPI misses (持续改进)."""

    consecutive_misses: int = Field(default=2, ge=1)  # a department missing a target N months in a row
    margin_pct: float = Field(default=10.0, ge=0)  # or missing it once by more than this % of the target
    check_after_months: int = Field(default=1, ge=1)  # months after the actions are done before the check
    min_n: int = Field(default=30, ge=0)  # values from fewer observations never open a cycle
    open_on_signal: bool = True  # a special-cause signal on the bad side opens a cycle even if the target is met
    check_months: int = Field(default=3, ge=1)  # months the Check reads to judge whether the process shifted


class ReviewSettings(_Model):
    """The annual management review (管理评审), chaired by the general manager."""

    participants: tuple[str, ...] = ("role:general_manager", "role:quality_manager", "role:department_manager")
    meeting_after_working_days: int = Field(default=20, ge=1)  # meeting day after the review opens
    reports_due_working_days_before: int = Field(default=5, ge=1)  # department reports due before the meeting
    pack_days_before: int = Field(default=3, ge=1)  # the input pack goes out this many days before
    meeting_time: str = Field(default="09:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    meeting_hours: float = Field(default=3, gt=0)
    meeting_place: str = "总经办会议室"

    _participants = field_validator("participants")(classmethod(lambda cls, v: _check_selectors(v)))


class GradingSettings(_Model):
    """Staff grading a / b / c (seed 003 第二章第六条): weighted components, thresholds, red-line cap."""

    # weights of the 0–100 components in the base score (a missing component is left out, the rest rescaled)
    weights: dict[Literal["inspection", "mystery_shopper", "csat"], float] = Field(
        default_factory=lambda: {"inspection": 0.6, "mystery_shopper": 0.25, "csat": 0.15})
    complaint_penalty: float = Field(default=5.0, ge=0)  # points off per complaint against the person
    error_penalty: dict[Literal["minor", "major", "critical"], float] = Field(
        default_factory=lambda: {"minor": 2.0, "major": 5.0, "critical": 10.0})
    compliment_bonus: float = Field(default=2.0, ge=0)  # points per compliment
    compliment_bonus_max: float = Field(default=10.0, ge=0)
    a_from: float = Field(default=90.0, ge=0, le=100)  # score ≥ a_from → a
    b_from: float = Field(default=75.0, ge=0, le=100)  # score ≥ b_from → b, else c
    red_line_caps_at_c: bool = True
    top_performers: int = Field(default=3, ge=0)  # 服务标兵 candidates in the appraisal

    @model_validator(mode="after")
    def _ordered(self) -> "GradingSettings":
        if self.b_from > self.a_from:
            raise ValueError("b_from must not be above a_from")
        return self


class MonitoringSettings(_Model):
    """Inspections, mystery shopping, compliments and service errors (issue 15)."""

    inspections_dir: Path = Path("config/inspections")
    score_threshold: float = Field(default=80.0, ge=0, le=100)  # below: a corrective action
    notice_within_days: int = Field(default=7, ge=1)  # older inspections (history) page nobody
    inspectors: tuple[str, ...] = ("role:internal_auditor", "role:quality_manager")
    plan_template: str = "service-counter"
    appraisal_to: tuple[str, ...] = ("role:general_manager",)
    grading: GradingSettings = GradingSettings()

    _selectors = field_validator("inspectors", "appraisal_to")(classmethod(lambda cls, v: _check_selectors(v)))


class OutboxSettings(_Model):
    # flood guard: at most this many mails to one recipient per delivery run; the rest are held
    # (status `held`, kept, not sent), the recipient and the admins get one mail saying so
    max_per_recipient_per_run: int = Field(default=30, ge=1)
class QualityMeetingSettings(_Model):
    """The monthly quality-analysis meeting (月度质量分析会), held on the month's report."""

    participants: tuple[str, ...] = ("role:general_manager", "role:quality_manager", "role:department_manager")
    after_report_working_days: int = Field(default=3, ge=1)  # the meeting, this many working days after the report
    meeting_time: str = Field(default="14:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    meeting_hours: float = Field(default=2, gt=0)
    meeting_place: str = "运营部会议室"
    minutes_to: tuple[str, ...] = ("role:general_manager",)  # besides the participants
    # who records the minutes in the workspace: the quality manager, or name a secretary's address
    minutes_by: tuple[str, ...] = ("role:quality_manager",)

    _participants = field_validator("participants", "minutes_to", "minutes_by")(
        classmethod(lambda cls, v: _check_selectors(v)))


class StandardsSettings(_Model):
    """The standards and SOP register: who approves, how often reviewed, training on new versions."""

    approvers: tuple[str, ...] = ("role:general_manager",)  # people or role:<role>, in order
    approval: Literal["in_order", "all"] = "in_order"  # one after the other, or all of them in any order
    review_interval_months: int = Field(default=12, ge=1)  # reviewed at least once a year
    review_notice_days: tuple[int, ...] = (30, 7)  # reminders to the owner this many days before
    training_due_working_days: int = Field(default=10, ge=1)
    training_mode: Literal["acknowledge", "trained"] = "acknowledge"  # read and acknowledge, or trained and checked

    _approvers = field_validator("approvers")(classmethod(lambda cls, v: _check_selectors(v)))


class SuggestionSettings(_Model):
    """Suggestions from staff and customers (合理化建议): evaluated by the quality manager in time."""

    evaluate_within_working_days: int = Field(default=5, ge=1)
    evaluators: tuple[str, ...] = ("role:quality_manager",)  # who evaluates (the first is chased)
    rate_limit_per_hour: int = Field(default=5, ge=1)  # the public form, per client address

    _evaluators = field_validator("evaluators")(classmethod(lambda cls, v: _check_selectors(v)))


class WebSettings(_Model):
    """The web forms (feedback, surveys): where people reach them."""

    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    # the staff workspace (/app/): sessions end after this long without a request
    session_idle_minutes: int = Field(default=60, gt=0)
    # signs the session cookie; from SQMS_WEB__SECRET_KEY, else this file (created on first use, mode 600)
    secret_key: str | None = None
    secret_key_file: Path = Path("var/web-secret.key")
    signin_link_minutes: int = Field(default=15, gt=0)
    signin_attempts_per_address: int = Field(default=5, gt=0)  # per signin_window_minutes
    signin_attempts_per_client: int = Field(default=20, gt=0)
    signin_window_minutes: int = Field(default=15, gt=0)
    evidence_dir: Path = Path("var/evidence")  # uploaded evidence files (outside any web root)
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value.rstrip("/")


_CRON_PART = re.compile(r"^(?:(\*|\?)|(\w+)(?:-(\w+))?)(?:/(\d+))?$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# name, low, high, names (numbered from `low`)
_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
                ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS))


def _cron_problem(value: str) -> str | None:
    """Why `value` is not a 5-field cron expression with values in range, or None."""
    fields = value.split()
    if len(fields) != 5:
        return f"has {len(fields)} fields, not 5 (minute hour day-of-month month day-of-week)"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        for part in text.split(","):
            match = _CRON_PART.match(part.upper())
            if not match:
                return f"{name} '{text}' is not valid"
            star, first, last, step = match.groups()
            if star == "?" and name not in ("day of month", "day of week"):
                return f"{name} '{text}' is not valid"
            if step is not None and int(step) < 1:
                return f"{name} '{text}': the step must be at least 1"
            bounds = []
            for token in (first, last):
                if token is None:
                    continue
                if token.isdigit():
                    number = int(token)
                elif token in names:
                    number = names.index(token) + low
                else:
                    return f"{name} '{text}' is not valid"
                if not low <= number <= high:
                    return f"{name} {number} is outside {low}-{high}"
                bounds.append(number)
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                return f"{name} range '{part}' runs backwards"
    return None


class Schedule(_Model):
    cron: str
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        problem = _cron_problem(value)
        if problem:
            raise ValueError(f"'{value}' is not a 5-field cron expression: {problem}")
        return value


def _default_schedules() -> dict[str, Schedule]:
    return {
        "monthly-report": Schedule(cron="0 8 1 * *"),
        "report-release": Schedule(cron="*/15 * * * *"),
        "outbox-delivery": Schedule(cron="*/15 * * * *"),
        "complaint-sla-watch": Schedule(cron="5 * * * *"),
        "reminders": Schedule(cron="0 9 * * *"),
        "weekly-digest": Schedule(cron="0 9 * * *"),
        "survey-quarterly": Schedule(cron="0 9 5 1,4,7,10 *"),
        "survey-annual": Schedule(cron="0 9 10 1 *"),
        "survey-daily": Schedule(cron="0 10 * * *"),
        "internal-audit": Schedule(cron="0 9 1 6,12 *"),
        "internal-audit-daily": Schedule(cron="30 9 * * *"),
        "management-review": Schedule(cron="0 9 10 1 *"),
        "management-review-daily": Schedule(cron="45 9 * * *"),
        "quality-meeting": Schedule(cron="0 10 1 * *"),
        "standards-review": Schedule(cron="15 9 * * *"),
        "inspections": Schedule(cron="0 8 1 * *"),
        "staff-grading": Schedule(cron="30 8 1-10 1,4,7,10 *"),
    }


class SmtpSettings(_Model):
    host: str | None = None
    port: int = Field(default=25, gt=0, lt=65536)
    user: str | None = None
    password: SecretStr | None = None
    ssl: bool = False
    starttls: bool = False
    sender: str = "sqms@example.com"
    sender_name: str = "SQMS"  # the From name of mails to staff
    customer_sender_name: str | None = None  # the From name of mails to customers (default: the organisation's name)
    timeout_seconds: float = Field(default=30, gt=0)

    _sender = field_validator("sender")(classmethod(lambda cls, v: _check_email(v)))

    def login_problem(self) -> str | None:
        """A user without a password cannot log in (the password lives in the environment only)."""
        if self.host and self.user and self.password is None:
            return (f"smtp.user is {self.user!r} but no password is set: set SQMS_SMTP__PASSWORD in the "
                    "environment (or remove smtp.user to send without login)")
        return None


class Settings(BaseSettings):
    """The whole configuration. Relative paths are relative to the working directory."""

    model_config = SettingsConfigDict(
        env_prefix="SQMS_", env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    database_url: str = "sqlite:///var/sqms.db"
    outbox_dir: Path = Path("var/outbox")
    reports_dir: Path = Path("var/reports")
    templates_dir: Path | None = None
    questionnaires_dir: Path = Path("config/questionnaires")
    organisation: Organisation
    departments: tuple[Department, ...] = Field(min_length=1)
    people: tuple[Person, ...] = ()
    service_items: tuple[ServiceItem, ...] = ()  # the service catalogue (optional)
    report: ReportSettings = ReportSettings()
    kpi: KpiSettings = KpiSettings()
    complaints: ComplaintSettings = ComplaintSettings()
    actions: ActionSettings = ActionSettings()
    reminders: ReminderSettings = ReminderSettings()
    surveys: SurveySettings = SurveySettings()
    audits: AuditSettings = AuditSettings()
    improvement: ImprovementSettings = ImprovementSettings()
    review: ReviewSettings = ReviewSettings()
    meeting: QualityMeetingSettings = QualityMeetingSettings()
    standards: StandardsSettings = StandardsSettings()
    suggestions: SuggestionSettings = SuggestionSettings()
    checklists_dir: Path = Path("config/checklists")
    calendar_dir: Path = Path("config/calendar")  # <year>.yaml: official days the library does not know yet
    monitoring: MonitoringSettings = MonitoringSettings()
    web: WebSettings = WebSettings()
    outbox: OutboxSettings = OutboxSettings()
    schedules: dict[str, Schedule] = Field(default_factory=_default_schedules)
    smtp: SmtpSettings = SmtpSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        # Precedence: explicit arguments, then SQMS_* variables, then the YAML file.
        return (init_settings, env_settings, InitSettingsSource(settings_cls, _yaml_data.get()))

    @field_validator("schedules")
    @classmethod
    def _every_process_scheduled(cls, value: dict[str, Schedule]) -> dict[str, Schedule]:
        # a process the file does not mention keeps its default schedule
        return {**_default_schedules(), **value}

    @model_validator(mode="after")
    def _cross_references(self) -> "Settings":
        problems: list[str] = []
        codes = [d.code for d in self.departments]
        names = [d.name for d in self.departments]
        for i, code in enumerate(codes):
            if codes.index(code) != i:
                problems.append(f"departments[{i}].code: duplicate department code '{code}'")
            if names.index(names[i]) != i:
                problems.append(f"departments[{i}].name: duplicate department name '{names[i]}'")
        emails: set[str] = set()
        for i, person in enumerate(self.people):
            if person.department not in codes:
                problems.append(
                    f"people[{i}] ({person.email}).department: unknown department '{person.department}'"
                    f" (known: {', '.join(codes)})"
                )
            if person.email in emails:
                problems.append(f"people[{i}].email: duplicate person '{person.email}'")
            emails.add(person.email)
        for dept in self.kpi.department_targets:
            if dept not in codes:
                problems.append(f"kpi.department_targets.{dept}: unknown department")
        problems += self.kpi.target_problems()
        for n, dept in enumerate(self.audits.scope):
            if dept not in codes:
                problems.append(f"audits.scope[{n}]: unknown department '{dept}'")
        items = [i.code for i in self.service_items]
        for n, item in enumerate(self.service_items):
            if item.department not in codes:
                problems.append(f"service_items[{n}] ({item.code}).department: unknown department "
                                f"'{item.department}' (known: {', '.join(codes)})")
            if items.index(item.code) != n:
                problems.append(f"service_items[{n}].code: duplicate service item '{item.code}'")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- lookups used everywhere -------------------------------------------------
    def service_target(self, kpi: str, item: str) -> float | None:
        """The target of `kpi` for a service item: the item's own, else the organisation's."""
        for entry in self.service_items:
            if entry.code == item and kpi in entry.targets:
                return entry.targets[kpi]
        return self.kpi.target(kpi, None)

    @property
    def tz(self) -> ZoneInfo:
        return self.organisation.tz

    @property
    def locale(self) -> str:
        return self.organisation.locale

    def department(self, code: str) -> Department:
        for dept in self.departments:
            if dept.code == code:
                return dept
        raise KeyError(code)

    def people_with_role(self, role: str, department: str | None = None) -> list[Person]:
        return [p for p in self.people if role in p.roles and (department is None or p.department == department)]

    def department_manager(self, department: str) -> Person | None:
        managers = self.people_with_role("department_manager", department)
        return managers[0] if managers else None

    def resolve_recipients(self, selectors: tuple[str, ...] | list[str]) -> list[Person | str]:
        """People (or bare addresses) named by selectors, each once, in a stable order."""
        seen: set[str] = set()
        out: list[Person | str] = []
        for selector in selectors:
            if selector.startswith("role:"):
                found: list[Person | str] = list(self.people_with_role(selector[5:]))
            else:
                email = selector.lower()
                found = [p for p in self.people if p.email == email] or [email]
            for item in found:
                email = item if isinstance(item, str) else item.email
                if email not in seen:
                    seen.add(email)
                    out.append(item)
        return out

    def admins(self) -> list[Person]:
        return self.people_with_role("admin") or self.people_with_role("quality_manager")


_yaml_data: ContextVar[dict[str, Any]] = ContextVar("sqms_yaml_data", default={})


def _format_errors(error: ValidationError, data: dict[str, Any]) -> list[str]:
    problems = []
    for err in error.errors():
        loc = list(err["loc"])
        key = _describe_location(loc, data)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "extra_forbidden":
            message = "is not a known setting (check the spelling)"
        if not loc:
            # model-level problems already name their keys, one per line
            problems.extend(message.split("\n"))
            continue
        env_name = "SQMS_" + "__".join(str(p) for p in loc if not isinstance(p, int)).upper()
        if env_name in {k.upper() for k in os.environ}:
            message += f" (from the environment variable {env_name})"
        problems.append(f"{key}: {message}")
    return problems


def _describe_location(loc: list[Any], data: Any) -> str:
    """`people[3].department` from pydantic's ('people', 3, 'department')."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int) and parts:
            parts[-1] = f"{parts[-1]}[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts)


def person_name(settings: Settings | None, email: str | None) -> str:
    """A configured person's name for an address (people are named, not addressed, in texts)."""
    if not email:
        return "—"
    if settings is not None:
        for person in settings.people:
            if person.email == email.strip().lower():
                return person.name or email
    return email


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [f"{path}: file not found (set SQMS_CONFIG or run from the project folder)"])
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"])
    try:
        # libyaml's safe loader when built in: the same YAML, ten times faster (every CLI command reads this)
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(str(path), [f"{path}: invalid YAML at {where}: {getattr(exc, 'problem', exc)}"])
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"{path}: the top level must be a mapping of settings"])
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and smtp.get("password"):
        raise ConfigError(
            str(path),
            ["smtp.password: must not be stored in the file; set SQMS_SMTP__PASSWORD or a Prefect Secret block"],
        )
    return data


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (default `config/sqms.yaml` or `$SQMS_CONFIG`) and validate it."""
    path = Path(path or os.environ.get("SQMS_CONFIG") or DEFAULT_CONFIG_PATH)
    data = read_config_file(path)
    token = _yaml_data.set(data)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(str(path), _format_errors(exc, data)) from None
    finally:
        _yaml_data.reset(token)
    from sqms.calendar import CalendarFileError, use_declared

    try:
        use_declared(settings.calendar_dir)  # every deadline from here on counts the declared years
    except CalendarFileError as exc:
        raise ConfigError(str(settings.calendar_dir), exc.problems) from None
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once; tests call `get_settings.cache_clear()`."""
    return load_settings()
