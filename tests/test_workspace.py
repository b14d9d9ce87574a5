"""The staff workspace (/app/): sign-in by mailed link, sessions, CSRF, roles, 我的待办 and the
complaint page, as rules (SQLite and PostgreSQL) and in a real Chromium against a real server."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.auth.service import RateLimited, claim_link, request_link, sign
from sqms.complaints.service import Step, advance, get, register
from sqms.db import UnitOfWork
from sqms.notify.models import OutboxMessage
from sqms.org.service import sync_organisation
from sqms.reminders.service import collect, waiting_on
from sqms.tokens import TokenError
from sqms.web import permissions as perm
from sqms.web.links import item_path
from sqms.web.workspace import session_state
from tests.conftest import ARTIFACTS, make_settings

CS_MANAGER, OPS_MANAGER, GM, QM = ("wang.fang@example.com", "liu.yang@example.com", "zhang.wei@example.com",
                                   "li.na@example.com")


def person(settings, email):
    return next(p for p in settings.people if p.email == email)


def new_complaint(settings, department="CS", severity="normal", steps=("acknowledge",), hours_ago=2):
    with UnitOfWork(settings.database_url, actor="li.na@example.com") as uow:
        c = register(uow.session, settings, received_at=datetime.now(UTC) - timedelta(hours=hours_ago),
                     department=department, channel="phone", severity=severity, category="收费",
                     description="多收了费用")
        for step in steps:
            advance(uow.session, settings, c, step)
        uow.commit()
        return c.complaint_id


# -- rules (both databases) ---------------------------------------------------------------------------


def test_who_may_do_what_on_a_complaint(org):
    ident = new_complaint(org, severity="special", steps=("acknowledge", "investigate"))
    with UnitOfWork(org.database_url) as uow:
        c = get(uow.session, ident)
        c.solution = "退款"
        c.status = "solution_proposed"

        def moves(email):
            return perm.complaint_moves(person(org, email), c, org)

        def sees(email):
            return perm.complaint_view(person(org, email), c, org, {})

        assert moves(CS_MANAGER) == ["approve", "send_back", "resolve"]  # their department; approves as today's --by
        assert moves(OPS_MANAGER) == [] and not sees(OPS_MANAGER)
        assert moves(GM) == ["approve", "send_back"] and sees(GM)  # top management: reads all, approves specials
        assert moves(QM) == ["resolve"] and sees(QM)  # quality manager: everything but the approval
        assert not sees("zheng.yu@example.com")  # an auditor of another department
        assert perm.complaint_move(person(org, OPS_MANAGER), c, org, {"action": "resolve"}) is False


def test_sign_in_link_is_single_use_expires_and_is_rate_limited(settings):
    now = datetime.now(UTC)
    with UnitOfWork(settings.database_url) as uow:
        assert request_link(uow.session, settings, "Wang.Fang@example.com ", "10.0.0.1", now=now)
        assert not request_link(uow.session, settings, "nobody@example.com", "10.0.0.1", now=now)  # no mail
        uow.commit()
        mails = list(uow.session.scalars(select(OutboxMessage)))
    assert [m.recipient for m in mails] == [CS_MANAGER]
    token = re.search(r"/app/login/([A-Za-z0-9_-]+)", mails[0].body_text).group(1)
    with UnitOfWork(settings.database_url) as uow:  # only the hash is stored
        assert token not in str([tuple(r) for r in uow.session.execute(select(OutboxMessage.key))])
        from sqms.tokens import AccessToken
        assert all(token != r.token_hash for r in uow.session.scalars(select(AccessToken)))

    with UnitOfWork(settings.database_url) as uow:
        with pytest.raises(TokenError) as expired:  # 15 minutes
            claim_link(uow.session, settings, token, now=now + timedelta(minutes=16))
        assert expired.value.reason == "expired"
        assert claim_link(uow.session, settings, token, now=now + timedelta(minutes=1)).email == CS_MANAGER
        uow.commit()
    with UnitOfWork(settings.database_url) as uow:
        with pytest.raises(TokenError) as used:
            claim_link(uow.session, settings, token)
        assert used.value.reason == "used"

    with UnitOfWork(settings.database_url) as uow:  # 5 per address, 20 per client, in 15 minutes
        for i in range(4):  # the fifth (one above)
            request_link(uow.session, settings, "nobody@example.com", f"10.0.1.{i}", now=now)
        with pytest.raises(RateLimited):
            request_link(uow.session, settings, "NOBODY@example.com", "10.0.2.1", now=now)
        assert request_link(uow.session, settings, "nobody@example.com", "10.0.2.1", now=now + timedelta(minutes=20)) \
            is False
        for i in range(20):
            request_link(uow.session, settings, f"x{i}@example.com", "10.9.9.9", now=now)
        with pytest.raises(RateLimited):
            request_link(uow.session, settings, "wang.fang@example.com", "10.9.9.9", now=now)


def test_my_tasks_uses_the_reminder_stages(org):
    ident = new_complaint(org, steps=(), hours_ago=24 * 12)  # overdue: settle-by long past
    mine = new_complaint(org, department="OPS", steps=("acknowledge",))
    with UnitOfWork(org.database_url) as uow:
        now = datetime.now(UTC)
        items = collect(uow.session, org, now)
        today = now.astimezone(org.tz).date()
        rows = waiting_on(items, org, today, CS_MANAGER)
        assert {(w.item.kind, w.item.item_id) for w in rows} == {("complaint-contact", ident), ("complaint", ident)}
        assert {w.stage for w in rows} == {"overdue"}
        qm_rows = waiting_on(items, org, today, QM)  # escalated after 3 working days late
        assert any(w.stage == "escalated-3" and w.item.item_id == ident for w in qm_rows)
        ops = waiting_on(items, org, today, OPS_MANAGER)
        assert [w.item.item_id for w in ops] == [mine] and ops[0].stage.startswith("due-")
    assert item_path("complaint-contact", ident) == f"/app/complaints/{ident}"
    assert item_path("review-report", "2026-review:CS") == "/app/reviews/2026"


def test_session_cookie_is_signed_and_times_out():
    key = b"k" * 32
    cookie = sign({"e": CS_MANAGER, "c": "tok", "t": 1000}, key)
    assert session_state(cookie, key, 1000 + 59 * 60, 60)["e"] == CS_MANAGER
    assert "e" not in session_state(cookie, key, 1000 + 61 * 60, 60)  # idle too long
    assert "e" not in session_state(cookie, b"other" * 8, 1000, 60)  # not signed by us
    tampered = sign({"e": GM, "c": "tok", "t": 1000}, key).split(".")[0] + "." + cookie.split(".")[1]
    assert "e" not in session_state(tampered, key, 1000, 60)


# -- in Chromium, against a real `sqms web` ------------------------------------------------------------


@pytest.fixture
def workspace(db_url, sqms_env, smtp_server, tmp_path):
    """`sqms web` on loopback over the parametrised database; mail to the test SMTP server."""
    import uvicorn

    from sqms.web.app import create_app
    from tests.smtp import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = sqms_env(db_url, SQMS_WEB__BASE_URL=base, SQMS_WEB__SECRET_KEY_FILE=str(tmp_path / "key"),
                        **smtp_server.env())
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    yield settings, base
    server.should_exit = True
    thread.join(timeout=10)


def mailed_link(smtp_server, email: str, count: int) -> str:
    """The sign-in link in the `count`-th mail to `email` (delivered right after the form's answer)."""
    deadline = time.monotonic() + 30
    while True:
        mails = [m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == email]
        if len(mails) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(mails) >= count, f"no sign-in mail to {email}"
    text = mails[count - 1].get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+/app/login/[A-Za-z0-9_-]+", text).group(0)


def sign_in(page, base, smtp_server, email, count=1):
    page.goto(f"{base}/app/login")
    page.fill("#email", email)
    page.click("#send-link")
    page.wait_for_selector("#sent")
    link = mailed_link(smtp_server, email, count)
    page.goto(link)
    page.click("#sign-in")
    page.wait_for_selector("#whoami")
    return link


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"workspace-{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_department_manager_resolves_a_complaint_in_the_browser(workspace, browser, smtp_server, viewport, request,
                                                                caplog):
    settings, base = workspace
    ident = new_complaint(settings)
    other = new_complaint(settings, department="OPS")
    tag = f"{request.node.callspec.id}".replace("[", "-").replace("]", "")
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        assert page.goto(f"{base}/app/").url.startswith(f"{base}/app/login")  # not signed in: the form
        link = sign_in(page, base, smtp_server, CS_MANAGER)
        assert ident in page.inner_text("#tasks") and other not in page.inner_text("main")
        shot(page, f"my-tasks-{tag}")
        page.click(f"a[href='/app/complaints/{ident}']")
        page.wait_for_selector("#moves")
        assert page.locator("form.step").count() == 1  # acknowledged: only "investigate"
        page.click("#do-investigate")
        page.fill("#solution", "退还多收的 30 元")
        page.click("#do-propose")
        page.fill("#answer", "已退还多收的 30 元")
        page.click("#do-resolve")
        page.wait_for_selector("#form-reopen")
        assert page.inner_text("#status") in ("已答复", "resolved")
        shot(page, f"complaint-{tag}")
        history = page.inner_text("#history")
        assert history.count(CS_MANAGER) == 3 and "transition:resolve" in history
        c = get_complaint(settings, ident)
        assert (c.status, c.answer) == ("resolved", "已退还多收的 30 元") and c.resolved_at is not None
        with UnitOfWork(settings.database_url) as uow:
            actors = {e.actor for e in uow.session.scalars(select(AuditEntry).where(
                AuditEntry.entity_id == ident, AuditEntry.action == "transition:resolve"))}
        assert actors == {CS_MANAGER}
        # and the KPIs count it as settled
        from sqms.records.service import compute_and_store
        with UnitOfWork(settings.database_url) as uow:
            period = c.received_at.astimezone(settings.tz).strftime("%Y-%m")
            kpis = {(v.department, v.kpi): v for v in compute_and_store(uow.session, settings, period).values}
        assert kpis[("CS", "complaint_closure_pct")].value == 100.0

        denied = page.goto(f"{base}/app/complaints/{other}")  # another department's: 403, not 404
        assert denied.status == 403 and page.locator("#forbidden").is_visible()
        assert f"forbidden: {CS_MANAGER} GET /app/complaints/{other}" in caplog.text  # the attempt is logged
        assert page.goto(f"{base}/app/complaints/CP-NONE").status == 404
        shot(page, f"forbidden-{tag}")

        # a POST without the CSRF token changes nothing
        response = page.request.post(f"{base}/app/complaints/{ident}/reopen", form={"comment": "x"})
        assert response.status == 403
        forged = page.request.post(f"{base}/app/complaints/{ident}/reopen", form={"comment": "x",
                                                                                  "csrf_token": "forged"})
        assert forged.status == 403
        # someone else's complaint, even with the token
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert page.request.post(f"{base}/app/complaints/{other}/investigate",
                                 form={"csrf_token": token}).status == 403
        assert get_complaint(settings, ident).status == "resolved"
        assert get_complaint(settings, other).status == "acknowledged"

        assert page.goto(link).status == 410 and "已使用" in page.inner_text("#link-refused")  # used up
        page.goto(f"{base}/app/")
        page.click("#logout")
        page.wait_for_selector("#send-link")
        assert page.goto(f"{base}/app/complaints/{ident}").url.startswith(f"{base}/app/login")
    finally:
        context.close()


