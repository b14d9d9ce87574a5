"""The later processes' pages in the workspace: the quality-analysis meeting's minutes (issue 16), staff
suggestions (issue 16), compliments and inspection evidence files (issue 15) — as rules on both databases
and in a real Chromium against a real `sqms web`, at desktop and phone sizes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sqms.actions.models import Action
from sqms.audit_trail import AuditEntry
from sqms.db import UnitOfWork
from sqms.meetings.minutes import MinutesError, parse_form
from sqms.meetings.service import get as get_meeting
from sqms.meetings.service import schedule
from sqms.notify.models import OutboxMessage
from sqms.suggestions.models import Suggestion
from sqms.web import permissions as perm
from tests.test_meetings import _at, monthly_report
from tests.test_workspace import CS_MANAGER, GM, QM, person, shot, sign_in, workspace  # noqa: F401

PERIOD = "2026-10"
VIEWPORTS = pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                                    ids=["desktop", "phone"])


def held_meeting(settings) -> str:
    """The October meeting, scheduled after its report and held (its day is past)."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        monthly_report(uow.session, settings, PERIOD, date(2026, 11, 2))
        meeting, _ = schedule(uow.session, settings, PERIOD, now=_at(date(2026, 11, 2), 9))
        uow.commit()
        return meeting.period


# -- rules (both databases) ---------------------------------------------------------------------------


def test_who_records_the_minutes_and_who_evaluates_suggestions(org):
    held_meeting(org)
    with UnitOfWork(org.database_url) as uow:
        meeting = get_meeting(uow.session, PERIOD)
        assert perm.meeting_minutes(person(org, QM), meeting, org, {})
        assert not perm.meeting_minutes(person(org, GM), meeting, org, {})  # reads, does not record
        assert perm.meeting_view(person(org, GM), meeting, org, {})
        assert perm.meeting_view(person(org, CS_MANAGER), meeting, org, {})  # a participant
        assert not perm.meeting_view(person(org, "zheng.yu@example.com"), meeting, org, {})  # not invited
    secretary = org.model_copy(update={"meeting": org.meeting.model_copy(
        update={"minutes_by": ("role:quality_manager", "zheng.yu@example.com")})})
    with UnitOfWork(org.database_url) as uow:
        meeting = get_meeting(uow.session, PERIOD)
        assert perm.meeting_minutes(person(org, "zheng.yu@example.com"), meeting, secretary, {})
    mine = Suggestion(created_by=CS_MANAGER)
    assert perm.suggestion_view(person(org, CS_MANAGER), mine, org, {})
    assert not perm.suggestion_view(person(org, "liu.yang@example.com"), mine, org, {})
    assert perm.suggestion_evaluate(person(org, QM), mine, org, {})
    assert not perm.suggestion_evaluate(person(org, CS_MANAGER), mine, org, {})


def test_minutes_form_problems_name_the_field_in_the_form_language(settings):
    form = {"present": [], "present_other": "nobody", "discussion_3": "接通率下降",
            "a1_title": "", "a1_owner": QM, "a1_due": "next week", "a2_title": "", "a2_owner": "", "a2_due": ""}
    with pytest.raises(MinutesError) as zh:
        parse_form(settings, form, {1, 2, 3}, "zh_CN")
    assert zh.value.problems == [
        "其他出席人员: 'nobody' 不是已配置的人员（邮箱或姓名）",
        "行动项 1 · 事项: 必须填写",
        "行动项 1 · 期限: 'next week' 不是日期，如 2026-12-15（每个行动项都要有期限）"]
    with pytest.raises(MinutesError) as en:
        parse_form(settings, form, {1, 2, 3}, "en")
    assert en.value.problems[1] == "Action item 1 · title: is required"
    ok = parse_form(settings, {**form, "present": [QM], "present_other": "王芳", "a1_title": "高峰排班",
                               "a1_due": "2026-12-15", "a1_item": "3"}, {1, 2, 3}, "zh_CN")
    assert ok.attendees == [QM, CS_MANAGER] and ok.notes == {3: {"discussion": "接通率下降", "decision": ""}}
    assert [(a.title, a.owner, a.due_on, a.department, a.item) for a in ok.actions] == [
        ("高峰排班", QM, date(2026, 12, 15), "CS", 3)]  # the empty second row is no row


# -- in Chromium ----------------------------------------------------------------------------------------


