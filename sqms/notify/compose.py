"""Emails from templates: `templates/email/<locale>/<name>.{subject,txt,html}.j2`."""

from __future__ import annotations

from typing import Any

from sqms.config import Settings
from sqms.notify.messages import AUDIENCE_HEADER, Email

# Mails to customers (not to staff): sent in the organisation's name, not as "SQMS".
CUSTOMER_TEMPLATES = frozenset({"survey_invitation", "survey_reminder", "complaint_feedback"})


def compose(settings: Settings, name: str, recipient: Any, **context: Any) -> Email:
    """Render the three parts of email `name` for one recipient (a Person or an address)."""
    from sqms.reporting.render import render_template

    locale = settings.locale
    context = {"settings": settings, "org": settings.organisation, "locale": locale, "recipient": recipient,
               "recipient_name": getattr(recipient, "name", ""), **context}
    subject = render_template(settings, f"email/{locale}/{name}.subject.j2", **context)
    text = render_template(settings, f"email/{locale}/{name}.txt.j2", **context)
    html = render_template(settings, f"email/{locale}/{name}.html.j2", **context)
    headers = {AUDIENCE_HEADER: "customer"} if name in CUSTOMER_TEMPLATES else {}
    return Email.to(recipient, subject=" ".join(subject.split()), body_text=text, body_html=html, headers=headers)
