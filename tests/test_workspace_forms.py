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
