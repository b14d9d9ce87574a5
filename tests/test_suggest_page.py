"""The public suggestion form `/suggest` in a real headless Chromium against a real `sqms web`: a
suggestion stored and evaluated to the end (the submitter's outcome mail), the honeypot, the rate limit."""

from __future__ import annotations

from sqlalchemy import select

from sqms.db import UnitOfWork
from sqms.notify.service import deliver_pending
from sqms.org.service import sync_organisation
from sqms.suggestions.models import Suggestion
from sqms.suggestions.service import evaluate
from tests.conftest import ARTIFACTS


def _stored(settings) -> list[Suggestion]:
    with UnitOfWork(settings.database_url) as uow:
        rows = list(uow.session.scalars(select(Suggestion).order_by(Suggestion.id)))
        uow.session.expunge_all()
        return rows


def test_suggestion_form_honeypot_and_rate_limit(web_server, browser, smtp_server):
    settings, base = web_server
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    try:
        assert page.goto(f"{base}/suggest").status == 200
        box = page.locator("#website").bounding_box()
        assert box["x"] + box["width"] < 0  # the honeypot is out of sight
        page.click("#submit")
        assert page.locator("#text-error").is_visible()
        page.fill("#text", "<b>周末</b>也开通在线客服")
        page.fill("#name", "陈先生")
        page.fill("#email", "chen@example.org")
        page.click("#submit")
        page.wait_for_selector("#thanks")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "suggest-thanks.png"))
        [row] = _stored(settings)
        assert (row.text, row.source, row.email) == ("<b>周末</b>也开通在线客服", "customer", "chen@example.org")
        assert row.created_by.startswith("web:") and "127.0.0.1" not in row.created_by

        # a bot fills the hidden field: thanked, nothing stored
        page.goto(f"{base}/suggest")
        page.fill("#text", "cheap watches")
        page.fill("#website", "http://spam.example", force=True)
        page.click("#submit")
        page.wait_for_selector("#thanks")
        assert len(_stored(settings)) == 1

        # at most `rate_limit_per_hour` from one address
        for n in range(settings.suggestions.rate_limit_per_hour - 1):
            page.goto(f"{base}/suggest")
            page.fill("#text", f"建议 {n}")
            page.click("#submit")
            page.wait_for_selector("#thanks")
        page.goto(f"{base}/suggest")
        page.fill("#text", "再来一条")
        response = page.expect_response(lambda r: r.request.method == "POST")
        with response as info:
            page.click("#submit")
        assert info.value.status == 429 and page.locator("#rate-error").is_visible()
        assert len(_stored(settings)) == settings.suggestions.rate_limit_per_hour
    finally:
        page.close()

    with UnitOfWork(settings.database_url, actor="test") as uow:  # evaluated: the submitter hears once
        first = uow.session.scalars(select(Suggestion).order_by(Suggestion.id)).first()
        evaluate(uow.session, settings, first, "accept", by="li.na@example.com", reason="下月起试行",
                 department="CS")
        uow.commit()
    smtp_server.clear()
    deliver_pending(settings)
    told = [m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "chen@example.org"]
    assert len(told) == 1 and "已被采纳" in str(told[0]["Subject"])
    assert "<b>周末</b>也开通在线客服" in told[0].get_body(preferencelist=("plain",)).get_content()
