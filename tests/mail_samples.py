"""Stand-in values to render every mail template with long, realistic content (for layout tests).

`Sample` answers any attribute, item, iteration or number use, so a template can be rendered
without building each process's objects; it prints as a long text in the mail's language (the
worst case for a narrow screen: long names, long ids, long links)."""

from __future__ import annotations

from datetime import date, datetime

LONG = {"zh_CN": "客服部关于服务热线高峰时段排队等待时间过长的重大投诉处理情况",
        "en": "Customer Service complaint about very long waiting times on the service hotline at peak hours"}
LINK = "https://sqms.example.com/survey/9f8e7d6c5b4a39281706f5e4d3c2b1a0ZyXwVuTsRqPoNmLkJiHgFeDcBa"


class Sample:
    def __init__(self, locale: str, depth: int = 0):
        self._locale, self._depth = locale, depth

    def _child(self) -> "Sample":
        return Sample(self._locale, self._depth + 1)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in ("strftime", "isoformat"):
            return lambda *a, **k: "2026-10-05 09:00"
        return self._child()

    def __getitem__(self, key):
        return self._child()

    def __call__(self, *args, **kwargs):
        return self._child()

    def __iter__(self):
        if self._depth > 6:
            return iter(())
        return iter([self._child(), self._child()])

    def __len__(self) -> int:
        return 2

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return LONG[self._locale]

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))

    def __float__(self) -> float:
        return 87.5

    def __int__(self) -> int:
        return 12

    def __index__(self) -> int:
        return 12

    def __format__(self, spec: str) -> str:
        return format(87.5, spec) if spec else str(self)

    def __lt__(self, other):
        return False

    __le__ = __gt__ = __ge__ = __lt__

    def __eq__(self, other):
        return False

    def __hash__(self) -> int:
        return id(self)

    def __add__(self, other):
        return self._child()

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __add__


def context(name: str, locale: str) -> dict:
    """A render context for template `name`: Samples, with real values where a template needs a type."""
    s = Sample(locale)
    moment = datetime(2026, 10, 5, 9, 0)
    base = {k: Sample(locale) for k in (
        "cycle", "own", "plan", "auditor", "department", "slot", "figures", "files", "complaint", "owner",
        "report", "review", "meeting", "missing", "summary", "campaign", "title", "actions", "ages",
        "departments", "kinds", "owners", "parameters", "message", "flow_name", "run_name", "run_id",
        "state_name", "department_code", "overdue", "due_soon", "escalated", "action", "count",
        "calendar_dir", "year", "checklist", "source_label", "type_label", "total", "minutes", "subjects",
        "cap", "held_for", "shown", "hidden", "counts", "accepted", "suggestion", "due_on", "mode",
        "document", "c", "grade", "agenda", "rescheduled", "when", "slots", "period", "rows", "quarter", "words",
        "correction", "distribution", "kind", "report_period")}
    base |= {"recipient_name": LONG[locale][:12], "link": LINK, "hold_link": LINK, "opt_out": LINK + "/opt-out", "run_url": LINK,
             "day": date(2026, 10, 5), "close_on": date(2026, 10, 19), "valid_until": moment,
             "received_local": moment, "deadline_local": moment, "first_local": moment, "last_local": moment, "at": moment, "until": moment, "version": 2, "items": 12,
             "days": 3, "role": "auditor", "week": "2026-W41", "total_open": 128, "total_overdue": 17,
             "kpi": "response_within_target_pct", "better": "higher", "unit": "%"}
    if name.startswith("standard_"):  # a version of the register, not a report's version number
        base["version"] = Sample(locale)
    if name == "calendar_unknown":  # its items are the open items with a deadline in that year
        base |= {"items": [Sample(locale), Sample(locale)], "count": 3}
    del s
    return base