def test_expired_link_and_unknown_address(workspace, browser, smtp_server):
    settings, base = workspace
    page = browser.new_page()
    try:
        page.goto(f"{base}/app/login")
        page.fill("#email", "stranger@example.net")
        page.click("#send-link")
        same_answer = page.inner_text("#sent")
        page.fill("#email", GM)
        page.click("#send-link")
        assert page.inner_text("#sent") == same_answer  # no account enumeration
        link = mailed_link(smtp_server, GM, 1)
        assert "stranger@example.net" not in smtp_server.recipients()
        from sqms.tokens import AccessToken
        with UnitOfWork(settings.database_url) as uow:  # 16 minutes later
            for row in uow.session.scalars(select(AccessToken).where(AccessToken.purpose == "sign-in")):
                row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
            uow.commit()
        assert page.goto(link).status == 410 and "过期" in page.inner_text("#link-refused")
        assert page.goto(f"{base}/app/login/not-a-token").status == 404
    finally:
        page.close()


def get_complaint(settings, ident):
    with UnitOfWork(settings.database_url) as uow:
        return get(uow.session, ident)



# -- actions, PDCA and the general manager's approval -------------------------------------------------


def new_action(settings, department="CS", owner=None):
    from sqms.actions.service import NewAction, open_action

    with UnitOfWork(settings.database_url, actor=QM) as uow:
        a = open_action(uow.session, settings, NewAction(source="manual", type="corrective", title="重复收费投诉",
                                                         department=department, owner=owner, problem="同类投诉 3 件"))
        uow.commit()
        return a.ref


