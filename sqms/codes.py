"""Coded values and their names: one resolver for every place a person types a code.

A code (`onsite`, `special`, `CS`) is what SQMS stores; people may type it or any configured
name of it (`现场`, `重大投诉`, `重大`, `客服部`, `Customer Service`), in any case. Reports show the
name in the report language (`label`). Departments come from the configuration; the other
kinds are fixed by the code.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from sqms.config import person_name  # noqa: F401 (kept here for its callers: names live with the people)

if TYPE_CHECKING:
    from sqms.config import Settings

# code -> (zh_CN name, English name[, further accepted names])
CHANNEL_LABELS: dict[str, tuple[str, ...]] = {
    "phone": ("电话", "Phone", "热线", "电话热线"), "online": ("在线", "Online", "网络", "在线客服"),
    "email": ("电子邮件", "Email", "邮件", "e-mail"), "onsite": ("现场", "On site", "现场受理", "on-site"),
}
FEEDBACK_CHANNEL_LABELS: dict[str, tuple[str, ...]] = {
    **{k: v for k, v in CHANNEL_LABELS.items() if k != "online"}, "web": ("网页", "Web form", "网页表单"),
}
SEVERITY_LABELS: dict[str, tuple[str, ...]] = {
    "normal": ("一般投诉", "Normal", "一般"), "special": ("重大投诉", "Special", "重大", "特别", "特别投诉"),
}
ACTION_TYPE_LABELS: dict[str, tuple[str, ...]] = {
    "immediate": ("立即措施", "Immediate", "立即"), "corrective": ("纠正措施", "Corrective", "纠正"),
    "preventive": ("预防措施", "Preventive", "预防"), "improvement": ("改进措施", "Improvement", "改进"),
}
FINDING_RESULT_LABELS: dict[str, tuple[str, ...]] = {
    "conforming": ("符合", "Conforming"),
    "major": ("严重不符合", "Major nonconformity", "严重"),
    "minor": ("一般不符合", "Minor nonconformity", "一般"),
    "observation": ("观察项", "Observation", "观察"),
    "improvement": ("改进机会", "Opportunity for improvement", "改进"),
}
KINDS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {  # kind -> (what it is called, table)
    "channel": ("channel", CHANNEL_LABELS),
    "feedback_channel": ("channel", FEEDBACK_CHANNEL_LABELS),
    "severity": ("severity", SEVERITY_LABELS),
    "action_type": ("action type", ACTION_TYPE_LABELS),
    "finding_result": ("result", FINDING_RESULT_LABELS),
}


STATE_KINDS = {"complaint_state": "state", "action_state": "state"}


class UnknownCode(ValueError):
    """Neither a code nor a configured name; the message lists what is accepted."""


def _key(text: str) -> str:
    # NFKC: full-width letters and digits typed with a Chinese input method match too
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _states(kind: str) -> dict[str, tuple[str, ...]]:
    # the state names live beside their state machines; imported here only when asked for
    if kind == "complaint_state":
        from sqms.complaints.models import STATE_LABELS
    else:
        from sqms.actions.models import ACTION_STATE_LABELS as STATE_LABELS
    return {code: (zh, en, code.replace("_", " ")) for code, (zh, en) in STATE_LABELS.items()}


def _table(settings: Settings | None, kind: str) -> dict[str, tuple[str, ...]]:
    if kind == "department":
        if settings is None:
            raise ValueError("departments need the settings")
        return {d.code: (d.name, d.name_en or d.code) for d in settings.departments}
    if kind in STATE_KINDS:
        return _states(kind)
    return KINDS[kind][1]


def resolve(settings: Settings | None, kind: str, text: str) -> str:
    """The code `text` stands for (the code itself or any of its names); UnknownCode otherwise."""
    table = _table(settings, kind)
    wanted = _key(text)
    for code, names in table.items():
        if wanted == _key(code) or any(wanted == _key(n) for n in names):
            return code
    what = "department" if kind == "department" else STATE_KINDS.get(kind) or KINDS[kind][0]
    choices = ", ".join(f"{code} ({names[0]})" for code, names in table.items())
    raise UnknownCode(f"unknown {what} {text!r} (one of: {choices})")


def label(settings: Settings | None, kind: str, code: str | None, locale: str | None = "zh_CN") -> str:
    """The name of `code` in the report language; an unknown code is shown as it is."""
    if code is None:
        return "—"
    try:
        names = _table(settings, kind).get(code)
    except ValueError:
        names = None
    if not names:
        return code
    return names[0] if (locale or "zh_CN").lower().startswith("zh") else names[1]


def labels(kind: str) -> dict[str, tuple[str, str]]:
    """code -> (zh_CN, en) of a fixed kind, for the report modules' tables."""
    return {code: (names[0], names[1]) for code, names in KINDS[kind][1].items()}
