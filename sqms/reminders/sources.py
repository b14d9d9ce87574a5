"""Where the reminder engine finds items with an owner and a due date: one function per domain.

A new process that has deadlines adds its `due_items(session, settings, now) -> list[DueItem]`
here, and a label for its kind in `sqms.reminders.service.KIND_LABELS`.
"""

from __future__ import annotations


def default_sources() -> list:
    from sqms.actions.service import due_items as actions
    from sqms.complaints.service import due_items as complaints
    from sqms.monitoring.plan import due_items as inspections
    from sqms.reviews.service import due_items as review_reports
    from sqms.standards.service import due_items as standards
    from sqms.suggestions.service import due_items as suggestions

    return [complaints, actions, review_reports, standards, suggestions, inspections]