def new_cycle(settings, department="CS"):
    from sqms.improvement.models import ImprovementCycle

    with UnitOfWork(settings.database_url, actor="sqms:pdca") as uow:
        cycle = ImprovementCycle(department=department, kpi="fcr_pct", status="plan", iteration=1,
                                 owner=CS_MANAGER, opened_period="2026-10", reason="2 个月未达标", baseline=61.0,
                                 target=75.0, history=[], created_at=datetime.now(UTC))
        uow.session.add(cycle)
        uow.commit()
        return cycle.ref


def test_who_may_work_on_and_verify_an_action(org):
    from sqms.actions.service import get as get_action

    ref = new_action(org)
    with UnitOfWork(org.database_url) as uow:
        a = get_action(uow.session, ref)
        assert perm.action_moves(person(org, CS_MANAGER), a, org) == ["start", "complete"]
        assert not perm.action_view(person(org, OPS_MANAGER), a, org, {})
        assert perm.action_view(person(org, GM), a, org, {}) and not perm.action_work(person(org, GM), a, org, {})
        a.status = "done"
        assert perm.action_moves(person(org, CS_MANAGER), a, org) == []  # the owner never verifies
        assert perm.action_moves(person(org, QM), a, org) == ["verify", "reject"]
        auditor = person(org, "zheng.yu@example.com")
        assert perm.action_moves(auditor, a, org) == []
        a.source = "audit_finding"  # an auditor verifies a nonconformity's action
        assert perm.action_moves(auditor, a, org) == ["verify", "reject"]


