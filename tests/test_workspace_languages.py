"""Issue 14: a refused service rule is shown on the form in the form's language, and the front-line
staff register the complaints of their counter. In a real Chromium against a real `sqms web`."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from sqms.complaints.service import Step, advance, get
from sqms.db import UnitOfWork
from tests.test_rule_errors import CJK, ENGLISH_SENTENCE
from tests.test_workspace import (  # noqa: F401  (the fixture)
    GM,
    QM,
    get_complaint,
    new_action,
    new_complaint,
    new_cycle,
    open_audit,
    shot,
    sign_in,
    workspace,
)

LANGUAGES = [("zh_CN", {"width": 1280, "height": 900}), ("en", {"width": 390, "height": 844})]
IDS = ["zh_CN-desktop", "en-phone"]


def refused(page, code: str, lang: str, *words: str) -> str:
    """The form's error box after a refused rule: that rule (its code), in the page's language."""
    page.wait_for_selector("#error")
    codes = [p.get_attribute("data-code") for p in page.locator("#error .problem").all()]
    text = page.inner_text("#error")
    assert code in codes, (code, codes, text)
    if lang == "zh_CN":
        assert CJK.search(text) and not ENGLISH_SENTENCE.search(text), text
    else:
        assert not CJK.search(text) and ENGLISH_SENTENCE.search(text), text
    for word in words:
        assert word in text, (word, text)
    return text


@pytest.mark.parametrize(("lang", "viewport"), LANGUAGES, ids=IDS)
def test_refused_rules_are_shown_in_the_forms_language(workspace, browser, smtp_server, db_url, lang,  # noqa: F811
                                                       viewport):
    settings, base = workspace
    zh = lang == "zh_CN"
    tag = f"{lang}-{db_url.split(':')[0].split('+')[0]}"
    special = new_complaint(settings, severity="special", steps=("acknowledge", "investigate"))
    with UnitOfWork(settings.database_url, actor=QM) as uow:
        advance(uow.session, settings, get(uow.session, special), "propose", Step(solution="赔偿 100 元"))
        uow.commit()
    action = new_action(settings)
    cycle = new_cycle(settings)
    code, _ = open_audit(settings)
    from sqms.audits.service import get as get_audit, slot_of
    from sqms.reviews.service import open_review

    with UnitOfWork(settings.database_url, actor=QM) as uow:
        slot_of(uow.session, get_audit(uow.session, code), "SALES").day = date.today() + timedelta(days=30)
        review, _ = open_review(uow.session, settings, year=2025)
        review.status = "pack_sent"  # the meeting is still ahead: its outputs cannot be recorded yet
        uow.commit()

    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        sign_in(page, base, smtp_server, QM)
        page.goto(f"{base}/app/?lang={lang}")  # the language stays for the session

        # register a complaint: a date after now
        page.goto(f"{base}/app/complaints/new")
        page.fill("#category", "收费")
        page.fill("#received_at", "2099-01-01T09:30")
        page.click("#register")
        refused(page, "in_future", lang, "受理时间" if zh else "Received")
        assert page.input_value("#received_at") == "2099-01-01T09:30"  # what was typed is kept

        # a special complaint's answer before its approval
        page.goto(f"{base}/app/complaints/{special}")
        page.fill("#answer", "已赔偿")
        page.click("#do-resolve")
        refused(page, "complaint.approval_first", lang)
        assert page.input_value("#answer") == "已赔偿"
        shot(page, f"refused-complaint-{tag}")

        # a corrective action: done without a root cause, an empty note, a wrong file type
        page.goto(f"{base}/app/actions/{action}")
        page.click("#do-complete")
        refused(page, "action.needs.root_cause", lang)
        page.fill("#note", "   ")
        page.click("#add-note")
        refused(page, "action.note_empty", lang)
        page.set_input_files("#file", files=[{"name": "run.sh", "mimeType": "text/plain", "buffer": b"echo hi"}])
        page.click("#upload")
        refused(page, "evidence.type", lang, "run.sh")

        # PDCA: doing before the root cause; then a step the cycle no longer allows (moved on meanwhile)
        page.goto(f"{base}/app/pdca/{cycle}")
        page.click("#do-start")
        refused(page, "pdca.needs.root_cause", lang)
        from sqms.improvement.service import get as get_cycle
        with UnitOfWork(settings.database_url, actor=QM) as uow:
            moved = get_cycle(uow.session, cycle)
            moved.root_cause, moved.status = "经验依赖", "do"
            uow.commit()
        page.click("#do-start")
        refused(page, "transition.state", lang, "实施 D" if zh else "do")

        # audit findings: none chosen; an audit whose day is still ahead
        page.goto(f"{base}/app/audits/{code}/SALES")
        page.click("#save-findings")
        refused(page, "audit.no_result", lang)
        first = page.locator("select[id^=result-]").nth(0).get_attribute("id")
        page.select_option(f"#{first}", "conforming")
        page.click("#save-findings")
        refused(page, "audit.not_yet", lang, (date.today() + timedelta(days=30)).isoformat())

        # management review: an empty department report, outputs that are not YAML, outputs before the meeting
        page.goto(f"{base}/app/reviews/2025")
        page.fill("#text-CS", "  ")
        page.click("#submit-CS")
        refused(page, "review.report_empty", lang)
        page.fill("#outputs_yaml", "decisions: [unclosed")
        page.click("#record-outputs")
        refused(page, "review.yaml", lang)
        assert page.input_value("#outputs_yaml") == "decisions: [unclosed"
        page.fill("#outputs_yaml", "decisions: []")
        page.click("#record-outputs")
        refused(page, "review.meeting_ahead", lang)
        shot(page, f"refused-review-{tag}")

        # an inspection (the quality manager inspects too): a failed item without its evidence
        page.goto(f"{base}/app/inspections/new")
        page.select_option("#department", "OPS")
        page.check("#r_PROC-3_fail")
        page.click("#record")
        refused(page, "inspection.evidence_required", lang, "PROC-3")
    finally:
        context.close()

    with UnitOfWork(settings.database_url, actor=QM) as uow:
        from sqms.reviews.service import get as get_review
        get_review(uow.session, 2025).status = "outputs_recorded"
        uow.commit()
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        sign_in(page, base, smtp_server, GM)
        page.goto(f"{base}/app/reviews/2025?lang={lang}")
        page.fill("#reason", "   ")  # the browser lets blanks through; the rule does not
        page.click("#send-back-outputs")
        refused(page, "reason_required", lang, "退回" if zh else "Send back")
    finally:
        context.close()


# -- front-line staff ---------------------------------------------------------------------------------

CLERK = "xu.jing@example.com"


@pytest.fixture
def counter(db_url, sqms_env, smtp_server, tmp_path, monkeypatch):
    """The demo's people and a front-line clerk of CS (窗口人员), as `people:` in config says."""
    from sqms.config import load_settings
    from tests.conftest import CONFIG

    people = [p.model_dump(mode="json") for p in load_settings(CONFIG, database_url=db_url).people]
    people.append({"email": CLERK, "name": "徐静", "department": "CS", "roles": ["frontline_staff"]})
    monkeypatch.setenv("SQMS_PEOPLE", json.dumps(people, ensure_ascii=False))


