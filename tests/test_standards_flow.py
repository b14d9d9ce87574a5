"""The standards-review deployment under the Prefect harness with aiosmtpd: an approved version is
published on its effective day and its people are mailed their training once. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sqms.calendar import to_local, utcnow
from sqms.db import UnitOfWork

pytestmark = pytest.mark.prefect


def test_standards_review_flow_publishes_on_the_effective_day(prefect_harness, db_url, sqms_env, smtp_server,
                                                              tmp_path):
    from flows.standards import standards_review
    from sqms.org.service import sync_organisation
    from sqms.standards.service import add_version, approve, get, register, submit

    settings = sqms_env(db_url, **smtp_server.env())
    today = to_local(utcnow(), settings.tz).date()
    source = tmp_path / "投诉处理流程.md"
    source.write_text("受理、调查、协调、反馈、回访。", encoding="utf-8")
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        doc = register(uow.session, settings, code="QP-CS-01", title="投诉处理流程", kind="procedure",
                       department="CS", departments=["CS", "SALES"])
        version = add_version(uow.session, settings, doc, version="V1.0", file=source, effective_on=today)
        submit(uow.session, settings, version)
        approve(uow.session, settings, version, by="zhang.wei@example.com")
        uow.commit()
    state = standards_review(return_state=True)
    assert state.is_completed(), state.message
    assert [p["version"] for p in state.result()["published"]] == ["QP-CS-01 V1.0"]
    people = {p.email for p in settings.people if p.department in ("CS", "SALES")}
    training = [m for m in smtp_server.messages if "[培训要求]" in str(m["Subject"])]
    assert sorted(m["To"].addresses[0].addr_spec for m in training) == sorted(people)
    assert all("投诉处理流程" in str(m["Subject"]) for m in training)
    [asked] = [m for m in smtp_server.messages if "[待审批]" in str(m["Subject"])]  # queued at the approval step
    assert asked["To"].addresses[0].addr_spec == "zhang.wei@example.com"
    smtp_server.clear()
    again = standards_review(return_state=True)
    assert again.result()["published"] == [] and smtp_server.messages == []
    with UnitOfWork(settings.database_url, actor="test") as uow:
        assert get(uow.session, "QP-CS-01").versions[0].status == "published"