def test_evidence_is_size_and_type_limited_and_kept_by_checksum(org, tmp_path):
    import hashlib

    from sqms.actions.service import (
        ActionError,
        add_evidence,
        evidence_path,
        read_evidence,
    )
    from sqms.actions.service import get as get_action

    settings = make_settings(org.database_url, tmp_path, web={"base_url": "http://x", "evidence_dir": tmp_path / "ev",
                                                              "evidence_max_bytes": 1000})
    ref = new_action(settings)
    pdf = b"%PDF-1.4\n" + b"x" * 500
    with UnitOfWork(settings.database_url) as uow:
        a = get_action(uow.session, ref)
        row = add_evidence(uow.session, settings, a, filename="../../etc/整改记录.pdf", data=pdf, actor=CS_MANAGER)
        assert row.filename == "整改记录.pdf" and row.sha256 == hashlib.sha256(pdf).hexdigest()
        assert evidence_path(settings, row.sha256).parent.parent == tmp_path / "ev"
        assert read_evidence(settings, row) == pdf
        for name, data in [("big.pdf", b"%PDF-" + b"x" * 1000), ("run.exe", b"MZ"), ("fake.pdf", b"<html>"),
                           ("fake.png", b"%PDF-1.4")]:
            with pytest.raises(ActionError):
                add_evidence(uow.session, settings, a, filename=name, data=data, actor=CS_MANAGER)


def test_a_special_complaint_is_sent_back_with_a_reason(org):
    from sqms.complaints.service import ComplaintError

    ident = new_complaint(org, severity="special", steps=("acknowledge", "investigate"))
    with UnitOfWork(org.database_url) as uow:
        c = get(uow.session, ident)
        advance(uow.session, org, c, "propose", Step(solution="赔偿 100 元"))
        with pytest.raises(ComplaintError, match="reason"):
            advance(uow.session, org, c, "send_back", Step(approver=GM), actor=GM)
        with pytest.raises(ComplaintError, match="not the manager"):
            advance(uow.session, org, c, "send_back", Step(approver=OPS_MANAGER), comment="x", actor=OPS_MANAGER)
        advance(uow.session, org, c, "send_back", Step(approver=GM), actor=GM, comment="赔偿标准不符合规定")
        assert c.status == "investigating"


