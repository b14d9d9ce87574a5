"""Issue 20 item 6: every mail template (zh_CN and en) holds on a phone: rendered in Chromium at
390 px (and at 600 px, a narrow mail pane), nothing is wider than the viewport."""

from __future__ import annotations

import pytest

from sqms.reporting.render import render_template
from tests.conftest import ROOT
from tests.mail_samples import context

TEMPLATES = sorted(p.name.removesuffix(".html.j2") for p in (ROOT / "templates" / "email" / "zh_CN").glob("*.html.j2"))


@pytest.mark.parametrize("width", [390, 600])
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_mail_template_fits_a_phone(sqlite_settings, browser, locale, width):
    settings = sqlite_settings.model_copy(update={"organisation": sqlite_settings.organisation.model_copy(
        update={"locale": locale})})
    assert len(TEMPLATES) >= 18
    page = browser.new_page(viewport={"width": width, "height": 844})
    too_wide = {}
    try:
        for name in TEMPLATES:
            html = render_template(settings, f"email/{locale}/{name}.html.j2", **context(name, locale))
            page.set_content(html)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                too_wide[name] = scroll
    finally:
        page.close()
    assert too_wide == {}, f"{locale}: wider than {width} px: {too_wide}"
