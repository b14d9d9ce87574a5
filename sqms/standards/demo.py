"""The demo organisation's own register, drawn from its regulation texts (config/../seeds): the service
quality policy, the complaint procedure, the telephone and courier service standards.

Dated relative to today so that `make run` always shows reviews due soon, one overdue, a revision
awaiting approval and trainings outstanding (history pages nobody: the trainings of earlier versions
are recorded as done, no approval request or training mail goes out for them). Idempotent: a document
already registered is left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.calendar import to_local, utcnow
from sqms.config import Settings
from sqms.standards.models import StandardDocument, TrainingRequirement
from sqms.standards.service import add_version, approve, approvers, publish, register, submit

# code, title, kind, owning department, departments covered, owner role, versions: (version, summary, text,
# days before today it took effect)
DOCUMENTS = [
    ("QM-001", "服务质量管理制度", "policy", "GMO", None, "quality_manager", [
        ("V1.0", "首次发布", "第一章 总则\n第一条 为规范本公司的服务行为，提升服务质量，保障客户的合法权益，特制定本制度。\n"
                           "第二章 组织与职责\n第三章 服务标准\n第四章 服务流程\n第五章 监督检查\n第六章 持续改进", 700),
        ("V2.0", "增加月度质量分析会及合理化建议条款", "第十九条 每月召开服务质量分析会，分析上月服务质量报告……\n"
                                                    "第三十五条 鼓励员工和客户提出合理化建议……", 345)]),
    ("QP-CS-01", "投诉处理流程", "procedure", "CS", ["CS", "OPS", "SALES"], None, [
        ("V1.0", "首次发布", "受理、调查、协调、反馈、回访。遵循首问负责制：接到投诉的员工或部门应先行受理，"
                           "并按规定流程进行处理或转交。一般投诉2个工作日内办结，重大投诉5个工作日内办结。", 380)]),
    ("SOP-CS-02", "客服电话服务规范", "sop", "CS", ["CS"], None, [
        ("V1.0", "首次发布", "电话铃响三声内接听，使用规范文明用语；转接电话操作规范：说明转接原因，确认对方接通后挂断。", 400),
        ("V2.0", "增加转接电话操作规范及通话记录要求", "……转接前告知客户转接对象及原因；通话结束后30分钟内完成记录。", 5)]),
    ("SOP-OPS-01", "快递员服务规范", "sop", "OPS", ["OPS"], None, [
        ("V1.0", "首次发布", "仪态端庄，举止大方，衣着整洁；按约定时间上门；当面请客户验货；不私自收取加急费。", 340)]),
    ("STD-OPS-02", "快递车辆服务质量标准", "standard", "OPS", ["OPS"], None, [
        ("V1.0", "首次发布", "车身颜色鲜亮、无明显擦痕；专用图案标志平整；车辆技术状况良好，安全设施有效。", 200),
        ("V1.1", "增加新能源车辆充电安全要求", "……新能源车辆每日检查电池状态，充电时有人值守。", None)]),
]


def seed_register(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Register the demo documents that are missing; returns how many were added."""
    now = now or utcnow()
    today = to_local(now, settings.tz).date()
    folder = settings.reports_dir / "standards" / "_demo-sources"
    folder.mkdir(parents=True, exist_ok=True)
    added = 0
    for code, title, kind, dept, covers, owner_role, versions in DOCUMENTS:
        if session.query(StandardDocument).filter_by(code=code).first() is not None:
            continue
        owner = settings.people_with_role(owner_role)[0].email if owner_role and settings.people_with_role(owner_role) \
            else None
        document = register(session, settings, code=code, title=title, kind=kind, department=dept, owner=owner,
                            departments=covers or [d.code for d in settings.departments], actor="demo", now=now)
        for label, summary, text, days_ago in versions:
            source = folder / f"{code}-{label}.md"
            source.write_text(f"# {code} {title} {label}\n\n{text}\n", encoding="utf-8")
            if days_ago is None:  # a revision awaiting approval
                version = add_version(session, settings, document, version=label, change_summary=summary,
                                      file=source, actor="demo", now=now)
                submit(session, settings, version, actor="demo", now=now, notify=False)
                continue
            effective = today - timedelta(days=days_ago)
            when = now - timedelta(days=days_ago)
            version = add_version(session, settings, document, version=label, change_summary=summary, file=source,
                                  effective_on=effective, actor="demo", now=when)
            submit(session, settings, version, actor="demo", now=when, notify=False)
            for email in approvers(settings):
                approve(session, settings, version, by=email, actor="demo", now=when, notify=False)
            recent = days_ago <= 30  # only a version of the last month asks its people now (and mails them)
            publish(session, settings, version, actor="demo", now=now if recent else when, notify=recent)
            if not recent:
                rows = session.scalars(select(TrainingRequirement).where(
                    TrainingRequirement.version_id == version.id).order_by(TrainingRequirement.id)).all()
                for n, row in enumerate(rows):  # one in each version late, so the KPI has something to say
                    row.completed_at = when + timedelta(days=30 if n == 0 else 3)
        added += 1
    return added
