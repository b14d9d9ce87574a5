"""inspection_score, mystery_shopper_score, service_error_rate_per_1000, praise_rate_per_1000 (issue 15)
against an independent pandas computation; a red-line failure counts as 0, a department without
inspections has no_data."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from sqms.db import UnitOfWork
from sqms.importers import spec_for
from sqms.ingest import import_file
from sqms.monitoring.service import ItemResult, NewInspection, record_inspection
from sqms.monitoring.templates import load_templates
from sqms.records.service import compute_and_store, results_of

AS_OF = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def test_monitoring_kpis_against_pandas(org, tmp_path):
    rng = np.random.default_rng(15)
    templates = load_templates(org)
    items = templates["service-counter"].items()
    rows = []
    for i in range(40):
        dept = ["CS", "OPS", "SALES"][i % 3]
        source = "internal" if i % 4 else ["mystery_shopper", "third_party"][i % 8 // 4]
        awarded = {it.code: float(rng.integers(0, int(it.points) + 1)) if not it.red_line else it.points
                   for it in items}
        if i == 5:
            awarded["PROC-3"] = 0.0  # a red-line failure: the inspection scores 0
        day = datetime(2026, 10, 1 + i % 28, 3, 0, tzinfo=UTC)
        rows.append((f"I{i}", dept, source, day, awarded))
    rows.append(("I-sep", "CS", "internal", datetime(2026, 9, 30, 16, 30, tzinfo=UTC), {"ENV-1": 0.0}))  # 00:30 1 Oct local
    with UnitOfWork(org.database_url, actor="test") as uow:
        for ident, dept, source, day, awarded in rows:
            record_inspection(uow.session, org, NewInspection(
                ident, "service-counter", dept, "li.na@example.com", day,
                [ItemResult(c, p, None, ["e.jpg"]) for c, p in awarded.items()], source=source),
                templates=templates, now=AS_OF)
        uow.commit()

    records = pd.DataFrame({"record_id": [f"R{i}" for i in range(500)],
                            "department": rng.choice(["CS", "OPS", "SALES", "HR"], 500),
                            "channel": "onsite", "customer_id": "", "opened_at": "2026-10-10 10:00",
                            "first_response_at": "", "resolved_at": "", "first_contact_resolved": ""})
    records.to_csv(tmp_path / "r.csv", index=False)
    import_file(org, spec_for("service-records"), tmp_path / "r.csv")
    compliments = pd.DataFrame({"compliment_id": [f"P{i}" for i in range(30)],
                                "received_at": [f"2026-10-{1 + i % 28:02d} 12:00" for i in range(30)],
                                "department": rng.choice(["CS", "OPS", "HR"], 30)})
    compliments.to_csv(tmp_path / "p.csv", index=False)
    import_file(org, spec_for("compliments"), tmp_path / "p.csv")
    errors = pd.DataFrame({"error_id": [f"E{i}" for i in range(12)],
                           "occurred_at": ["2026-10-05 09:00"] * 11 + ["2026-11-01 09:00"],
                           "department": rng.choice(["CS", "SALES"], 12), "category": "wrong_information",
                           "severity": "minor"})
    errors.to_csv(tmp_path / "e.csv", index=False)
    import_file(org, spec_for("service-errors"), tmp_path / "e.csv")

    with UnitOfWork(org.database_url, actor="test") as uow:
        results = {(r.kpi, r.department): r for r in results_of(compute_and_store(uow.session, org, "2026-10",
                                                                                   as_of=AS_OF))}
        uow.commit()

    # the independent computation, straight from the generated data
    weights = {it.code: (it.weight, it.points) for it in items}
    frame = pd.DataFrame([{"dept": d, "source": s, "score": 0.0 if a.get("PROC-3", 10) < 10 else
                           100 * sum(weights[c][0] * p / weights[c][1] for c, p in a.items()) /
                           sum(weights[c][0] for c in a)} for _, d, s, _, a in rows])
    records_in = records.assign(n=1).groupby("department")["n"].sum()
    oct_errors = errors[errors["occurred_at"] < "2026-10-31 16:00"]
    for dept in (None, "CS", "OPS", "SALES", "HR"):
        part = frame if dept is None else frame[frame["dept"] == dept]
        internal = part[part["source"] == "internal"]["score"]
        external = part[part["source"] != "internal"]["score"]
        n_records = len(records) if dept is None else int(records_in.get(dept, 0))
        count = (lambda f: len(f) if dept is None else int((f["department"] == dept).sum()))
        expected = {
            "inspection_score": (internal.mean() if len(internal) else None, len(internal)),
            "mystery_shopper_score": (external.mean() if len(external) else None, len(external)),
            "service_error_rate_per_1000": (1000 * count(oct_errors) / n_records, n_records),
            "praise_rate_per_1000": (1000 * count(compliments) / n_records, n_records),
        }
        for kpi, (value, n) in expected.items():
            got = results[(kpi, dept)]
            assert got.n == n, (kpi, dept)
            assert got.value == (pytest.approx(value, abs=0.01) if value is not None else None), (kpi, dept)  # scores kept to 2 decimals
            assert got.low_confidence == (value is not None and n < 30)
    assert results[("inspection_score", "HR")].status == "no_data"
    assert results[("inspection_score", "CS")].target == 85
    assert results[("service_error_rate_per_1000", None)].status in ("met", "missed")
    assert frame["score"].min() == 0.0
