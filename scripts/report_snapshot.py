"""Render every report of the demo (and of the tests' small fixed scenes) to HTML in one folder.

    .venv/bin/python scripts/report_snapshot.py OUT_DIR

A refactoring of the report code must leave `diff -r` of two snapshots empty. The demo database is
built the way `sqms init --demo` builds it (organisation, demo files, standards register) with a fixed
clock; audits, survey campaigns, management reviews and quality meetings, which the demo does not hold,
come from the fixed scenes of their tests. Each scene gets its own SQLite file in a temporary folder.
Only the generation time stamps (the wall clock when a file is written) are normalised away.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqms.db import UnitOfWork, migrate  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
END = "2026-10"
NOW = datetime(2026, 11, 22, 1, 0, tzinfo=timezone.utc)
# The wall clock at generation: "生成时间 2026-11-30 04:31" and its English twin, ISO stamps in metadata.
_STAMPS = [re.compile(p) for p in (
    r"(生成(?:时间|于)[:：]?\s*)\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?",
    r"((?:Generated|generated)(?: at| on)?:?\s*)\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?",
)]


def _settings(tmp: Path, name: str, **overrides):
    folder = tmp / name
    folder.mkdir()
    url = f"sqlite:///{folder}/sqms.db"
    migrate(url)
    settings = make_settings(url, folder, **overrides)
    from sqms.org.service import sync_organisation

    with UnitOfWork(url, actor="snapshot") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    return settings


def demo_scene(tmp: Path):
    """The demo: monthly and complaint reports of its last month, the review pack of its year, appraisals."""
    from sqms.demo import load_demo
    from sqms.monitoring.rendering import run_appraisal
    from sqms.records.service import compute_and_store
    from sqms.complaints.rendering import produce_complaint_report
    from sqms.monthly.rendering import produce_monthly_report
    from sqms.reviews.rendering import produce_pack
    from sqms.reviews.service import open_review
    from sqms.standards.demo import seed_register

    settings = _settings(tmp, "demo")
    load_demo(settings, end_period=END, now=NOW)
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        seed_register(uow.session, settings, now=NOW)
        uow.commit()
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        computation = compute_and_store(uow.session, settings, END, as_of=NOW)
        produce_monthly_report(uow.session, settings, computation)
        produce_complaint_report(uow.session, settings, END, computation.as_of)
        uow.commit()
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        run_appraisal(uow.session, settings, "2026Q3")
        uow.commit()
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        review, _ = open_review(uow.session, settings, year=2026, today=date(2027, 1, 11))
        produce_pack(uow.session, settings, review, as_of=datetime(2027, 1, 11, 2, tzinfo=timezone.utc))
        uow.commit()
    return settings


def audit_scene(tmp: Path):
    from sqlalchemy import select

    from sqms.audits.models import AuditCycle
    from sqms.audits.rendering import produce_audit_report
    from tests.test_audit_report import AS_OF, seed

    settings = _settings(tmp, "audit")
    seed(settings)
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        cycle = uow.session.scalars(select(AuditCycle).where(AuditCycle.code == "2026-H1")).one()
        produce_audit_report(uow.session, settings, cycle, as_of=AS_OF)
        uow.commit()
    return settings


def survey_scene(tmp: Path):
    """The campaign of tests/test_surveys.py::test_whole_campaign, up to its report."""
    from sqlalchemy import select

    from sqms.surveys.models import SurveyInvitation
    from sqms.surveys.service import advance, get, plan_campaign
    from tests.test_surveys import CAMPAIGN_CUSTOMERS, CAMPAIGN_DAY0, answer_campaign, served

    settings = _settings(tmp, "survey", surveys={"min_per_stratum": 3})
    served(settings, CAMPAIGN_CUSTOMERS, date(2026, 8, 10))
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        campaign, _ = plan_campaign(uow.session, settings, kind="quarterly", code="2026-Q3", seed=11, sample_total=10,
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        advance(uow.session, settings, campaign, "sample", CAMPAIGN_DAY0)
        advance(uow.session, settings, campaign, "invite", CAMPAIGN_DAY0)
        uow.commit()
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        invited = list(uow.session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id)))
        answer_campaign(uow.session, settings, invited)
        uow.commit()
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        campaign = get(uow.session, "2026-Q3")
        for step in ("remind", "close", "analyse", "report"):
            advance(uow.session, settings, campaign, step, datetime(2026, 10, 19, 10, tzinfo=TZ))
        uow.commit()
    return settings


def review_scene(tmp: Path):
    """The review of tests/test_reviews.py: pack sent, outputs recorded, the report issued."""
    from sqms.reviews.rendering import produce_review_report
    from sqms.reviews.service import advance_due, record_outputs
    from tests.test_reviews import OUTPUTS, _at, _open, _review

    settings = _settings(tmp, "review")
    _open(settings)
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        advance_due(uow.session, settings, _at(date(2026, 2, 3)))
        uow.commit()
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        record_outputs(uow.session, settings, _review(uow), OUTPUTS, actor="cli:li.na", now=_at(date(2026, 2, 6), 15))
        produce_review_report(uow.session, settings, _review(uow))
        uow.commit()
    return settings


def meeting_scene(tmp: Path):
    """The quality meeting of tests/test_meetings.py: scheduled, held, minuted."""
    from sqms.meetings.minutes import parse_yaml
    from sqms.meetings.service import record_minutes, schedule
    from tests.test_meetings import MADE_ON, MINUTES, PERIOD, _at, _seed

    settings = _settings(tmp, "meeting")
    _seed(settings)
    with UnitOfWork(settings.database_url, actor="snapshot") as uow:
        meeting, _ = schedule(uow.session, settings, PERIOD, now=_at(MADE_ON))
        numbers = {i["no"] for i in meeting.agenda}
        record_minutes(uow.session, settings, meeting, parse_yaml(settings, MINUTES, numbers),
                       now=_at(meeting.meeting_on, 17))
        uow.commit()
    return settings


SCENES = {"demo": demo_scene, "audit": audit_scene, "survey": survey_scene, "review": review_scene,
          "meeting": meeting_scene}


def normalise(text: str) -> str:
    for pattern in _STAMPS:
        text = pattern.sub(lambda m: m.group(1) + "<TIME>", text)
    return text


def main(out: Path, only: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sqms-snapshot-") as tmp:
        for name, scene in SCENES.items():
            if only and name not in only:
                continue
            settings = scene(Path(tmp))
            for html in sorted(Path(settings.reports_dir).rglob("*.html")):
                target = out / name / html.relative_to(settings.reports_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(normalise(html.read_text(encoding="utf-8")), encoding="utf-8")
            print(f"{name}: {sum(1 for _ in (out / name).rglob('*.html')) if (out / name).exists() else 0} file(s)")
    shutil.rmtree(Path(tmp), ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2:])
