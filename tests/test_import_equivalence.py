"""The fast import path (Arrow/pandas vectorised validation, bulk writes, fingerprint shortcut) against a
straightforward row-by-row reference of the service-records rules, on random files with errors sprinkled
in (hypothesis): the same errors (row and column), the same table, nothing written on failure, and an
idempotent re-import."""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from sqms.db import get_engine, migrate
from sqms.importers import spec_for
from sqms.ingest import ImportValidationError, import_file
from tests.conftest import make_settings

UTC = timezone.utc
TZ = ZoneInfo("Asia/Shanghai")
HEADER = ["record_id", "department", "channel", "customer_id", "opened_at", "first_response_at", "resolved_at",
          "first_contact_resolved"]
DEPARTMENTS = {"CS": "CS", "cs": "CS", "客服部": "CS", "Customer Service": "CS", "OPS": "OPS"}
CHANNELS = ("phone", "online", "email", "onsite")
TRUE, FALSE = {"true", "1", "是", "yes", "y", "t"}, {"false", "0", "否", "no", "n", "f"}

cells = st.fixed_dictionaries({
    "record_id": st.sampled_from(["R1", "R2", "R3", "R4", "R5", "R6", "R7", "bad id", "R<8>"]),
    "department": st.sampled_from(["CS", "cs", "客服部", "Customer Service", "OPS", "NOPE", ""]),
    "channel": st.sampled_from(["phone", "online", "email", "onsite", "PHONE", " email ", "fax", ""]),
    "customer_id": st.sampled_from(["", "C1", "C2", "C 3"]),
    "opened_at": st.sampled_from(["2026-10-01 09:00:00", "2026/10/2 10:00", "2026-10-03T08:15:00+08:00",
                                  "not a date", ""]),
    "first_response_at": st.sampled_from(["", "2026-10-01 09:00:30", "2026-09-30 09:00:00", "garbage"]),
    "resolved_at": st.sampled_from(["", "2026-10-05 18:00:00", "2026-09-01 00:00:00", "2026-13-01 00:00"]),
    "first_contact_resolved": st.sampled_from(["", "true", "0", "是", "否", "maybe"]),
})


def _moment(text: str) -> datetime | None:
    """The reference's reading of a time: local Asia/Shanghai unless an offset says otherwise."""
    text = re.sub(r"^(\d{4})/(\d{1,2})/(\d{1,2})", lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=TZ)).astimezone(UTC)


def reference(rows: list[dict[str, str]]) -> tuple[set[tuple[int, str]], dict[str, dict[str, Any]]]:
    """Row by row, cell by cell: the errors as (row, column) and the rows a --skip-invalid import stores."""
    errors: set[tuple[int, str]] = set()
    first_seen: set[str] = set()
    good: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(rows):
        row = i + 2
        cell = {k: v.strip() for k, v in raw.items()}
        bad: set[str] = set()
        ident = cell["record_id"]
        if not re.fullmatch(r"[^ <>\"'&\x00-\x1f\x7f]{1,64}", ident):
            bad.add("record_id")
            ident = None
        department = DEPARTMENTS.get(cell["department"]) if cell["department"] else None
        if department is None:
            bad.add("department")
        channel = cell["channel"].lower()
        if channel not in CHANNELS:
            bad.add("channel")
        customer = cell["customer_id"] or None
        if customer is not None and " " in customer:
            bad.add("customer_id")
        times = {}
        for column in ("opened_at", "first_response_at", "resolved_at"):
            times[column] = _moment(cell[column]) if cell[column] else None
            if cell[column] and times[column] is None or column == "opened_at" and not cell[column]:
                bad.add(column)
        for column in ("first_response_at", "resolved_at"):
            if times[column] and times["opened_at"] and times[column] < times["opened_at"]:
                bad.add(column)
        fcr_text = cell["first_contact_resolved"].lower()
        fcr = True if fcr_text in TRUE else False if fcr_text in FALSE else None
        if fcr_text and fcr is None:
            bad.add("first_contact_resolved")
        if ident is not None:
            if ident in first_seen:
                bad.add("record_id")
            first_seen.add(ident)
        errors |= {(row, column) for column in bad}
        if not bad:
            good[ident] = {"department": department, "channel": channel, "customer_id": customer, **times,
                           "first_contact_resolved": fcr}
    return errors, good


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for every example (migrating each time would dominate)."""
    folder = tmp_path_factory.mktemp("equivalence")
    migrate(f"sqlite:///{folder / 'template.db'}")
    get_engine(f"sqlite:///{folder / 'template.db'}").dispose()
    return folder / "template.db"


def _table(url: str) -> dict[str, dict[str, Any]]:
    table = spec_for("service-records").table
    with get_engine(url).connect() as conn:
        return {r["record_id"]: {k: r[k] for k in HEADER[1:]} for r in conn.execute(select(table)).mappings()}


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(cells, min_size=1, max_size=12))
def test_fast_path_equals_the_reference(template: Path, rows: list[dict[str, str]]):
    expected_errors, expected_rows = reference(rows)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(template, folder / "sqms.db")
        url = f"sqlite:///{folder / 'sqms.db'}"
        settings = make_settings(url, folder)
        path = folder / "records.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows([[r[c] for c in HEADER] for r in rows])
        spec = spec_for("service-records")
        try:
            if expected_errors:  # the whole file is rejected, every error named, nothing written
                with pytest.raises(ImportValidationError) as caught:
                    import_file(settings, spec, path, actor="prop")
                assert {(e.row, e.column) for e in caught.value.errors} == expected_errors
                assert _table(url) == {}
            result = import_file(settings, spec, path, actor="prop", skip_invalid=True)
            assert {(e.row, e.column) for e in result.errors} == expected_errors
            assert _table(url) == expected_rows
            again = import_file(settings, spec, path, actor="prop", skip_invalid=True)
            assert (again.inserted, again.updated) == (0, 0)
            assert _table(url) == expected_rows
        finally:
            get_engine(url).dispose()
