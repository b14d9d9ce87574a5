"""Staff grading a / b / c (seed 003 第二章第六条) by hand-computed cases, boundaries and the red-line cap."""

from __future__ import annotations

from datetime import UTC

import pytest

from sqms.config import GradingSettings
from sqms.monitoring.grading import (
    GradingError,
    grade_of,
    parse_quarter,
    previous_quarter,
)

RULES = GradingSettings()  # weights inspection 0.6, mystery_shopper 0.25, csat 0.15; a ≥ 90, b ≥ 75


@pytest.mark.parametrize(("components", "expected"), [
    ({"inspection": 90.0}, (90.0, "a")),                       # exactly a_from is a
    ({"inspection": 89.99}, (89.99, "b")),
    ({"inspection": 75.0}, (75.0, "b")),                       # exactly b_from is b
    ({"inspection": 74.99}, (74.99, "c")),
    # (0.6·80 + 0.25·100 + 0.15·50) / 1.0 = 80.5
    ({"inspection": 80.0, "mystery_shopper": 100.0, "csat": 50.0}, (80.5, "b")),
    # mystery shopper missing: (0.6·80 + 0.15·100) / 0.75 = 84
    ({"inspection": 80.0, "mystery_shopper": None, "csat": 100.0}, (84.0, "b")),
    # 95 − 1 complaint·5 − 1 minor·2 + 3 compliments·2 = 94
    ({"inspection": 95.0, "complaints": 1, "errors": {"minor": 1}, "compliments": 3}, (94.0, "a")),
    # compliment bonus capped at 10; score capped at 100
    ({"inspection": 85.0, "compliments": 20}, (95.0, "a")),
    ({"inspection": 99.0, "compliments": 5}, (100.0, "a")),
    # red-line failure caps at c whatever the score
    ({"inspection": 96.0, "red_line_failures": 1}, (96.0, "c")),
    # 60 − 10 critical·… never below 0
    ({"inspection": 10.0, "errors": {"critical": 2}}, (0.0, "c")),
    ({"complaints": 2}, (None, None)),                         # nothing scored them
])
def test_grade_of_hand_computed(components, expected):
    assert grade_of(components, RULES) == expected


def test_thresholds_and_the_cap_are_configurable():
    rules = GradingSettings(a_from=95, b_from=60, red_line_caps_at_c=False)
    assert grade_of({"inspection": 94.0, "red_line_failures": 2}, rules) == (94.0, "b")
    with pytest.raises(ValueError):
        GradingSettings(a_from=70, b_from=80)


def test_quarters():
    assert parse_quarter("2026Q3") == (2026, 3) and previous_quarter("2026Q1") == "2025Q4"
    with pytest.raises(GradingError):
        parse_quarter("2026-Q3")


def test_grade_quarter_keeps_grades_and_shows_last_quarters(org, tmp_path):
    from datetime import datetime

    from sqms.db import UnitOfWork
    from sqms.importers import spec_for
    from sqms.ingest import import_file
    from sqms.monitoring.grading import grade_quarter
    from sqms.monitoring.service import ItemResult, NewInspection, record_inspection
    from sqms.monitoring.templates import load_templates

    (tmp_path / "staff.csv").write_text("staff_id,name,department,front_line\nS1,甲,CS,是\nS2,乙,OPS,是\n"
                                        "S3,丙,OPS,否\n", encoding="utf-8")
    import_file(org, spec_for("staff"), tmp_path / "staff.csv")
    templates = load_templates(org)
    full = {i.code: i.points for i in templates["service-counter"].items()}
    with UnitOfWork(org.database_url, actor="test") as uow:
        for ident, staff, when, results in [
                ("Q2-S1", "S1", datetime(2026, 5, 10, 2, tzinfo=UTC), full),
                ("Q3-S1", "S1", datetime(2026, 8, 10, 2, tzinfo=UTC), full | {"PROC-3": 0.0}),
                ("Q3-S2", "S2", datetime(2026, 8, 11, 2, tzinfo=UTC), full)]:
            record_inspection(uow.session, org, NewInspection(
                ident, "service-counter", "CS" if staff == "S1" else "OPS", "li.na@example.com", when,
                [ItemResult(c, p, None, ["e.jpg"]) for c, p in results.items()], staff_id=staff),
                templates=templates, now=when)
        q2 = grade_quarter(uow.session, org, "2026Q2")
        q3 = grade_quarter(uow.session, org, "2026Q3")
        again = grade_quarter(uow.session, org, "2026Q3")  # a rerun replaces, never duplicates
        uow.commit()
    assert [(g.staff_id, g.grade) for g in q2] == [("S1", "a"), ("S2", None)]
    assert [g.as_json() | {"components": None} for g in q3] == [
        {"staff_id": "S1", "name": "甲", "department": "CS", "score": 0.0, "grade": "c", "previous_grade": "a",
         "components": None},
        {"staff_id": "S2", "name": "乙", "department": "OPS", "score": 100.0, "grade": "a", "previous_grade": None,
         "components": None}]
    assert q3[0].components["red_line_failures"] == 1 and [g.grade for g in again] == ["c", "a"]
