"""Issue 20 item 10: English wording of mails and reports, rendered from the real templates."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from sqms.monthly.report import _transition_sentence
from sqms.processes import DEADLINES
from sqms.reporting.render import render_template
from tests.mail_samples import context


def english(settings):
    return settings.model_copy(update={"organisation": settings.organisation.model_copy(
        update={"locale": "en", "name_en": "Huaxin Operations Services Co., Ltd."})})


def render(settings, name: str, part: str, **overrides) -> str:
    return render_template(settings, f"email/en/{name}.{part}.j2", **(context(name, "en") | overrides))


def test_customer_mails_read_well(sqlite_settings):
    settings = english(sqlite_settings)
    title = "Quarterly customer satisfaction survey"
    for name in ("survey_invitation", "survey_reminder"):
        for part in ("subject", "txt", "html"):
            text = render(settings, name, part, title=title)
            assert "Ltd.." not in text and f"our {title}" not in text, (name, part, text)
            assert "Customer Service —" not in text and "Ltd. Customer Service" not in text
        assert "Customer Service, Huaxin Operations Services Co., Ltd." in render(settings, name, "txt", title=title)
    assert "Ltd.." not in render(settings, "complaint_feedback", "html")


def test_units_and_plurals(sqlite_settings):
    settings = english(sqlite_settings)
    for part in ("txt", "html"):
        text = render(settings, "pdca_opened", part)
        assert "month(s)" not in text
        months = settings.improvement.check_months
        assert f"the following {months} month{'' if months == 1 else 's'} whether" in text
    weekly = render(settings, "weekly_digest", "html")
    assert " wd" not in weekly and "Due within 5 working days" in weekly
    from sqms.reminders.service import _overdue_text

    en = settings.model_copy(update={"locale": "en"})
    rows = [SimpleNamespace(kind="complaint", item_id="CP-1", title="x", owner="o", department="d",
                            due=pd.Timestamp("2026-10-05 09:00"), stage="overdue", late=late, url="http://x/app/",
                            overdue=_overdue_text(SimpleNamespace(stage="overdue", late_working_days=late), en))
            for late in (1, 3)]
    digest = render(settings, "reminder_digest", "html", overdue=rows, due_soon=[], escalated=[], hidden=0, total=2,
                    counts=[])
    assert " wd<" not in digest and ">1 working day<" in digest and ">3 working days<" in digest
    assert DEADLINES.label("complaint", "en") == "complaint: to settle"


def test_monthly_transition_sentence_names_its_subject():
    changes = pd.DataFrame([
        {"department": None, "transition": "newly_missed", "label": "First-contact resolution", "kpi": "fcr_pct",
         "previous_value": 91.0, "value": 85.0},
        {"department": None, "transition": "recovered", "label": "NPS", "kpi": "nps", "previous_value": 20.0,
         "value": 35.0}])
    sentence = _transition_sentence(SimpleNamespace(locale="en", changes=changes))
    assert sentence.startswith("Compared with last month, these organisation-wide KPIs fell below target: "
                               "First-contact resolution (91.0% → 85.0%)"), sentence
    assert "organisation-wide fell" not in sentence and "these are back on target: NPS" in sentence


def test_pareto_share_axis_title_is_not_clipped(browser):
    from sqms.reporting.charts import pareto_chart

    svg = pareto_chart(["Staff attitude", "Slow response", "Billing dispute"], [12, 7, 3], title="Pareto",
                       locale="en")
    page = browser.new_page(viewport={"width": 800, "height": 600})
    try:
        page.set_content(f"<div style='width:560px'>{svg}</div>")
        inside = page.evaluate("""() => {
            const svg = document.querySelector('svg').getBoundingClientRect();
            const label = [...document.querySelectorAll('svg text')].find(t => t.textContent.includes('cumulative'));
            const box = label.getBoundingClientRect();
            return box.left >= svg.left && box.right <= svg.right && box.top >= svg.top && box.bottom <= svg.bottom;
        }""")
    finally:
        page.close()
    assert inside
