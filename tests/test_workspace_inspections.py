"""Recording an inspection in the workspace on a phone, in a real Chromium against a real `sqms web`.

Named to run after the other Prefect tests: the session-wide Playwright browser leaves an event loop
running, and Prefect's sync calls made after it return coroutines."""

from __future__ import annotations

from sqlalchemy import select

from sqms.db import UnitOfWork
from sqms.monitoring.models import Inspection
from tests.test_workspace import shot, sign_in, workspace  # noqa: F401  (the fixture)

INSPECTOR = "zheng.yu@example.com"  # OPS, internal auditor


def test_inspector_records_an_inspection_on_a_phone(workspace, browser, smtp_server):  # noqa: F811
    settings, base = workspace
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, base, smtp_server, INSPECTOR)
        page.goto(f"{base}/app/inspections/new")
        assert "OPS" not in [o.get_attribute("value") for o in page.locator("#department option").all()]
        page.select_option("#department", "CS")
        page.check("#r_PROC-3_fail")
        page.click("#record")
        page.wait_for_selector("#error")  # a failed item that needs evidence
        assert "PROC-3" in page.inner_text("#error")
        page.check("#r_PROC-3_fail")
        page.fill("#e_PROC-3", "IMG_0042.jpg")
        page.click("#record")
        page.wait_for_selector("#score")
        assert page.inner_text("#score") == "0.0" and page.locator("#red-line").is_visible()
        assert page.locator("#action").is_visible()  # the corrective action it opened
        shot(page, "inspection-phone")
        with UnitOfWork(settings.database_url) as uow:
            row = uow.session.scalars(select(Inspection)).one()
        assert (row.department, row.inspector, row.red_line_failed) == ("CS", INSPECTOR, True)
        # an inspector never records their own department, even with a forged form
        page.goto(f"{base}/app/inspections/new")
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        own = page.request.post(f"{base}/app/inspections/new", form={
            "csrf_token": token, "template": "service-counter", "department": "OPS", "r_ENV-1": "pass"})
        assert own.status == 403
    finally:
        context.close()