def test_actions_pdca_and_approval_in_the_browser(workspace, browser, smtp_server, tmp_path, db_url):
    import hashlib

    settings, base = workspace
    ref = new_action(settings)
    cycle = new_cycle(settings)
    special = new_complaint(settings, severity="special", steps=("acknowledge", "investigate"))
    with UnitOfWork(settings.database_url, actor=CS_MANAGER) as uow:
        advance(uow.session, settings, get(uow.session, special), "propose", Step(solution="赔偿 100 元"))
        uow.commit()
    tag = db_url.split(":")[0].split("+")[0]
    manager = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = manager.new_page()
    try:
        sign_in(page, base, smtp_server, CS_MANAGER)
        assert ref in page.inner_text("#tasks")
        page.goto(f"{base}/app/actions/{ref}")
        for i, why in enumerate(["重复扣费", "系统未校验", "规则缺失"], start=1):
            page.fill(f"#why{i}", why)
        page.fill("#root_cause", "计费规则缺少重复校验")
        page.fill("#measures", "增加校验并退款")
        page.click("#save-analysis")
        page.wait_for_selector("#form-evidence")
        assert page.input_value("#root_cause") == "计费规则缺少重复校验"

        evidence = tmp_path / "整改记录.pdf"
        evidence.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
        page.set_input_files("#file", str(evidence))
        page.click("#upload")
        page.wait_for_selector("#evidence a")
        with page.expect_download() as info:
            page.click("#evidence a")
        got = info.value.path().read_bytes()
        assert hashlib.sha256(got).digest() == hashlib.sha256(evidence.read_bytes()).digest()

        wrong = tmp_path / "script.html"
        wrong.write_text("<script>alert(1)</script>")
        page.set_input_files("#file", str(wrong))
        page.click("#upload")
        page.wait_for_selector("#error")
        assert "script.html" in page.inner_text("#error")
        big = tmp_path / "big.pdf"
        big.write_bytes(b"%PDF-1.4\n" + b"0" * settings.web.evidence_max_bytes)
        page.set_input_files("#file", str(big))
        page.click("#upload")
        page.wait_for_selector("#error:has-text('big.pdf')")
        assert "超过 10 MB" in page.inner_text("#error")  # in the form's language (zh_CN)
        assert page.locator("#evidence a").count() == 1

        page.fill("#note", "已退款 12 户")
        page.click("#add-note")
        page.click("#do-complete")
        page.wait_for_selector("#status")
        assert page.inner_text("#status") == "已完成待验证" and page.locator("#moves").count() == 0
        shot(page, f"action-{tag}")

        page.goto(f"{base}/app/pdca/{cycle}")
        page.fill("#root_cause", "首次解决依赖个人经验")
        page.fill("#action_title", "编写常见问题处理指引")
        page.click("#save-plan")
        page.wait_for_selector("#actions a")
        page.click("#do-start")
        page.wait_for_selector("#status")
        assert page.inner_text("#status") == "实施 D"
        shot(page, f"pdca-{tag}")
        assert page.goto(f"{base}/app/complaints/{special}").status == 200  # their department: approve too
        assert page.locator("#do-approve").count() == 1
    finally:
        manager.close()

    gm = browser.new_context(viewport={"width": 1280, "height": 900})
    page = gm.new_page()
    try:
        sign_in(page, base, smtp_server, GM)
        page.goto(f"{base}/app/complaints/{special}")
        assert page.locator("form.step").count() == 2  # approve, send back; nothing else
        page.click("#do-send_back")  # a reason is required: the browser keeps the form
        page.fill("#comment-send_back", "赔偿标准不符合规定")
        page.click("#do-send_back")
        page.wait_for_selector("#status")
        assert page.inner_text("#status") == "调查中" and page.locator("#moves").count() == 0
        with UnitOfWork(settings.database_url, actor=CS_MANAGER) as uow:
            advance(uow.session, settings, get(uow.session, special), "propose", Step(solution="赔偿 50 元"))
            uow.commit()
        page.goto(f"{base}/app/complaints/{special}")
        page.click("#do-approve")
        page.wait_for_selector("#status")
        assert page.inner_text("#status") == "方案已批准"
        assert "zhang.wei@example.com" in page.inner_text("dl")  # approved by
        shot(page, f"approval-{tag}")
        c = get_complaint(settings, special)
        assert (c.status, c.approved_by) == ("approved", GM)
        with UnitOfWork(settings.database_url) as uow:
            entries = [(e.action, e.actor, e.comment) for e in uow.session.scalars(
                select(AuditEntry).where(AuditEntry.entity_id == special).order_by(AuditEntry.id))]
        assert ("transition:send_back", GM, "赔偿标准不符合规定") in entries
        assert ("transition:approve", GM, None) in entries
        assert page.goto(f"{base}/app/actions/{ref}").status == 200  # reads everything
        assert page.locator("#form-analysis").count() == 0 and page.locator("#moves").count() == 0
    finally:
        gm.close()