def test_frontline_staff_may_register_and_read_their_counters_complaints(org):
    from sqms.config import Person
    from sqms.web import permissions as perm

    clerk = Person(email=CLERK, name="徐静", department="CS", roles=("frontline_staff",))
    ident = new_complaint(org)
    other = new_complaint(org, department="OPS")
    with UnitOfWork(org.database_url) as uow:
        own, theirs = get(uow.session, ident), get(uow.session, other)
        assert perm.complaint_register(clerk, None, org, {"department": "CS"})
        assert not perm.complaint_register(clerk, None, org, {"department": "OPS"})
        assert perm.register_departments(clerk, org) == ["CS"]
        assert perm.complaint_view(clerk, own, org, {}) and not perm.complaint_view(clerk, theirs, org, {})
        assert perm.complaint_moves(clerk, own, org) == []  # registers and reads; the handling is the manager's
        # the counter's compliments too; suggestions like everyone; no dashboard, reports or meetings
        assert perm.navigation(clerk, org) == {"dashboard": False, "reports": False, "register": True,
                                               "compliments": True, "suggestions": True, "meetings": False}
        from sqms.actions.service import get as get_action
        assert not perm.action_view(clerk, get_action(uow.session, new_action(org)), org, {})  # their department's
        for rule in (perm.audit_view, perm.review_view, perm.survey_view, perm.reports_view, perm.dashboard_view,
                     perm.process_open, perm.kpi_compute):
            assert not rule(clerk, None, org, {"department": "CS"}), rule.__name__


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_frontline_clerk_registers_a_complaint_at_the_counter(counter, workspace, browser,  # noqa: F811
                                                             smtp_server, viewport, request):
    settings, base = workspace
    assert any(p.email == CLERK and p.roles == ("frontline_staff",) for p in settings.people)
    other = new_complaint(settings, department="OPS")
    tag = request.node.callspec.id.replace("[", "-").replace("]", "")
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        sign_in(page, base, smtp_server, CLERK)
        assert page.locator("#nav-register").is_visible() or page.locator("#nav-register").count() == 1
        assert page.locator("a[href='/app/dashboard']").count() == 0
        assert page.locator("a[href='/app/reports/']").count() == 0
        page.click("#nav-register")
        assert [o.get_attribute("value") for o in page.locator("#department option").all()] == ["CS"]
        page.fill("#category", "等候时间")
        page.fill("#description", "窗口排队 40 分钟")
        page.fill("#received_at", "2099-01-01T09:30")
        page.click("#register")
        refused(page, "in_future", "zh_CN")
        page.fill("#received_at", "")
        page.click("#register")
        page.wait_for_selector("#history")
        ident = page.url.rsplit("/", 1)[1]
        assert page.locator("#moves").count() == 0  # read only: the department handles it
        shot(page, f"frontline-{tag}")
        c = get_complaint(settings, ident)
        assert (c.department, c.category, c.status) == ("CS", "等候时间", "registered")
        from sqms.audit_trail import AuditEntry
        with UnitOfWork(settings.database_url) as uow:
            creator = uow.session.scalars(select(AuditEntry.actor).where(AuditEntry.entity_id == ident,
                                                                          AuditEntry.action == "create")).one()
        assert creator == CLERK
        # nothing beyond the counter: another department's complaint, its register, the other pages
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert page.request.post(f"{base}/app/complaints/new", form={
            "csrf_token": token, "department": "OPS", "channel": "phone", "severity": "normal",
            "category": "x"}).status == 403
        assert page.request.post(f"{base}/app/complaints/{ident}/acknowledge",
                                 form={"csrf_token": token}).status == 403
        for path in (f"/app/complaints/{other}", "/app/dashboard", "/app/reports/"):
            assert page.goto(base + path).status == 403, path
    finally:
        context.close()