@VIEWPORTS
def test_quality_manager_records_the_minutes_in_the_browser(workspace, browser, smtp_server, viewport,  # noqa: F811
                                                            request):
    settings, base = workspace
    held_meeting(settings)
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    size = request.node.callspec.id.split("-")[-1]
    try:
        sign_in(page, base, smtp_server, QM)
        page.click("#nav-meetings")
        page.click(f"#meetings a[href='/app/meetings/{PERIOD}']")
        page.wait_for_selector("#form-minutes")
        assert page.locator("#agenda > li").count() == 7
        # nobody ticked, an action item without a deadline: refused, naming the fields, what was typed kept
        page.fill("#discussion_3", "客服部接通率连续下降")
        page.fill("#a1_title", "高峰时段排班优化")
        page.select_option("#a1_owner", CS_MANAGER)
        page.click("#save-minutes")
        page.wait_for_selector("#errors")
        errors = page.inner_text("#errors")
        assert "出席人员" in errors and "行动项 1 · 期限" in errors
        assert page.input_value("#discussion_3") == "客服部接通率连续下降"
        assert page.input_value("#a1_title") == "高峰时段排班优化"
        page.check("#present-1")
        page.check("#present-2")
        page.fill("#decision_3", "高峰时段增加坐席")
        page.fill("#a1_due", "2026-12-15")
        page.select_option("#a1_item", "3")
        shot(page, f"meeting-minutes-{size}")
        page.click("#save-minutes")
        page.wait_for_selector("#meeting-actions tr[data-ref]")
        assert "高峰时段排班优化" in page.inner_text("#meeting-actions")
        assert "高峰时段增加坐席" in page.inner_text("#agenda")
        assert page.inner_text("#status") == "纪要已记录"
        shot(page, f"meeting-{size}")
        # saving the same minutes again opens nothing twice
        page.click("#save-minutes")
        page.wait_for_selector("#meeting-actions tr[data-ref]")
        with UnitOfWork(settings.database_url) as uow:
            actions = uow.session.scalars(select(Action).where(Action.source == "quality_meeting")).all()
            assert [(a.title, a.owner, a.due_on) for a in actions] == [("高峰时段排班优化", CS_MANAGER,
                                                                       date(2026, 12, 15))]
            entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "quality_meeting",
                                                                 AuditEntry.action == "transition:record_minutes")).one()
            assert entry.actor == QM  # the signed-in person
            assert uow.session.scalars(select(OutboxMessage).where(
                OutboxMessage.recipient == CS_MANAGER, OutboxMessage.object.like("%minutes%"))).first()
        # a participant reads the minutes but gets no form, and a forged POST is refused
        page.click("#logout")
        sign_in(page, base, smtp_server, CS_MANAGER)
        page.goto(f"{base}/app/meetings/{PERIOD}")
        assert page.locator("#agenda").is_visible() and page.locator("#form-minutes").count() == 0
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        forged = page.request.post(f"{base}/app/meetings/{PERIOD}/minutes",
                                   form={"csrf_token": token, "present": CS_MANAGER})
        assert forged.status == 403
        without = page.request.post(f"{base}/app/meetings/{PERIOD}/minutes", form={"present": CS_MANAGER})
        assert without.status == 403
    finally:
        context.close()


@VIEWPORTS
def test_staff_suggestion_is_evaluated_in_the_browser(workspace, browser, smtp_server, viewport,  # noqa: F811
                                                      request):
    settings, base = workspace
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    size = request.node.callspec.id.split("-")[-1]
    try:
        sign_in(page, base, smtp_server, CS_MANAGER)
        page.click("#nav-suggestions")
        page.click("#submit-suggestion")  # nothing written
        page.wait_for_selector("#error-text")
        assert "建议内容" in page.inner_text("#error-text")
        page.fill("#text", "热线高峰时段增加<b>回拨</b>功能")
        page.select_option("#department", "CS")
        page.click("#submit-suggestion")
        page.wait_for_selector("#status")
        assert page.inner_text("#status") == "待评估" and "<b>回拨</b>" in page.inner_text("#text")
        ref = page.url.rsplit("/", 1)[1]
        assert page.locator("#form-evaluate").count() == 0  # the submitter does not evaluate
        page.goto(f"{base}/app/suggestions")
        assert "待评估" in page.inner_text(f"#mine tr[data-ref='{ref}']")
        shot(page, f"suggestions-{size}")
        page.click("#logout")
        sign_in(page, base, smtp_server, QM)
        page.goto(f"{base}/app/suggestions")
        page.click(f"#queue tr[data-ref='{ref}'] a")
        page.check("#decision-accept")
        page.click("#evaluate")  # no reason
        page.wait_for_selector("#error-reason")
        assert "理由" in page.inner_text("#error-reason")
        page.fill("#reason", "可行，纳入下月改进")
        page.fill("#due_on", "2026-12-31")
        page.click("#evaluate")
        page.wait_for_selector("#action")
        assert page.inner_text("#status") == "已采纳"
        shot(page, f"suggestion-{size}")
        with UnitOfWork(settings.database_url) as uow:
            row = uow.session.scalars(select(Suggestion)).one()
            action = uow.session.get(Action, row.action_id)
            assert (row.status, row.evaluated_by, row.created_by) == ("accepted", QM, CS_MANAGER)
            assert (action.department, action.owner, action.due_on) == ("CS", CS_MANAGER, date(2026, 12, 31))
            actors = {e.action: e.actor for e in uow.session.scalars(select(AuditEntry).where(
                AuditEntry.entity == "suggestion"))}
            assert actors == {"create": CS_MANAGER, "transition:accept": QM}
            told = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == CS_MANAGER,
                                                                   OutboxMessage.object.like("outcome:%"))).all()
            assert len(told) == 1
        # another member of staff cannot see it
        page.click("#logout")
        sign_in(page, base, smtp_server, "liu.yang@example.com")
        assert page.request.get(f"{base}/app/suggestions/{ref}").status == 403
    finally:
        context.close()