# -- audits, reviews, surveys, reports, the dashboard ------------------------------------------------------


def open_audit(settings):
    from sqms.audits.service import open_cycle, slots_of

    with UnitOfWork(settings.database_url, actor=QM) as uow:
        cycle, _ = open_cycle(uow.session, settings, code="2026-H2")
        for slot in slots_of(uow.session, cycle):  # findings are recorded on or after the audit day
            slot.day = min(slot.day, date.today())
        slots = {s.department: s.auditor for s in slots_of(uow.session, cycle)}
        uow.commit()
        return cycle.code, slots


def test_review_outputs_are_decided_by_the_general_manager_only(org):
    from sqms.reviews.models import OUTPUTS_RECORDED
    from sqms.reviews.service import (
        ReviewError,
        decide_outputs,
        open_review,
        outputs_decision,
    )

    with UnitOfWork(org.database_url, actor=QM) as uow:
        review, _ = open_review(uow.session, org, year=2025)
        with pytest.raises(ReviewError, match="no recorded outputs"):
            decide_outputs(uow.session, org, review, by=GM, approve=True)
        review.status = OUTPUTS_RECORDED
        with pytest.raises(ReviewError, match="only the general manager"):
            decide_outputs(uow.session, org, review, by=QM, approve=True)
        with pytest.raises(ReviewError, match="reason"):
            decide_outputs(uow.session, org, review, by=GM, approve=False)
        decide_outputs(uow.session, org, review, by=GM, approve=False, reason="目标调整依据不足")
        decide_outputs(uow.session, org, review, by=GM, approve=True)
        decision = outputs_decision(uow.session, review)
        assert (decision.action, decision.actor) == ("outputs-approved", GM)


