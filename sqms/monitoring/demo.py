"""Demo service-monitoring data (issue 15): ~60 front-line staff, a year of inspections and mystery-shopper
visits, compliments and service errors, with one department's inspection scores falling."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sqms.calendar import parse_period, periods_ending, to_utc, utcnow
from sqms.config import Settings
from sqms.db import UnitOfWork
from sqms.ingest import ImportResult, import_file
from sqms.monitoring.imports import COMPLIMENTS, SERVICE_ERRORS, STAFF
from sqms.monitoring.service import ItemResult, NewInspection, record_inspection
from sqms.monitoring.templates import load_templates

STAFF_PER_DEPARTMENT = {"CS": 24, "OPS": 24, "SALES": 12}  # front-line staff
INSPECTION_DRIFT = "OPS"  # its inspection scores fall over the last months
DRIFT_MONTHS = 4
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红")
_POSITIONS = {"CS": "客服专员", "OPS": "快递员", "SALES": "客户经理"}
_TEMPLATES = {"CS": "service-counter", "OPS": "courier-visit", "SALES": "service-counter"}


def _staff(settings: Settings, rng: np.random.Generator) -> pd.DataFrame:
    codes = [d.code for d in settings.departments]
    rows = []
    for dept, count in STAFF_PER_DEPARTMENT.items():
        if dept not in codes:
            continue
        for i in range(count):
            rows.append({"staff_id": f"{dept}{i + 1:03d}",
                         "name": rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN, size=1 + (i % 2))),
                         "department": dept, "position": _POSITIONS[dept], "front_line": "是",
                         "active_from": "2024-01-01", "active_to": ""})
    return pd.DataFrame(rows)


def import_demo_staff(settings: Settings, folder: Path, *, seed: int) -> ImportResult:
    """The demo's staff register alone (the service records name these people): the same people as
    `load_monitoring_demo`'s."""
    path = folder / "staff.csv"
    _staff(settings, np.random.default_rng(seed + 15)).to_csv(path, index=False, encoding="utf-8",
                                                             lineterminator="\n", na_rep="")
    return import_file(settings, STAFF, path, actor="demo")


def load_monitoring_demo(settings: Settings, folder: Path, *, seed: int, end_period: str, months: int,
                         now: datetime | None = None, import_staff: bool = True) -> dict[str, ImportResult]:
    """Generate and import staff (unless already imported: `import_demo_staff`), compliments and service
    errors; record the inspections (history: their corrective actions mail nobody). Idempotent, like the
    rest of the demo."""
    now = now or utcnow()
    rng = np.random.default_rng(seed + 15)
    staff = _staff(settings, rng)
    if staff.empty:
        return {}
    periods = periods_ending(end_period, months)
    inspectors = [p for p in settings.resolve_recipients(settings.monitoring.inspectors) if not isinstance(p, str)]
    templates = load_templates(settings)
    ramp = np.clip((np.arange(months) - (months - 1 - DRIFT_MONTHS)) / DRIFT_MONTHS, 0.0, 1.0)
    inspections: list[NewInspection] = []
    compliments, errors = [], []

    def moment(period: str, day: int, hour: int) -> datetime | None:
        year, month = parse_period(period)
        at = to_utc(datetime(year, month, day, hour, 0), settings.tz)
        return at if at < now else None

    for m, period in enumerate(periods):
        for k, person in enumerate(staff.itertuples()):
            dept = person.department
            p_pass = 0.93 - (0.25 * ramp[m] if dept == INSPECTION_DRIFT else 0.0)
            # each person once a quarter (month by position), some twice
            if (k + m) % 3 == 0 or rng.random() < 0.15:
                at = moment(period, 3 + int(rng.integers(0, 22)), 10)
                template = templates[_TEMPLATES[dept]]
                results = []
                for item in template.items():
                    ok = rng.random() < (0.997 if item.red_line else p_pass)
                    points = item.points if ok else float(rng.integers(0, int(item.points)))
                    results.append(ItemResult(item.code, points, None if ok else "现场发现问题",
                                              [f"{period}-{person.staff_id}-{item.code}.jpg"] if not ok else []))
                inspector = [p for p in inspectors if p.department != dept]
                if at is not None and inspector:
                    inspections.append(NewInspection(
                        f"INS-{period}-{person.staff_id}-{m % 2}{k % 7}", template.code, dept,
                        inspector[(k + m) % len(inspector)].email, at, results, staff_id=person.staff_id))
            for j in range(int(rng.poisson(0.35))):
                at = moment(period, 1 + int(rng.integers(0, 27)), 14)
                if at is not None:
                    compliments.append({"compliment_id": f"PR-{period}-{person.staff_id}-{j}",
                                        "received_at": at.isoformat(), "department": dept,
                                        "staff_id": person.staff_id, "channel": "phone",
                                        "description": "服务热情周到,特此表扬"})
            rate = 0.06 * (2.0 if dept == INSPECTION_DRIFT and ramp[m] > 0 else 1.0)
            for j in range(int(rng.poisson(rate))):
                at = moment(period, 1 + int(rng.integers(0, 27)), 11)
                if at is not None:
                    errors.append({"error_id": f"SE-{period}-{person.staff_id}-{j}", "occurred_at": at.isoformat(),
                                   "department": dept, "staff_id": person.staff_id,
                                   "category": str(rng.choice(["wrong_information", "missed_appointment",
                                                               "lost_item", "other"], p=[0.4, 0.35, 0.1, 0.15])),
                                   "severity": str(rng.choice(["minor", "major", "critical"], p=[0.7, 0.25, 0.05])),
                                   "origin": "direct", "source_ref": "", "description": ""})
        for dept in STAFF_PER_DEPARTMENT:  # two mystery-shopper visits a month per department
            for v in range(2):
                at = moment(period, 8 + 10 * v, 15)
                template = templates["service-counter"]
                ok = 0.9 - (0.2 * ramp[m] if dept == INSPECTION_DRIFT else 0.0)
                results = [ItemResult(i.code, i.points if (i.red_line or rng.random() < ok) else 0.0, None,
                                      ["recording.mp3"]) for i in template.items()]
                if at is not None:
                    inspections.append(NewInspection(f"MS-{period}-{dept}-{v}", template.code, dept, "第三方评估公司", at,
                                                     results, source="mystery_shopper"))
    frames = {**({"staff": (STAFF, staff)} if import_staff else {}), "compliments": (COMPLIMENTS, pd.DataFrame(compliments)),
              "service-errors": (SERVICE_ERRORS, pd.DataFrame(errors))}
    results: dict[str, ImportResult] = {}
    for kind, (spec, frame) in frames.items():
        if frame.empty:
            continue
        path = folder / f"{kind}.csv"
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", na_rep="")
        results[kind] = import_file(settings, spec, path, actor="demo")
    with UnitOfWork(settings.database_url, actor="demo") as uow:
        for new in inspections:
            record_inspection(uow.session, settings, new, templates=templates, now=now, actor="demo", notify=False)
        uow.commit()
    return results