# -- inspection evidence files and compliments (issue 15) -------------------------------------------------------

INSPECTOR = "zheng.yu@example.com"  # OPS, internal auditor
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


def recorded_inspection(settings) -> str:
    from sqms.calendar import utcnow
    from sqms.monitoring.service import ItemResult, NewInspection, record_inspection

    with UnitOfWork(settings.database_url, actor=INSPECTOR) as uow:
        row, _ = record_inspection(uow.session, settings, NewInspection(
            "INS-T-1", "service-counter", "CS", INSPECTOR, utcnow(), [ItemResult("ENV-1", 5.0)]), actor=INSPECTOR)
        uow.commit()
        return row.inspection_id


def test_inspection_evidence_is_checked_kept_by_checksum_and_linked_to_its_item(org, tmp_path):
    import hashlib

    from sqms.evidence import evidence_path
    from sqms.monitoring.models import Inspection
    from sqms.monitoring.service import (
        InspectionError,
        add_inspection_evidence,
        inspection_evidence_of,
        read_inspection_evidence,
    )
    from tests.conftest import make_settings

    settings = make_settings(org.database_url, tmp_path, web={"base_url": "http://x", "evidence_dir": tmp_path / "ev",
                                                              "evidence_max_bytes": 4000})
    ident = recorded_inspection(settings)
    with UnitOfWork(settings.database_url) as uow:
        inspection = uow.session.get(Inspection, ident)
        row = add_inspection_evidence(uow.session, settings, inspection, item="ENV-1", filename="C:\\相机\\大厅.jpg",
                                      data=JPEG, actor=INSPECTOR)
        assert (row.filename, row.item, row.sha256) == ("大厅.jpg", "ENV-1", hashlib.sha256(JPEG).hexdigest())
        assert evidence_path(settings, row.sha256).is_relative_to(tmp_path / "ev")  # a generated name, not theirs
        assert read_inspection_evidence(settings, row) == JPEG
        for item, name, data in [("ENV-1", "big.jpg", b"\xff\xd8\xff" + b"x" * 4000), ("ENV-1", "x.html", b"<p>"),
                                 ("ENV-1", "fake.jpg", b"<svg onload=alert(1)>"), ("NOPE", "a.jpg", JPEG)]:
            with pytest.raises(InspectionError):
                add_inspection_evidence(uow.session, settings, inspection, item=item, filename=name, data=data,
                                        actor=INSPECTOR)
        uow.commit()
    with UnitOfWork(settings.database_url) as uow:
        inspection = uow.session.get(Inspection, ident)
        assert [e.filename for e in inspection_evidence_of(uow.session, inspection)] == ["大厅.jpg"]
        assert inspection.items[0].evidence == ["大厅.jpg"]
        entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "inspection",
                                                             AuditEntry.action == "evidence")).one()
        assert entry.actor == INSPECTOR and entry.after["sha256"] == row.sha256
        assert perm.inspection_evidence(person(settings, INSPECTOR), inspection, settings, {})
        assert not perm.inspection_evidence(person(settings, CS_MANAGER), inspection, settings, {})  # sees only