def test_auditor_review_and_dashboard_in_the_browser(workspace, browser, smtp_server, db_url):
    from sqms.audits.models import AuditFinding
    from sqms.reporting.models import GeneratedReport
    from sqms.reviews.models import OUTPUTS_RECORDED
    from sqms.reviews.service import open_review

    settings, base = workspace
    tag = db_url.split(":")[0].split("+")[0]
    code, slots = open_audit(settings)
    auditor = slots["CS"]
    assert person(settings, auditor).department != "CS"
    with UnitOfWork(settings.database_url, actor=QM) as uow:
        review, _ = open_review(uow.session, settings, year=2025)
        review.status = "requested"
        report_file = settings.reports_dir / "monthly" / "月报.xlsx"
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_bytes(b"PK\x03\x04 report")
        uow.session.add(GeneratedReport(kind="monthly", period="2026-10", version=1, created_at=datetime.now(UTC),
                                        actor="test", locale="zh_CN", files={"xlsx": str(report_file)},
                                        checksum="0" * 64, summary={}))
        uow.commit()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = phone.new_page()
    try:
        sign_in(page, base, smtp_server, auditor)
        page.goto(f"{base}/app/audits/{code}")
        page.click("#slots tr[data-department=CS] a >> nth=0")
        page.wait_for_selector("#form-findings")
        items = page.locator("select[id^=result-]")
        first, second = (items.nth(0).get_attribute("name")[7:], items.nth(1).get_attribute("name")[7:])
        page.select_option(f"#result-{first}", "conforming")
        page.select_option(f"#result-{second}", "minor")
        page.fill(f"#evidence-{second}", "抽查 10 单，2 单未在 24 小时内回访")
        shot(page, f"audit-findings-phone-{tag}")
        page.click("#save-findings")
        page.wait_for_selector("#form-findings")
        assert page.locator(f"#result-{second}").input_value() == "minor"  # saved, shown again
        with UnitOfWork(settings.database_url) as uow:
            found = {f.item_code: f for f in uow.session.scalars(select(AuditFinding))}
        assert found[second].result == "minor" and found[second].recorded_by == auditor
        assert found[second].action_id is not None  # a nonconformity opens a corrective action
        other = next(d for d, a in slots.items() if a != auditor and d != person(settings, auditor).department)
        assert page.request.post(f"{base}/app/audits/{code}/{other}", form={
            "csrf_token": page.locator("input[name=csrf_token]").first.get_attribute("value"),
            f"result-{first}": "major"}).status == 403
        assert page.goto(f"{base}/app/dashboard").status == 403
    finally:
        phone.close()

    manager = browser.new_context(viewport={"width": 390, "height": 844})
    page = manager.new_page()
    try:
        sign_in(page, base, smtp_server, CS_MANAGER)
        page.goto(f"{base}/app/reviews/2025")
        assert page.locator("form[action$='/reports/OPS']").count() == 0  # only their department
        page.fill("#text-CS", "2025 年客服部投诉处理及时率 96%")
        page.click("#submit-CS")
        page.wait_for_selector("#report-CS .ok")
        shot(page, f"review-report-{tag}")
    finally:
        manager.close()

    with UnitOfWork(settings.database_url, actor=QM) as uow:
        from sqms.reviews.service import get as get_review
        get_review(uow.session, 2025).status = OUTPUTS_RECORDED
        uow.commit()
    gm = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = gm.new_page()
    try:
        sign_in(page, base, smtp_server, GM)
        page.goto(f"{base}/app/reviews/2025")
        page.click("#approve-outputs")
        page.wait_for_selector("#decision")
        assert GM in page.inner_text("#decision")
        page.goto(f"{base}/app/dashboard")
        assert page.locator("#no-kpis").count() == 1 and page.locator("#compute-kpis").count() == 0  # GM reads
        assert "monthly" in page.inner_text("#latest")
        page.goto(f"{base}/app/reports/")
        with page.expect_download() as info:
            page.click("#reports a")
        assert info.value.path().read_bytes() == b"PK\x03\x04 report"
    finally:
        gm.close()

    qm = browser.new_context(viewport={"width": 1280, "height": 900})
    page = qm.new_page()
    try:
        sign_in(page, base, smtp_server, QM)
        page.goto(f"{base}/app/dashboard")
        page.click("#open-review")  # 2025's exists already: its page
        page.wait_for_selector("#status")
        assert page.url.endswith("/app/reviews/2025")
        page.goto(f"{base}/app/dashboard")
        page.click("#compute-kpis")
        page.wait_for_selector("#kpis")
        from sqms.records.service import latest_computation, results_of
        with UnitOfWork(settings.database_url) as uow:
            period = datetime.now(settings.tz).strftime("%Y-%m")
            stored = results_of(latest_computation(uow.session, period))
        assert page.locator("#kpis tr").count() == len(stored) + 1  # the same rows `sqms kpi` prints
        assert CS_MANAGER in page.inner_text("#owners")  # the corrective action from the audit
        shot(page, f"dashboard-{tag}")
    finally:
        qm.close()


def test_registering_a_complaint_on_the_web(workspace, browser, smtp_server):
    settings, base = workspace
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        sign_in(page, base, smtp_server, CS_MANAGER)
        page.click("#nav-register")
        assert page.locator("#department option").all_inner_texts() == ["客服部"] or \
            page.locator("#department option").count() == 1  # a department manager: their own only
        page.fill("#category", "  ")
        page.fill("#description", "客户称等待 40 分钟")
        page.click("#register")
        page.wait_for_selector("#error")
        assert "请填写类别" in page.inner_text("#error")
        assert page.input_value("#description") == "客户称等待 40 分钟"  # what was typed is kept
        page.fill("#category", "等待时间")
        page.click("#register")
        page.wait_for_selector("#history")
        ident = page.url.rsplit("/", 1)[1]
        c = get_complaint(settings, ident)
        assert (c.department, c.category, c.status) == ("CS", "等待时间", "registered")
        with UnitOfWork(settings.database_url) as uow:
            creator = uow.session.scalars(select(AuditEntry.actor).where(AuditEntry.entity_id == ident,
                                                                          AuditEntry.action == "create")).one()
        assert creator == CS_MANAGER
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        page.goto(f"{base}/app/?lang=en")  # the chosen language stays for the session
        page.goto(f"{base}/app/complaints/{ident}")
        assert "History" in page.inner_text("main") and page.inner_text("#status") == "registered"
        refused = page.request.post(f"{base}/app/complaints/new", form={
            "csrf_token": token, "department": "OPS", "channel": "phone", "severity": "normal", "category": "x"})
        assert refused.status == 403
    finally:
        page.close()


