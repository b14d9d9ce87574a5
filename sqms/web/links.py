"""Where an item's page is in the staff workspace: one mapping for pages, digests and mails."""

from __future__ import annotations

from sqms.config import Settings

_PATHS = {
    "complaint": "/app/complaints/{}",
    "complaint-contact": "/app/complaints/{}",
    "action": "/app/actions/{}",
    "action-verification": "/app/actions/{}",
    "pdca": "/app/pdca/{}",
    "audit": "/app/audits/{}",
    "survey": "/app/surveys/{}",
    "review": "/app/reviews/{}",
    "review-report": "/app/reviews/{}",
    "report": "/app/reports/",
    "report-hold": "/app/reports/held/{}",
    "inspection": "/app/inspections/{}",
    "suggestion": "/app/suggestions/{}",
    "quality_meeting": "/app/meetings/{}",
}


def item_path(kind: str, ident: object) -> str:
    """`/app/...` for an item of a kind the reminder engine or a mail names; `/app/` when unknown."""
    template = _PATHS.get(kind)
    if template is None:
        return "/app/"
    ident = str(ident)
    if kind.startswith("review"):  # "2026-review:CS" → the review of 2026
        ident = ident.split("-", 1)[0]
    return template.format(ident)


def item_url(settings: Settings, kind: str, ident: object) -> str:
    """The item's page as people reach it (`web.base_url`)."""
    return settings.web.base_url + item_path(kind, ident)