@VIEWPORTS
def test_inspection_evidence_uploaded_on_the_phone_downloads_intact(workspace, browser, smtp_server,  # noqa: F811
                                                                    viewport, request):
    settings, base = workspace
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    size = request.node.callspec.id.split("-")[-1]
    try:
        sign_in(page, base, smtp_server, INSPECTOR)
        page.goto(f"{base}/app/inspections/new")
        page.select_option("#department", "CS")
        page.check("#r_PROC-3_fail")
        page.set_input_files("#f_PROC-3", files=[{"name": "收费现场.html", "mimeType": "text/html",
                                                  "buffer": b"<script>alert(1)</script>"}])
        page.click("#record")
        page.wait_for_selector("#error")  # a wrong type is refused, nothing recorded
        assert "收费现场.html" in page.inner_text("#error") and "类型不允许" in page.inner_text("#error")
        page.check("#r_PROC-3_fail")
        page.set_input_files("#f_PROC-3", files=[{"name": "收费现场.jpg", "mimeType": "image/jpeg", "buffer": JPEG}])
        page.click("#record")  # the photo is the evidence the failed item requires
        page.wait_for_selector("#evidence a")
        shot(page, f"inspection-evidence-{size}")
        link = page.locator("#evidence a").first
        assert link.inner_text() == "收费现场.jpg"
        download = page.request.get(base + link.get_attribute("href"))
        assert download.status == 200 and download.body() == JPEG
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        # a second file afterwards, for the whole visit; an oversized one is refused
        page.set_input_files("#file", files=[{"name": "记录.pdf", "mimeType": "application/pdf",
                                              "buffer": b"%PDF-1.4\n" + b"x" * 100}])
        page.click("#upload")
        page.wait_for_selector("#evidence li:nth-child(2)")
        big = b"%PDF-1.4\n" + b"x" * settings.web.evidence_max_bytes
        page.set_input_files("#file", files=[{"name": "big.pdf", "mimeType": "application/pdf", "buffer": big}])
        page.click("#upload")
        page.wait_for_selector("#error")
        assert "big.pdf" in page.inner_text("#error") and page.locator("#evidence li").count() == 2
        href = base + link.get_attribute("href")
        with UnitOfWork(settings.database_url) as uow:
            from sqms.monitoring.models import Inspection

            row = uow.session.scalars(select(Inspection)).one()
            assert row.items[[i.item for i in row.items].index("PROC-3")].evidence == ["收费现场.jpg"]
        # the inspected department's manager may download; another department's may not
        page.click("#logout")
        sign_in(page, base, smtp_server, "liu.yang@example.com")
        assert page.request.get(href).status == 403
        page.click("#logout")
        sign_in(page, base, smtp_server, CS_MANAGER)
        assert page.request.get(href).body() == JPEG
    finally:
        context.close()


@VIEWPORTS
def test_department_manager_records_a_compliment(workspace, browser, smtp_server, viewport, request):  # noqa: F811
    from sqms.monitoring.models import Compliment, Staff

    settings, base = workspace
    with UnitOfWork(settings.database_url, actor="test") as uow:
        uow.session.add_all([Staff(staff_id="CS001", name="周敏", department="CS"),
                             Staff(staff_id="OPS001", name="马军", department="OPS")])
        uow.commit()
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    size = request.node.callspec.id.split("-")[-1]
    try:
        sign_in(page, base, smtp_server, CS_MANAGER)
        page.click("#nav-compliments")
        assert [o.get_attribute("value") for o in page.locator("#department option").all()] == ["CS"]
        assert "OPS001" not in page.inner_text("#staff_id")  # their own department's people only
        page.select_option("#staff_id", "CS001")
        page.fill("#received_at", "yesterday")
        page.click("#record-compliment")
        page.wait_for_selector("#errors")
        assert "收到时间" in page.inner_text("#error-received_at") and "表扬内容" in page.inner_text("#error-description")
        page.fill("#received_at", "2026-11-20T10:15")
        page.fill("#description", "快递员周敏主动帮忙搬运<i>大件</i>")
        page.click("#record-compliment")
        page.wait_for_selector("#saved")
        assert "<i>大件</i>" in page.locator("#compliments").text_content()  # escaped (hidden column on a phone)
        shot(page, f"compliments-{size}")
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        other = page.request.post(f"{base}/app/compliments", form={"csrf_token": token, "department": "OPS",
                                                                   "description": "x"})
        assert other.status == 403  # not their department
        with UnitOfWork(settings.database_url) as uow:
            row = uow.session.scalars(select(Compliment)).one()
            assert (row.department, row.staff_id, row.description) == ("CS", "CS001", "快递员周敏主动帮忙搬运<i>大件</i>")
            entry = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity == "compliment")).one()
            assert entry.actor == CS_MANAGER
    finally:
        context.close()
