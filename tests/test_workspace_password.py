"""Issue 14's optional password (argon2id via argon2-cffi): set by a person signed in by link, then
used instead of a link; one answer for every failure, the sign-in limits, an older hash rehashed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from sqms.audit_trail import AuditEntry
from sqms.auth.models import StaffPassword
from sqms.auth.service import HASHER, PasswordError, RateLimited, check_password, clear_password, set_password
from sqms.db import UnitOfWork
from tests.test_rule_errors import CJK
from tests.test_workspace import CS_MANAGER, person, shot, sign_in, workspace  # noqa: F401  (the fixture)

SECRET = "长城 long enough 2026"


def test_a_password_is_stored_as_argon2id_and_checked(settings):
    manager = person(settings, CS_MANAGER)
    with UnitOfWork(settings.database_url) as uow:
        for typed, confirm, code in (("short", "short", "password.short"), (SECRET, SECRET + "x", "password.mismatch"),
                                     (CS_MANAGER, CS_MANAGER, "password.weak")):
            with pytest.raises(PasswordError) as refused:
                set_password(uow.session, manager, typed, confirm)
            assert refused.value.problems[0].code == code
        set_password(uow.session, manager, SECRET, SECRET)
        uow.commit()
    with UnitOfWork(settings.database_url) as uow:
        row = uow.session.get(StaffPassword, CS_MANAGER)
        assert row.hash.startswith("$argon2id$") and SECRET not in row.hash
        audit = uow.session.scalars(select(AuditEntry).where(AuditEntry.entity_id == CS_MANAGER)).one()
        assert (audit.action, audit.actor) == ("password-set", CS_MANAGER) and row.hash not in str(audit.after)
        assert check_password(uow.session, settings, " Wang.Fang@example.com", SECRET, "10.0.0.1").email == CS_MANAGER
        assert check_password(uow.session, settings, CS_MANAGER, SECRET + " ", "10.0.0.1") is None
        assert check_password(uow.session, settings, "nobody@example.com", SECRET, "10.0.0.1") is None
        assert check_password(uow.session, settings, "li.na@example.com", SECRET, "10.0.0.1") is None  # none set
        uow.commit()


def test_an_older_hash_still_signs_in_and_is_made_again(settings):
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)  # yesterday's parameters
    with UnitOfWork(settings.database_url) as uow:
        uow.session.add(StaffPassword(email=CS_MANAGER, hash=old.hash(SECRET), set_at=datetime.now(UTC)))
        uow.commit()
    with UnitOfWork(settings.database_url) as uow:
        before = uow.session.get(StaffPassword, CS_MANAGER).hash
        assert HASHER.check_needs_rehash(before)
        assert check_password(uow.session, settings, CS_MANAGER, SECRET, "10.0.0.2").email == CS_MANAGER
        uow.commit()
    with UnitOfWork(settings.database_url) as uow:
        after = uow.session.get(StaffPassword, CS_MANAGER).hash
        assert after != before and not HASHER.check_needs_rehash(after)
        assert check_password(uow.session, settings, CS_MANAGER, SECRET, "10.0.0.2") is not None
        clear_password(uow.session, person(settings, CS_MANAGER))
        assert check_password(uow.session, settings, CS_MANAGER, SECRET, "10.0.0.2") is None


def test_password_attempts_count_against_the_sign_in_limits(settings):
    with UnitOfWork(settings.database_url) as uow:
        for _ in range(settings.web.signin_attempts_per_address):
            assert check_password(uow.session, settings, CS_MANAGER, "guess-guess-guess", "10.0.3.1") is None
        with pytest.raises(RateLimited):
            check_password(uow.session, settings, CS_MANAGER, SECRET, "10.0.3.2")


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_set_a_password_and_sign_in_with_it(workspace, browser, smtp_server, viewport, request):  # noqa: F811
    settings, base = workspace
    tag = request.node.callspec.id.replace("[", "-").replace("]", "")
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        sign_in(page, base, smtp_server, CS_MANAGER)
        page.click("#whoami")
        page.wait_for_selector("#form-password")
        page.fill("#new-password", "short")
        page.fill("#confirm-password", "short")
        page.click("#set-password")
        page.wait_for_selector("#error")
        assert CJK.search(page.inner_text("#error")) and "12" in page.inner_text("#error")
        page.fill("#new-password", SECRET)
        page.fill("#confirm-password", SECRET)
        page.click("#set-password")
        page.wait_for_selector("#saved")
        assert page.locator("#remove-password").count() == 1
        shot(page, f"password-{tag}")
        page.click("#logout")
        page.wait_for_selector("#send-link")

        page.click("#with-password summary")
        page.fill("#pw-email", CS_MANAGER)
        page.fill("#password", SECRET + "!")
        page.click("#sign-in-password")
        page.wait_for_selector("#error")
        wrong = page.inner_text("#error")
        page.fill("#pw-email", "stranger@example.net")
        page.fill("#password", SECRET)
        page.click("#sign-in-password")
        assert page.inner_text("#error") == wrong  # the same answer: no account enumeration
        page.fill("#pw-email", CS_MANAGER)
        page.fill("#password", SECRET)
        page.click("#sign-in-password")
        page.wait_for_selector("#whoami")
        assert page.url == f"{base}/app/"
        assert len([m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == CS_MANAGER]) == 1
        # without the form's token the password form is refused like every POST
        assert page.request.post(f"{base}/app/login/password", form={"email": CS_MANAGER,
                                                                     "password": SECRET}).status == 403
    finally:
        context.close()