def test_mails_about_an_item_link_to_its_page(org):
    from sqms.reminders.service import send_reminders

    ident = new_complaint(org, severity="special", steps=(), hours_ago=24 * 12)
    with UnitOfWork(org.database_url) as uow:
        today = datetime.now(UTC).astimezone(org.tz).date()
        while True:  # a working day, for the digest
            result = send_reminders(uow.session, org, today=today)
            if not result.skipped:
                break
            today -= timedelta(days=1)
        uow.commit()
        mails = list(uow.session.scalars(select(OutboxMessage)))
    page = f"{org.web.base_url}/app/complaints/{ident}"
    special = [m for m in mails if m.process == "complaints"]
    digests = [m for m in mails if m.process == "reminders"]
    assert special and all(page in m.body_text and f'href="{page}"' in m.body_html for m in special)
    assert digests and all(page in m.body_text and f'href="{page}"' in m.body_html for m in digests
                           if ident in m.body_text)
    assert any(ident in m.body_text for m in digests)


def test_two_simultaneous_claims_of_one_link_let_one_in(settings):
    from concurrent.futures import ThreadPoolExecutor

    now = datetime.now(UTC)
    with UnitOfWork(settings.database_url) as uow:
        request_link(uow.session, settings, CS_MANAGER, "10.0.0.1", now=now)
        uow.commit()
        body = uow.session.scalars(select(OutboxMessage.body_text)).one()
    token = re.search(r"/app/login/([A-Za-z0-9_-]+)", body).group(1)
    barrier = threading.Barrier(2)

    def claim(_):
        with UnitOfWork(settings.database_url) as uow:
            barrier.wait()
            try:
                claim_link(uow.session, settings, token)
                uow.commit()
                return "in"
            except TokenError as exc:
                return exc.reason

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(claim, range(2))) == ["in", "used"]


def test_the_dashboard_reads_each_process_last_run_from_the_prefect_api(prefect_harness):
    from prefect import flow
    from prefect.settings import PREFECT_API_URL

    from sqms.web.prefect_runs import last_runs

    @flow(name="workspace-probe")
    def probe() -> int:
        return 1

    probe()
    runs, error = last_runs(PREFECT_API_URL.value(), "http://ui.example")
    assert error is None
    mine = next(r for r in runs if r.flow == "workspace-probe")
    assert mine.state == "Completed" and mine.url.startswith("http://ui.example/runs/flow-run/")
    assert last_runs("http://127.0.0.1:9/api", timeout=0.5)[1]  # nothing listening: said, not raised


def test_dashboard_counts_open_items_per_owner_in_one_query_each(org):
    from sqms.actions.service import open_by_owner as actions_by_owner
    from sqms.complaints.service import open_by_owner as complaints_by_owner

    new_complaint(org, steps=(), hours_ago=24 * 20)  # long overdue, handled by the CS manager
    new_complaint(org, department="OPS")
    new_action(org)
    now = datetime.now(UTC)
    today = now.astimezone(org.tz).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=org.tz)
    with UnitOfWork(org.database_url) as uow:
        complaints = {row[0]: row[1:4] for row in complaints_by_owner(uow.session, org, start)}
        actions = {row[0]: row[1:4] for row in actions_by_owner(uow.session, org, today)}
    assert complaints == {CS_MANAGER: (1, 1, 1), OPS_MANAGER: (1, 0, 0)}
    assert actions == {CS_MANAGER: (1, 0, 0)}
