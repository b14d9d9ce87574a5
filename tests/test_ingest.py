"""CSV/XLSX import (DESIGN.md §3) on real files and real databases (SQLite and PostgreSQL).

Every error case checks that nothing was written: neither rows in the target table
nor an `import_runs` entry.
"""

from __future__ import annotations

import csv
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select, text

import sqms.ingest as ingest
from sqms.audit_trail import AuditEntry, ImportRun
from sqms.config import Settings
from sqms.db import get_engine
from sqms.importers import spec_for
from sqms.ingest import ImportFileError, ImportValidationError, Mapping, import_file, load_mapping

UTC = timezone.utc
ROOT = Path(__file__).resolve().parent.parent

TABLES = {"service-records": "service_records", "complaints": "complaints",
          "survey-responses": "survey_responses", "customers": "customers"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the four kinds: one small file each, and what must be stored ----------------------

FILES: dict[str, dict[str, Any]] = {
    "service-records": {
        "header": ["record_id", "department", "channel", "customer_id", "opened_at", "first_response_at",
                   "resolved_at", "first_contact_resolved"],
        "rows": [
            ["R1", "客服部", "phone", "C1", "2026-10-08 09:00", "2026-10-08 09:00:20", "2026-10-08 10:30", "是"],
            ["R2", "OPS", "Online", "", "2026-10-08T09:00:00+08:00", "", "", ""],
            ["R3", "Sales", "email", "C2", "2026/10/09 14:05", "", "2026/10/10 08:00:30", "false"],
            ["R4", "技术研发部", "onsite", "C3", "2026-10-08T01:00:00Z", "2026-10-08T01:05:00Z", "", "0"],
            ["R5", "cs", "PHONE", "C1", "2026-10-31 23:30:00", "2026-10-31 23:30:40", "2026-11-01 00:10", "否"],
        ],
        "expected": {
            "R1": {"department": "CS", "channel": "phone", "customer_id": "C1", "opened_at": utc(2026, 10, 8, 1),
                   "first_response_at": utc(2026, 10, 8, 1, 0, 20), "resolved_at": utc(2026, 10, 8, 2, 30),
                   "first_contact_resolved": True},
            "R2": {"department": "OPS", "channel": "online", "customer_id": None, "opened_at": utc(2026, 10, 8, 1),
                   "first_response_at": None, "resolved_at": None, "first_contact_resolved": None},
            "R3": {"department": "SALES", "channel": "email", "customer_id": "C2",
                   "opened_at": utc(2026, 10, 9, 6, 5), "first_response_at": None,
                   "resolved_at": utc(2026, 10, 10, 0, 0, 30), "first_contact_resolved": False},
            "R4": {"department": "RND", "channel": "onsite", "customer_id": "C3", "opened_at": utc(2026, 10, 8, 1),
                   "first_response_at": utc(2026, 10, 8, 1, 5), "resolved_at": None,
                   "first_contact_resolved": False},
            "R5": {"department": "CS", "channel": "phone", "opened_at": utc(2026, 10, 31, 15, 30),
                   "first_response_at": utc(2026, 10, 31, 15, 30, 40), "resolved_at": utc(2026, 10, 31, 16, 10),
                   "first_contact_resolved": False},
        },
    },
    "complaints": {
        "header": ["complaint_id", "received_at", "department", "channel", "severity", "category", "customer_id",
                   "responded_at", "resolved_at", "description"],
        "rows": [
            ["K1", "2026-09-30 23:30", "客服部", "phone", "normal", "服务态度", "C1", "2026-10-01 10:00",
             "2026-10-09 18:00", "<script>alert('x')</script> 很不满意, \"引号\" & <b>粗体</b>"],
            ["K2", "2026-02-13 09:00", "CS", "online", "special", "等待时间", "", "", "", ""],
            ["K3", "2026-10-08T09:00:00+08:00", "运营部", "email", "NORMAL", "其他", "C9", "", "",
             "多行\n描述; 分号, 逗号 \\N"],
        ],
        "expected": {
            "K1": {"received_at": utc(2026, 9, 30, 15, 30), "department": "CS", "channel": "phone",
                   "severity": "normal", "category": "服务态度", "customer_id": "C1",
                   "responded_at": utc(2026, 10, 1, 2), "resolved_at": utc(2026, 10, 9, 10),
                   "description": "<script>alert('x')</script> 很不满意, \"引号\" & <b>粗体</b>",
                   "deadline_at": utc(2026, 10, 9, 15, 59, 59)},
            "K2": {"received_at": utc(2026, 2, 13, 1), "department": "CS", "severity": "special",
                   "customer_id": None, "responded_at": None, "resolved_at": None, "description": None,
                   # Sat 14 Feb is worked, 15-23 off: 14, 24, 25, 26, 27
                   "deadline_at": utc(2026, 2, 27, 15, 59, 59)},
            "K3": {"received_at": utc(2026, 10, 8, 1), "department": "OPS", "severity": "normal",
                   "description": "多行\n描述; 分号, 逗号 \\N",
                   "deadline_at": utc(2026, 10, 10, 15, 59, 59)},  # 9 Oct, Saturday 10 Oct (make-up)
        },
    },
    "survey-responses": {
        "header": ["response_id", "submitted_at", "department", "customer_id", "nps", "csat", "TAN1", "REL1",
                   "comment"],
        "rows": [
            ["S1", "2026-10-08 09:00", "CS", "C1", "10", "5", "5", "4", "很好 <b>bold</b> <script>x()</script>"],
            ["S2", "2026-10-08 10:00", "运营部", "", "0", "1", "", "2", ""],
            ["S3", "2026-10-09 10:00", "SALES", "C2", "", "4.5", "3", "", "ok, \"fine\""],
        ],
        "expected": {
            "S1": {"submitted_at": utc(2026, 10, 8, 1), "department": "CS", "customer_id": "C1", "nps": 10,
                   "csat": 5.0, "answers": {"TAN1": 5.0, "REL1": 4.0},
                   "comment": "很好 <b>bold</b> <script>x()</script>"},
            "S2": {"department": "OPS", "customer_id": None, "nps": 0, "csat": 1.0, "answers": {"REL1": 2.0},
                   "comment": None},
            "S3": {"department": "SALES", "nps": None, "csat": 4.5, "answers": {"TAN1": 3.0},
                   "comment": "ok, \"fine\""},
        },
    },
    "customers": {
        "header": ["customer_id", "name", "email", "phone", "department"],
        "rows": [
            ["C1", "张三", "Zhang.San@Example.com", "13800000000", "CS"],
            ["C2", "李四", "", "", ""],
            ["C3", "O'Brien & Co <Ltd>", "obrien@example.com", "+86 10 1234 5678", "技术研发部"],
        ],
        "expected": {
            "C1": {"name": "张三", "email": "zhang.san@example.com", "phone": "13800000000", "department": "CS"},
            "C2": {"name": "李四", "email": None, "phone": None, "department": None},
            "C3": {"name": "O'Brien & Co <Ltd>", "email": "obrien@example.com", "phone": "+86 10 1234 5678",
                   "department": "RND"},
        },
    },
}

DATETIME_COLUMNS = {"opened_at", "first_response_at", "resolved_at", "received_at", "responded_at",
                    "submitted_at"}
NUMBER_COLUMNS = {"nps", "csat", "TAN1", "REL1"}


# -- helpers ---------------------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8",
              delimiter: str = ",") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _typed_cell(column: str, value: str) -> Any:
    """What a spreadsheet would hold: real dates and numbers, empty cells as None."""
    if value == "":
        return None
    if column in DATETIME_COLUMNS and len(value) in (16, 19) and value[4] == "-":
        try:
            return datetime.fromisoformat(value)  # naive: local time, as Excel has no time zones
        except ValueError:
            return value  # not a date: the cell holds the text
    if column in NUMBER_COLUMNS:
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def write_xlsx(path: Path, header: list[str], rows: list[list[str]], typed: bool = True) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "导入"
    ws.append(header)
    for row in rows:
        cells = [_typed_cell(h, v) if typed else (v or None) for h, v in zip(header, row)]
        ws.append(cells + list(row[len(header):]))  # cells beyond the header, as a sloppy export has them
    wb.create_sheet("其他").append(["ignored"])  # only the first sheet is read
    wb.save(path)
    return path


def write_file(tmp_path: Path, fmt: str, header: list[str], rows: list[list[str]], name: str = "input") -> Path:
    if fmt == "xlsx":
        return write_xlsx(tmp_path / f"{name}.xlsx", header, rows)
    encoding, delimiter = {"utf-8": ("utf-8", ","), "utf-8-bom": ("utf-8-sig", ","), "gbk": ("gbk", ","),
                           "semicolon": ("utf-8", ";"), "tab": ("gb18030", "\t")}[fmt]
    return write_csv(tmp_path / f"{name}.csv", header, rows, encoding, delimiter)


def count(settings: Settings, table: str) -> int:
    with get_engine(settings.database_url).connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def stored(settings: Settings, kind: str) -> dict[str, dict[str, Any]]:
    spec = spec_for(kind)
    with get_engine(settings.database_url).connect() as conn:
        rows = conn.execute(select(spec.table).order_by(spec.table.c[spec.key])).mappings().all()
    return {r[spec.key]: dict(r) for r in rows}


def audit_updates(settings: Settings) -> list[AuditEntry]:
    with get_engine(settings.database_url).connect() as conn:
        return list(conn.execute(select(AuditEntry.__table__).where(AuditEntry.action == "update",
                                                                    AuditEntry.comment == "import")
                                 .order_by(AuditEntry.id)).mappings())


def assert_stored(settings: Settings, kind: str) -> None:
    rows = stored(settings, kind)
    expected = FILES[kind]["expected"]
    assert sorted(rows) == sorted(expected)
    for key, values in expected.items():
        got = {c: rows[key][c] for c in values}
        assert got == values, key


def import_runs(settings: Settings) -> list[dict[str, Any]]:
    with get_engine(settings.database_url).connect() as conn:
        return [dict(r) for r in conn.execute(select(ImportRun.__table__).order_by(ImportRun.id)).mappings()]


def assert_nothing_written(settings: Settings, kind: str) -> None:
    """No row written, and the attempt is on record as rejected (issue 19.31)."""
    assert count(settings, TABLES[kind]) == 0
    runs = import_runs(settings)
    assert runs and all(r["status"] in ("rejected", "failed") for r in runs)
    assert all(r["error_count"] >= 1 and r["errors"] and r["finished_at"] for r in runs)


def import_(settings: Settings, kind: str, path: Path, **kwargs: Any):
    kwargs.setdefault("actor", "tester")
    return import_file(settings, spec_for(kind), path, **kwargs)


def errors_of(settings: Settings, kind: str, path: Path, **kwargs: Any) -> list[str]:
    """The error lines of a rejected file (and nothing was written)."""
    with pytest.raises(ImportFileError) as info:
        import_(settings, kind, path, **kwargs)
    assert_nothing_written(settings, kind)
    assert "nothing was imported" in str(info.value)
    errors = [str(e) for e in info.value.errors]
    run = import_runs(settings)[-1]
    assert (run["status"], run["error_count"], run["errors"]) == ("rejected", len(errors), errors[:20])
    assert run["kind"] == kind and run["filename"] == str(path)
    return errors


# -- happy paths -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["utf-8", "utf-8-bom", "gbk", "xlsx", "semicolon"])
@pytest.mark.parametrize("kind", list(FILES))
def test_import_each_kind_and_format(settings: Settings, tmp_path: Path, kind: str, fmt: str):
    data = FILES[kind]
    path = write_file(tmp_path, fmt, data["header"], data["rows"])
    result = import_(settings, kind, path)
    n = len(data["rows"])
    assert (result.rows, result.inserted, result.updated, result.unchanged, result.rejected) == (n, n, 0, 0, 0)
    assert result.errors == [] and result.rejects_file is None
    assert_stored(settings, kind)
    assert count(settings, "import_runs") == 1
    with get_engine(settings.database_url).connect() as conn:
        run = conn.execute(select(ImportRun.__table__)).mappings().one()
        assert run["status"] == "ok" and run["actor"] == "tester" and run["counts"]["inserted"] == n
        entry = conn.execute(select(AuditEntry.__table__).where(AuditEntry.action == "import")).mappings().one()
        assert entry["entity_id"] == f"import:{run['id']}" and entry["after"]["sha256"] == run["sha256"]


def test_tab_separated_gb18030(settings: Settings, tmp_path: Path):
    data = FILES["complaints"]
    path = write_file(tmp_path, "tab", data["header"], data["rows"])
    assert import_(settings, "complaints", path).inserted == 3
    assert_stored(settings, "complaints")


def test_timestamps(settings: Settings, tmp_path: Path):
    """Naive = local (Asia/Shanghai); offsets honoured; YYYY/MM/DD HH:MM[:SS] and ISO 8601 accepted."""
    header = FILES["service-records"]["header"]
    cases = {
        "T1": ("2026-10-08 09:00", utc(2026, 10, 8, 1)),
        "T2": ("2026-10-08T09:00:00", utc(2026, 10, 8, 1)),
        "T3": ("2026/10/08 09:00", utc(2026, 10, 8, 1)),
        "T4": ("2026/10/08 09:00:30", utc(2026, 10, 8, 1, 0, 30)),
        "T5": ("2026/1/5 09:00", utc(2026, 1, 5, 1)),
        "T6": ("2026-10-08T09:00:00+09:00", utc(2026, 10, 8, 0)),
        "T7": ("2026-10-08 01:00:00Z", utc(2026, 10, 8, 1)),
        "T8": ("2026-10-08T03:30:00-0230", utc(2026, 10, 8, 6)),
        "T9": ("2026-10-01 00:10", utc(2026, 9, 30, 16, 10)),  # early morning local is the previous UTC day
        "T10": ("2026-10-08 09:00:00.250", datetime(2026, 10, 8, 1, 0, 0, 250000, tzinfo=UTC)),
        "T11": ("2026-10-08T09:00:00+08", utc(2026, 10, 8, 1)),  # hour-only offset, mixed with naive ones
        "T12": ("2026-10-08 09:00:00 +05:30", utc(2026, 10, 8, 3, 30)),
        "T13": ("2026-10-08", utc(2026, 10, 7, 16)),  # a date alone is local midnight
    }
    rows = [[k, "CS", "phone", "", v, "", "", ""] for k, (v, _) in cases.items()]
    result = import_(settings, "service-records", write_csv(tmp_path / "t.csv", header, rows))
    assert result.inserted == len(cases)
    got = stored(settings, "service-records")
    assert {k: got[k]["opened_at"] for k in cases} == {k: v for k, (_, v) in cases.items()}


def test_header_names_in_any_case_and_with_spaces(settings: Settings, tmp_path: Path):
    data = FILES["service-records"]
    header = [" Record_ID", "DEPARTMENT ", "Channel", "customer_id", "Opened_At", "first_response_at",
              "RESOLVED_AT", "First_Contact_Resolved"]
    assert import_(settings, "service-records", write_csv(tmp_path / "h.csv", header, data["rows"])).inserted == 5
    assert_stored(settings, "service-records")


def test_columns_in_any_order_and_unknown_columns_warn(settings: Settings, tmp_path: Path, caplog):
    data = FILES["customers"]
    header = ["备注", "email", "customer_id", "name", "phone", "department", "vip"]
    rows = [["x", r[2], r[0], r[1], r[3], r[4], "1"] for r in data["rows"]]
    result = import_(settings, "customers", write_csv(tmp_path / "c.csv", header, rows))
    assert result.inserted == 3
    assert result.warnings == ["ignored unknown columns: 备注, vip"]
    assert "备注, vip" in caplog.text
    assert_stored(settings, "customers")


def test_optional_item_columns_may_be_absent(settings: Settings, tmp_path: Path):
    header = ["response_id", "submitted_at", "department", "customer_id", "nps", "csat", "comment"]
    rows = [["S1", "2026-10-08 09:00", "CS", "", "9", "4", ""]]
    assert import_(settings, "survey-responses", write_csv(tmp_path / "s.csv", header, rows)).inserted == 1
    assert stored(settings, "survey-responses")["S1"]["answers"] == {}


# -- idempotency and updates -----------------------------------------------------------


@pytest.mark.parametrize("kind", list(FILES))
def test_reimport_is_a_no_op(settings: Settings, tmp_path: Path, kind: str):
    data = FILES[kind]
    path = write_file(tmp_path, "utf-8", data["header"], data["rows"])
    import_(settings, kind, path)
    before = stored(settings, kind)
    again = import_(settings, kind, path)
    n = len(data["rows"])
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (n, 0, 0, n)
    assert stored(settings, kind) == before  # not even updated_at moved
    assert audit_updates(settings) == []
    assert count(settings, "import_runs") == 2  # each import is recorded
    # the same rows from an XLSX with real dates and numbers are the same rows
    xlsx = import_(settings, kind, write_file(tmp_path, "xlsx", data["header"], data["rows"]))
    assert (xlsx.inserted, xlsx.updated, xlsx.unchanged) == (0, 0, n)


@pytest.mark.parametrize("kind", list(FILES))
def test_reimport_of_an_unchanged_file_reads_no_row(settings: Settings, tmp_path: Path, kind: str,
                                                    monkeypatch: pytest.MonkeyPatch):
    """The same file, mapping and configuration, and no row written since: "unchanged" from the
    fingerprint of the last clean import, without validating or comparing a row (still recorded)."""
    data = FILES[kind]
    path = write_file(tmp_path, "utf-8", data["header"], data["rows"])
    import_(settings, kind, path)

    def no_row_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("rows were read")

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "validate_chunk", no_row_work)
        again = import_(settings, kind, path)
    n = len(data["rows"])
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (n, 0, 0, n)
    runs = import_runs(settings)
    assert len(runs) == 2 and runs[-1]["status"] == "ok" and runs[-1]["counts"]["unchanged"] == n
    # another mapping is another import: read and compared row by row
    with monkeypatch.context() as patch:
        patch.setattr(ingest, "validate_chunk", no_row_work)
        with pytest.raises(AssertionError, match="rows were read"):
            import_(settings, kind, path, mapping=Mapping(datetime_format=None, encoding="utf-8"))


def test_a_big_first_import_builds_the_indexes_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """SQLite: a big file into an empty table drops the secondary indexes for the load and builds them
    again in the same transaction; a rejected file leaves them as they were."""
    from tests.conftest import make_settings

    settings = make_settings(f"sqlite:///{tmp_path / 'big.db'}", tmp_path)
    from sqms.db import migrate

    migrate(settings.database_url)
    monkeypatch.setattr(ingest, "DEFER_INDEXES_BYTES", 0)

    def indexes() -> set[str]:
        with get_engine(settings.database_url).connect() as conn:
            return {r[0] for r in conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'service_records'"))}

    before = indexes()
    assert any(sql and "customer_id" in sql for sql in before)
    data = FILES["service-records"]
    bad = write_csv(tmp_path / "bad.csv", data["header"], data["rows"] + [["X9", "NOPE"] + data["rows"][0][2:]])
    with pytest.raises(ImportValidationError):
        import_(settings, "service-records", bad)
    assert indexes() == before
    path = write_file(tmp_path, "utf-8", data["header"], data["rows"])
    assert import_(settings, "service-records", path).inserted == len(data["rows"])
    assert indexes() == before
    with get_engine(settings.database_url).connect() as conn:
        plan = " ".join(str(r) for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM service_records WHERE customer_id = 'C1'")))
    assert "INDEX" in plan.upper()
    get_engine(settings.database_url).dispose()


def test_a_row_changed_since_the_import_is_compared_again(settings: Settings, tmp_path: Path):
    """The shortcut never hides a change: a row edited in SQMS after the import makes the same file
    a real comparison again (the file's value restored and audited)."""
    from sqms.db import UnitOfWork
    from sqms.records.models import ServiceRecord

    data = FILES["service-records"]
    path = write_file(tmp_path, "utf-8", data["header"], data["rows"])
    import_(settings, "service-records", path)
    first_id = data["rows"][0][0]
    with UnitOfWork(settings.database_url, "editor") as uow:
        record = uow.session.get(ServiceRecord, first_id)
        original, record.channel = record.channel, "onsite" if record.channel != "onsite" else "phone"
        uow.commit()
    again = import_(settings, "service-records", path)
    assert (again.updated, again.unchanged) == (1, len(data["rows"]) - 1)
    assert stored(settings, "service-records")[first_id]["channel"] == original
    assert [u.entity_id for u in audit_updates(settings)] == [first_id]


def test_changed_row_updates_in_place_and_is_audited(settings: Settings, tmp_path: Path):
    data = FILES["complaints"]
    path = write_csv(tmp_path / "k.csv", data["header"], data["rows"])
    import_(settings, "complaints", path)
    rows = [list(r) for r in data["rows"]]
    rows[1][8] = "2026-02-26 17:00"  # K2 resolved
    rows[1][9] = "已处理 <i>ok</i>"
    rows[2][1] = "2026-10-09 09:00"  # K3 received a day later: the deadline moves with it
    changed = write_csv(tmp_path / "k2.csv", data["header"], rows)
    result = import_(settings, "complaints", changed, actor="li.na")
    assert (result.inserted, result.updated, result.unchanged) == (0, 2, 1)
    got = stored(settings, "complaints")
    assert len(got) == 3
    assert got["K2"]["resolved_at"] == utc(2026, 2, 26, 9)
    assert got["K2"]["description"] == "已处理 <i>ok</i>"
    assert got["K3"]["received_at"] == utc(2026, 10, 9, 1)
    assert got["K3"]["deadline_at"] == utc(2026, 10, 12, 15, 59, 59)  # Sat 10 (make-up), Mon 12
    assert got["K2"]["updated_at"] is not None
    entries = {e["entity_id"]: e for e in audit_updates(settings)}
    assert set(entries) == {"K2", "K3"}
    k2 = entries["K2"]
    assert k2["entity"] == "complaints" and k2["actor"] == "li.na"
    assert k2["before"] == {"resolved_at": None, "description": None}
    assert k2["after"] == {"resolved_at": "2026-02-26T09:00:00+00:00", "description": "已处理 <i>ok</i>"}
    assert entries["K3"]["before"] == {"received_at": "2026-10-08T01:00:00+00:00",
                                       "deadline_at": "2026-10-10T15:59:59+00:00",
                                       "first_contact_due_at": "2026-10-09T01:00:00+00:00"}
    assert entries["K3"]["after"] == {"received_at": "2026-10-09T01:00:00+00:00",
                                      "deadline_at": "2026-10-12T15:59:59+00:00",
                                      "first_contact_due_at": "2026-10-10T01:00:00+00:00"}
    # and importing the changed file again changes nothing more
    again = import_(settings, "complaints", changed)
    assert (again.updated, again.unchanged) == (0, 3)
    assert len(audit_updates(settings)) == 2


def test_changed_survey_answers_and_empty_cells_keep_known_values(settings: Settings, tmp_path: Path):
    data = FILES["survey-responses"]
    import_(settings, "survey-responses", write_csv(tmp_path / "s.csv", data["header"], data["rows"]))
    rows = [list(r) for r in data["rows"]]
    rows[0][4] = ""  # S1 nps empty in this export: the known 10 stays
    rows[0][6] = "3"  # TAN1 5 -> 3
    rows[0][7] = ""  # REL1 empty: the known 4 stays
    rows[1][8] = "补充意见"  # S2 comment given later
    result = import_(settings, "survey-responses", write_csv(tmp_path / "s2.csv", data["header"], rows))
    assert (result.updated, result.unchanged) == (2, 1)
    got = stored(settings, "survey-responses")
    assert got["S1"]["nps"] == 10 and got["S1"]["answers"] == {"TAN1": 3.0, "REL1": 4.0}
    assert got["S2"]["comment"] == "补充意见"
    entries = {e["entity_id"]: e for e in audit_updates(settings)}
    assert entries["S1"]["before"] == {"answers": {"TAN1": 5.0, "REL1": 4.0}}
    assert entries["S1"]["after"] == {"answers": {"TAN1": 3.0, "REL1": 4.0}}
    assert entries["S2"]["before"] == {"comment": None} and entries["S2"]["after"] == {"comment": "补充意见"}


@pytest.mark.parametrize("kind", ["service-records", "complaints", "customers"])
def test_an_older_export_never_blanks_a_known_value(settings: Settings, tmp_path: Path, kind: str):
    """Issue 19.1: an empty cell is "not known here", never "erase what is known"."""
    data = FILES[kind]
    import_(settings, kind, write_csv(tmp_path / "full.csv", data["header"], data["rows"]))
    before = stored(settings, kind)
    optional = {f.name for f in spec_for(kind).fields if not f.required}
    blanked = [[v if h not in optional else "" for h, v in zip(data["header"], row)] for row in data["rows"]]
    result = import_(settings, kind, write_csv(tmp_path / "blank.csv", data["header"], blanked))
    assert (result.inserted, result.updated) == (0, 0)
    assert stored(settings, kind) == before
    assert audit_updates(settings) == []


def test_new_and_existing_rows_in_one_file(settings: Settings, tmp_path: Path):
    data = FILES["service-records"]
    import_(settings, "service-records", write_csv(tmp_path / "a.csv", data["header"], data["rows"][:3]))
    result = import_(settings, "service-records", write_csv(tmp_path / "b.csv", data["header"], data["rows"]))
    assert (result.inserted, result.updated, result.unchanged) == (2, 0, 3)
    assert_stored(settings, "service-records")


# -- bad input: a clear error, nothing written -----------------------------------------


RECORD_HEADER = FILES["service-records"]["header"]
GOOD = ["R1", "CS", "phone", "C1", "2026-10-08 09:00", "2026-10-08 09:00:10", "2026-10-08 10:00", "1"]


def with_cell(column: str, value: str, base: list[str] = GOOD) -> list[str]:
    row = list(base)
    row[RECORD_HEADER.index(column)] = value
    return row


def test_utf16_file_is_refused(settings: Settings, tmp_path: Path):
    path = write_csv(tmp_path / "u16.csv", RECORD_HEADER, [GOOD], encoding="utf-16")
    (error,) = errors_of(settings, "service-records", path)
    assert "UTF-16" in error and "UTF-8" in error


def test_latin1_file_is_refused(settings: Settings, tmp_path: Path):
    rows = [GOOD, with_cell("record_id", "R2"), with_cell("customer_id", "Café", with_cell("record_id", "R3"))]
    path = write_csv(tmp_path / "latin1.csv", RECORD_HEADER, rows, encoding="latin-1")
    (error,) = errors_of(settings, "service-records", path)
    assert error.startswith("row 4")  # the header is row 1; the é is in the third data row
    assert "neither UTF-8 nor GBK" in error


def test_missing_column(settings: Settings, tmp_path: Path):
    header = [h for h in RECORD_HEADER if h not in ("resolved_at", "channel")]
    rows = [[v for h, v in zip(RECORD_HEADER, GOOD) if h in header]]
    errors = errors_of(settings, "service-records", write_csv(tmp_path / "m.csv", header, rows))
    # one message for the file, listing every missing column once (issue 19.28)
    assert errors == ["row 1: the file lacks the required columns channel, resolved_at (the file has: "
                      "record_id, department, customer_id, opened_at, first_response_at, first_contact_resolved); "
                      "resolved_at may hold empty values: a mapping can supply it with `defaults: {resolved_at: \"\"}`"]


def test_a_foreign_file_without_mapping_gets_a_hint(settings: Settings, tmp_path: Path):
    """Issue 19.27: an airline export without --mapping says that --mapping exists."""
    header = ["Passenger ID", "Flight Distance", "Departure Delay", "Satisfaction", "Gender"]
    (error,) = errors_of(settings, "survey-responses",
                         write_csv(tmp_path / "airline.csv", header, [["1", "100", "5", "satisfied", "F"]]))
    assert error.startswith("row 1: the file lacks the required columns response_id, submitted_at, department")
    assert "--mapping" in error and "config/mappings/" in error
    # a file of our own format with one column missing gets no such hint
    header = [h for h in RECORD_HEADER if h != "channel"]
    (error,) = errors_of(settings, "service-records", write_csv(tmp_path / "m.csv", header, [GOOD[:2] + GOOD[3:]]))
    assert "--mapping" not in error


def test_duplicate_column(settings: Settings, tmp_path: Path):
    header = RECORD_HEADER + ["Channel"]
    errors = errors_of(settings, "service-records", write_csv(tmp_path / "d.csv", header, [GOOD + ["phone"]]))
    assert errors == ["row 1, column channel: the column appears twice"]


CELL_ERRORS = [
    ("opened_at", "2026-13-01 09:00", "row 3, column opened_at: bad date '2026-13-01 09:00'"),
    ("opened_at", "08/10/2026 09:00", "row 3, column opened_at: bad date '08/10/2026 09:00'"),
    ("opened_at", "yesterday", "row 3, column opened_at: bad date 'yesterday'"),
    ("opened_at", "2026-10-08 09:00 CST", "row 3, column opened_at: bad date '2026-10-08 09:00 CST'"),
    ("opened_at", "1989-12-31 09:00", "row 3, column opened_at: bad date '1989-12-31 09:00'"),
    ("opened_at", "", "row 3, column opened_at: a value is required"),
    ("channel", "fax", "row 3, column channel: unknown channel 'fax' (expected one of: phone, online, email, onsite)"),
    ("department", "QA", "row 3, column department: unknown department 'QA'"),
    ("department", "客服", "row 3, column department: unknown department '客服'"),
    ("record_id", "R1", "row 3, column record_id: duplicate record_id 'R1' (first in row 2)"),
    ("record_id", "<script>alert(1)</script>", "row 3, column record_id: invalid id"),
    ("record_id", "R 2", "row 3, column record_id: invalid id"),
    ("record_id", "x" * 65, "row 3, column record_id: invalid id"),
    ("resolved_at", "2026-10-08 08:59", "row 3, column resolved_at: is before opened_at"),
    ("first_response_at", "2026-10-07 23:00", "row 3, column first_response_at: is before opened_at"),
    ("first_contact_resolved", "maybe", "row 3, column first_contact_resolved: 'maybe' is not a yes/no value"),
]


@pytest.mark.parametrize("column, value, message", CELL_ERRORS, ids=[f"{c}={v[:20]}" for c, v, _ in CELL_ERRORS])
def test_bad_cell_rejects_the_file(settings: Settings, tmp_path: Path, column: str, value: str, message: str):
    bad = with_cell(column, value, with_cell("record_id", "R2")) if column != "record_id" else with_cell(column, value)
    rows = [GOOD, bad, with_cell("record_id", "R3")]
    path = write_csv(tmp_path / "bad.csv", RECORD_HEADER, rows)
    with pytest.raises(ImportValidationError) as info:
        import_(settings, "service-records", path)
    errors = [str(e) for e in info.value.errors]
    assert len(errors) == 1 and errors[0].startswith(message), errors
    assert "1 of 3 rows are invalid" in str(info.value) and message in str(info.value)
    assert_nothing_written(settings, "service-records")


@pytest.mark.parametrize("fmt", ["utf-8", "xlsx"])
def test_every_error_is_listed_with_spreadsheet_rows(settings: Settings, tmp_path: Path, fmt: str):
    rows = [GOOD] + [with_cell("record_id", f"R{i}") for i in range(2, 10)]
    rows[2] = with_cell("channel", "fax", rows[2])  # row 4
    rows[5] = with_cell("opened_at", "2026-02-30 10:00", rows[5])  # row 7
    rows[5] = with_cell("department", "", rows[5])  # row 7 again
    rows[8] = with_cell("record_id", "R2", rows[8])  # row 10: duplicate of row 3
    path = write_file(tmp_path, fmt, RECORD_HEADER, rows)
    with pytest.raises(ImportValidationError) as info:
        import_(settings, "service-records", path)
    errors = [str(e) for e in info.value.errors]
    assert [e.split(":")[0] for e in errors] == [
        "row 4, column channel", "row 7, column department", "row 7, column opened_at",
        "row 10, column record_id"]
    assert "3 of 9 rows are invalid" in str(info.value)
    assert "(first in row 3)" in errors[3]
    assert_nothing_written(settings, "service-records")


def test_empty_file(settings: Settings, tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    (error,) = errors_of(settings, "service-records", path)
    assert "the file is empty" in error


def test_blank_lines_only(settings: Settings, tmp_path: Path):
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\n\n\n")
    (error,) = errors_of(settings, "service-records", path)
    assert "the file is empty" in error


@pytest.mark.parametrize("fmt", ["utf-8", "xlsx"])
def test_header_only_file(settings: Settings, tmp_path: Path, fmt: str):
    (error,) = errors_of(settings, "service-records", write_file(tmp_path, fmt, RECORD_HEADER, []))
    assert "no data rows" in error


def test_empty_workbook(settings: Settings, tmp_path: Path):
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    (error,) = errors_of(settings, "service-records", path)
    assert "the file is empty" in error


def test_damaged_workbook(settings: Settings, tmp_path: Path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    (error,) = errors_of(settings, "service-records", path)
    assert "cannot read the workbook" in error


def test_missing_file(settings: Settings, tmp_path: Path):
    (error,) = errors_of(settings, "service-records", tmp_path / "nope.csv")
    assert "not found" in error


@pytest.mark.parametrize("where", [2, 3, 4])
def test_too_many_fields_in_a_row(settings: Settings, tmp_path: Path, where: int):
    """Also in the first data row, where pandas would otherwise take the first column as an index."""
    rows = [GOOD, with_cell("record_id", "R2"), with_cell("record_id", "R3")]
    rows[where - 2] = rows[where - 2] + ["extra"]
    errors = errors_of(settings, "service-records", write_csv(tmp_path / "wide.csv", RECORD_HEADER, rows))
    assert len(errors) == 1
    assert errors[0] == (f"row {where}, column 9: found a value in column 9, the header has 8 columns "
                         "(a delimiter or quote is off)")


@pytest.mark.parametrize("chunk_rows", [100_000, 2])
def test_far_too_many_fields_in_a_row(settings: Settings, tmp_path: Path, monkeypatch, chunk_rows: int):
    monkeypatch.setattr(ingest, "CHUNK_ROWS", chunk_rows)
    rows = [with_cell("record_id", f"R{i}") for i in range(1, 8)]
    rows[5] = rows[5] + ["a", "b", "c"]  # row 7, in the third chunk of two rows
    errors = errors_of(settings, "service-records", write_csv(tmp_path / "wide.csv", RECORD_HEADER, rows))
    assert errors == ["row 7, column 9: found 11 fields, the header has 8 columns (a delimiter or quote is off)"]


def test_trailing_empty_field_is_harmless(settings: Settings, tmp_path: Path):
    rows = [GOOD + [""], with_cell("record_id", "R2")]
    assert import_(settings, "service-records", write_csv(tmp_path / "t.csv", RECORD_HEADER, rows)).inserted == 2


def test_short_rows_are_empty_cells(settings: Settings, tmp_path: Path):
    path = tmp_path / "short.csv"
    path.write_text(",".join(RECORD_HEADER) + "\nR1,CS,phone,,2026-10-08 09:00\n", encoding="utf-8")
    assert import_(settings, "service-records", path).inserted == 1
    r1 = stored(settings, "service-records")["R1"]
    assert r1["resolved_at"] is None and r1["first_contact_resolved"] is None


def test_blank_lines_do_not_shift_row_numbers(settings: Settings, tmp_path: Path):
    lines = [",".join(RECORD_HEADER), ",".join(GOOD), "", ",".join(with_cell("record_id", "R2")), "",
             ",".join(with_cell("channel", "fax", with_cell("record_id", "R3")))]
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    errors = errors_of(settings, "service-records", path)
    assert errors == ["row 6, column channel: unknown channel 'fax' (expected one of: phone, online, email, onsite)"]
    # the valid rows alone import fine, blank lines skipped
    del lines[5]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert import_(settings, "service-records", path).inserted == 2


def test_empty_rows_in_a_workbook_are_skipped(settings: Settings, tmp_path: Path):
    rows = [GOOD, [""] * 8, with_cell("channel", "fax", with_cell("record_id", "R2"))]
    path = write_xlsx(tmp_path / "gaps.xlsx", RECORD_HEADER, rows)
    errors = errors_of(settings, "service-records", path)
    assert [e.split(":")[0] for e in errors] == ["row 4, column channel"]


def test_cells_beyond_the_header_in_a_workbook(settings: Settings, tmp_path: Path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(RECORD_HEADER)
    ws.append(GOOD)
    ws.append(with_cell("record_id", "R2") + [None, "stray"])
    wb.save(tmp_path / "stray.xlsx")
    errors = errors_of(settings, "service-records", tmp_path / "stray.xlsx")
    assert len(errors) == 1 and errors[0].startswith("row 3, column 10: ")


def test_workbook_with_a_stale_dimension(settings: Settings, tmp_path: Path):
    """Some exporters store a wrong used range (`<dimension ref="A1:B2"/>`); every row must still be read."""
    import re
    import zipfile

    data = FILES["customers"]
    write_xlsx(tmp_path / "good.xlsx", data["header"], data["rows"])
    with zipfile.ZipFile(tmp_path / "good.xlsx") as zin, zipfile.ZipFile(tmp_path / "stale.xlsx", "w") as zout:
        for item in zin.infolist():
            content = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content, replaced = re.subn(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:B2"/>', content)
                assert replaced == 1
            zout.writestr(item, content)
    assert import_(settings, "customers", tmp_path / "stale.xlsx").inserted == 3
    assert_stored(settings, "customers")


@pytest.mark.parametrize("value, message", [
    ("11", "row 2, column nps: '11' is outside 0–10"),
    ("-1", "row 2, column nps: '-1' is outside 0–10"),
    ("7.5", "row 2, column nps: '7.5' is not a whole number"),
    ("ten", "row 2, column nps: 'ten' is not a number"),
])
def test_bad_nps(settings: Settings, tmp_path: Path, value: str, message: str):
    header = FILES["survey-responses"]["header"]
    row = ["S1", "2026-10-08 09:00", "CS", "", value, "4", "", "", ""]
    errors = errors_of(settings, "survey-responses", write_csv(tmp_path / "s.csv", header, [row]))
    assert errors == [message]


@pytest.mark.parametrize("column, value, message", [
    ("csat", "0", "row 2, column csat: '0' is outside 1–5"),
    ("csat", "5.5", "row 2, column csat: '5.5' is outside 1–5"),
    ("TAN1", "6", "row 2, column TAN1: '6' is outside 1–5"),
    ("REL1", "good", "row 2, column REL1: 'good' is not a number"),
])
def test_bad_scores(settings: Settings, tmp_path: Path, column: str, value: str, message: str):
    header = FILES["survey-responses"]["header"]
    row = ["S1", "2026-10-08 09:00", "CS", "", "9", "4", "", "", ""]
    row[header.index(column)] = value
    assert errors_of(settings, "survey-responses", write_csv(tmp_path / "s.csv", header, [row])) == [message]


def test_complaint_errors(settings: Settings, tmp_path: Path):
    header = FILES["complaints"]["header"]
    rows = [
        ["K1", "2026-10-08 09:00", "CS", "phone", "urgent", "x", "", "", "", ""],
        ["K2", "2026-10-08 09:00", "CS", "phone", "normal", "", "", "", "2026-10-08 08:00", ""],
        ["K3<script>", "2026-10-08 09:00", "CS", "phone", "normal", "x", "", "", "", "<script>ok</script>"],
        ["K4", "2026-10-08 09:00", "CS", "phone", "normal", "x" * 65, "", "2026-10-07", "", ""],
    ]
    errors = errors_of(settings, "complaints", write_csv(tmp_path / "k.csv", header, rows))
    assert [e.split(":")[0] for e in errors] == [
        "row 2, column severity", "row 3, column category", "row 3, column resolved_at",
        "row 4, column complaint_id", "row 5, column category", "row 5, column responded_at"]
    assert "unknown severity 'urgent' (expected one of: normal, special)" in errors[0]


def test_customer_errors(settings: Settings, tmp_path: Path):
    header = FILES["customers"]["header"]
    rows = [["C1", "x", "not-an-email", "", ""], ["C2", "y", "a@b.cn", "", "Nowhere"], ["", "z", "", "", ""]]
    errors = errors_of(settings, "customers", write_csv(tmp_path / "c.csv", header, rows))
    assert errors == [
        "row 2, column email: 'not-an-email' is not an email address",
        errors[1],
        "row 4, column customer_id: a value is required",
    ]
    assert errors[1].startswith("row 3, column department: unknown department 'Nowhere'")


def test_values_longer_than_their_column(settings: Settings, tmp_path: Path):
    """PostgreSQL would refuse them with an exception; they are row errors on both databases."""
    header = FILES["customers"]["header"]
    rows = [["C1", "x" * 201, "a@b.cn", "", ""], ["C2", "y", "a" * 250 + "@b.cn", "", ""],
            ["C3", "z", "", "1" * 41, ""]]
    errors = errors_of(settings, "customers", write_csv(tmp_path / "c.csv", header, rows))
    assert errors == ["row 2, column name: longer than 200 characters",
                      "row 3, column email: longer than 254 characters",
                      "row 4, column phone: longer than 40 characters"]


# -- skip_invalid ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["utf-8", "xlsx"])
def test_skip_invalid_imports_the_valid_rows_and_writes_rejects(settings: Settings, tmp_path: Path, fmt: str):
    rows = [GOOD, with_cell("channel", "fax", with_cell("record_id", "R2")), with_cell("record_id", "R3"),
            with_cell("record_id", "R1"), with_cell("opened_at", "soon", with_cell("department", "QA",
                                                                                      with_cell("record_id", "R5")))]
    path = write_file(tmp_path, fmt, RECORD_HEADER, rows)
    result = import_(settings, "service-records", path, skip_invalid=True)
    assert (result.rows, result.inserted, result.rejected) == (5, 2, 3)
    assert sorted(stored(settings, "service-records")) == ["R1", "R3"]
    assert result.rejects_file == str(path.with_name(path.name + ".rejects.csv"))
    rejects = pd.read_csv(result.rejects_file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(rejects.columns[:2]) == ["row", "errors"]
    assert rejects["row"].tolist() == ["3", "5", "6"]
    assert rejects["record_id"].tolist() == ["R2", "R1", "R5"]
    assert rejects["errors"].tolist()[0] == ("channel: unknown channel 'fax' "
                                             "(expected one of: phone, online, email, onsite)")
    assert rejects["errors"].tolist()[1] == "record_id: duplicate record_id 'R1' (first in row 2)"
    assert "department: unknown department 'QA'" in rejects["errors"].tolist()[2]
    assert "opened_at: bad date 'soon'" in rejects["errors"].tolist()[2]
    assert rejects["channel"].tolist()[0] == "fax"  # the rejected cells as they were in the file
    with get_engine(settings.database_url).connect() as conn:
        run = conn.execute(select(ImportRun.__table__)).mappings().one()
    assert run["status"] == "partial" and run["rejects_file"] == result.rejects_file
    assert run["counts"]["rejected"] == 3
    assert run["error_count"] == len(result.errors) and run["errors"] == [str(e) for e in result.errors]


def test_skip_invalid_with_only_bad_rows(settings: Settings, tmp_path: Path):
    path = write_csv(tmp_path / "bad.csv", RECORD_HEADER, [with_cell("channel", "fax")])
    result = import_(settings, "service-records", path, skip_invalid=True)
    assert (result.inserted, result.rejected) == (0, 1)
    assert count(settings, "service_records") == 0
    assert Path(result.rejects_file).exists()


def test_skip_invalid_does_not_excuse_a_broken_file(settings: Settings, tmp_path: Path):
    header = [h for h in RECORD_HEADER if h != "opened_at"]
    rows = [[v for h, v in zip(RECORD_HEADER, GOOD) if h != "opened_at"]]
    with pytest.raises(ImportFileError, match="row 1: the file lacks the required column opened_at"):
        import_(settings, "service-records", write_csv(tmp_path / "m.csv", header, rows), skip_invalid=True)
    assert_nothing_written(settings, "service-records")


# -- chunks ----------------------------------------------------------------------------


def test_duplicates_and_errors_across_chunks(settings: Settings, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 4)
    rows = [with_cell("record_id", f"R{i}") for i in range(1, 12)]  # rows 2..12
    rows[6] = with_cell("record_id", "R2")  # row 8, second chunk: duplicate of row 3 (first chunk)
    rows[9] = with_cell("record_id", "R2")  # row 11, third chunk
    rows[8] = with_cell("channel", "fax", rows[8])  # row 10
    path = write_csv(tmp_path / "chunks.csv", RECORD_HEADER, rows)
    with pytest.raises(ImportValidationError) as info:
        import_(settings, "service-records", path)
    assert [str(e) for e in info.value.errors] == [
        "row 8, column record_id: duplicate record_id 'R2' (first in row 3)",
        "row 10, column channel: unknown channel 'fax' (expected one of: phone, online, email, onsite)",
        "row 11, column record_id: duplicate record_id 'R2' (first in row 3)",
    ]
    assert_nothing_written(settings, "service-records")
    result = import_(settings, "service-records", path, skip_invalid=True)
    assert (result.rows, result.inserted, result.rejected) == (11, 8, 3)
    assert count(settings, "service_records") == 8


@pytest.mark.parametrize("fmt", ["utf-8", "xlsx"])
def test_too_many_fields_in_a_later_chunk(settings: Settings, tmp_path: Path, monkeypatch, fmt: str):
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 3)
    rows = [with_cell("record_id", f"R{i}") for i in range(1, 9)]
    rows[6] = rows[6] + ["x"]  # row 8
    errors = errors_of(settings, "service-records", write_file(tmp_path, fmt, RECORD_HEADER, rows))
    assert len(errors) == 1 and errors[0].startswith("row 8, column 9: ")


# -- mapping files ---------------------------------------------------------------------


FOREIGN_SURVEY_MAPPING = """\
columns:
  问卷编号: response_id
  提交时间: submitted_at
  部门: department
  客户编号: customer_id
  推荐度: nps
  满意度: csat
  仪容仪表: TAN1
  按时服务: REL1
  意见建议: comment
values:
  department: {客服中心: CS, 运营中心: OPS, 销售中心: SALES}
not_answered: [0, "未作答"]
scale:
  csat: {from: [1, 10], to: [1, 5]}
  items: {from: [1, 7], to: [1, 5]}
"""


def test_mapping_imports_a_foreign_survey_file(settings: Settings, tmp_path: Path):
    mapping_path = tmp_path / "foreign.yaml"
    mapping_path.write_text(FOREIGN_SURVEY_MAPPING, encoding="utf-8")
    header = ["问卷编号", "提交时间", "部门", "客户编号", "推荐度", "满意度", "仪容仪表", "按时服务", "意见建议", "IP地址"]
    rows = [
        ["Q1", "2026/10/08 09:00", "客服中心", "C1", "10", "10", "7", "1", "很好", "1.2.3.4"],
        ["Q2", "2026/10/08 10:00", "运营中心", "", "6", "1", "4", "0", "", "1.2.3.5"],
        ["Q3", "2026/10/09 10:00", "SALES", "C2", "0", "0", "未作答", "5.5", "<img src=x onerror=alert(1)>", ""],
        ["Q4", "2026/10/09 11:00", "销售中心", "C3", "未作答", "8", "", "7", "", ""],
    ]
    path = write_csv(tmp_path / "wjx.csv", header, rows, encoding="gbk")
    result = import_(settings, "survey-responses", path, mapping=load_mapping(mapping_path))
    assert result.inserted == 4
    assert result.warnings == ["ignored unknown columns: IP地址"]
    got = stored(settings, "survey-responses")
    assert got["Q1"]["submitted_at"] == utc(2026, 10, 8, 1)
    assert (got["Q1"]["department"], got["Q1"]["nps"], got["Q1"]["csat"]) == ("CS", 10, 5.0)
    assert got["Q1"]["answers"] == {"TAN1": 5.0, "REL1": 1.0}
    assert (got["Q2"]["department"], got["Q2"]["nps"], got["Q2"]["csat"]) == ("OPS", 6, 1.0)
    assert got["Q2"]["answers"] == {"TAN1": pytest.approx(1 + 3 * 4 / 6)}  # 0 = not answered
    # nps 0 is a real answer (a detractor) on the 0–10 scale, not "not answered"
    assert (got["Q3"]["department"], got["Q3"]["nps"], got["Q3"]["csat"]) == ("SALES", 0, None)
    assert got["Q3"]["answers"] == {"REL1": pytest.approx(1 + 4.5 * 4 / 6)}
    assert got["Q3"]["comment"] == "<img src=x onerror=alert(1)>"
    assert got["Q4"]["nps"] is None and got["Q4"]["csat"] == pytest.approx(1 + 7 * 4 / 9)
    assert got["Q4"]["answers"] == {"REL1": 5.0}


def test_mapping_scale_errors_name_the_file_scale(settings: Settings, tmp_path: Path):
    mapping_path = tmp_path / "foreign.yaml"
    mapping_path.write_text(FOREIGN_SURVEY_MAPPING, encoding="utf-8")
    header = ["问卷编号", "提交时间", "部门", "客户编号", "推荐度", "满意度", "仪容仪表", "按时服务", "意见建议"]
    rows = [["Q1", "2026-10-08 09:00", "客服中心", "", "", "11", "8", "", ""],
            ["Q2", "2026-10-08 09:00", "总经办", "", "", "3", "2", "", ""],
            ["Q3", "2026-10-08 09:00", "外包中心", "", "", "3", "2", "", ""]]
    errors = errors_of(settings, "survey-responses", write_csv(tmp_path / "w.csv", header, rows),
                       mapping=load_mapping(mapping_path))
    assert errors[0] == "row 2, column TAN1: '8' is outside the file's scale 1–7"
    assert errors[1] == "row 2, column csat: '11' is outside the file's scale 1–10"
    assert errors[2].startswith("row 4, column department: unknown department '外包中心'")
    assert len(errors) == 3


def test_example_mappings_of_the_repository(settings: Settings, tmp_path: Path):
    header = ["工单号", "受理部门", "渠道", "客户编号", "受理时间", "首次响应时间", "办结时间", "一次解决"]
    rows = [["W1", "客服部", "电话", "C1", "2026/10/08 09:00", "2026/10/08 09:00:25", "2026/10/08 09:30", "是"],
            ["W2", "运营部", "在线客服", "", "2026/10/08 10:00", "", "", ""],
            ["W3", "销售部", "现场", "C2", "2026/10/08 11:00", "", "", "否"]]
    path = write_xlsx(tmp_path / "calls.xlsx", header, rows, typed=False)
    mapping = load_mapping(ROOT / "config" / "mappings" / "example-service-records.yaml")
    assert import_(settings, "service-records", path, mapping=mapping).inserted == 3
    got = stored(settings, "service-records")
    assert [got[k]["channel"] for k in ("W1", "W2", "W3")] == ["phone", "online", "onsite"]
    assert got["W1"]["opened_at"] == utc(2026, 10, 8, 1) and got["W1"]["first_contact_resolved"] is True

    header = ["问卷编号", "提交时间", "部门", "客户编号", "推荐度", "满意度", "意见建议"]
    rows = [["Q1", "2026-10-08 09:00", "客服中心", "C1", "9", "10", "好"]]
    mapping = load_mapping(ROOT / "config" / "mappings" / "example-survey.yaml")
    path = write_csv(tmp_path / "survey.csv", header, rows)
    assert import_(settings, "survey-responses", path, mapping=mapping).inserted == 1
    q1 = stored(settings, "survey-responses")["Q1"]
    assert (q1["department"], q1["nps"], q1["csat"]) == ("CS", 9, 5.0)


def test_mapping_values_are_applied_before_validation(settings: Settings, tmp_path: Path):
    mapping = Mapping.model_validate({
        "columns": {"渠道": "channel", "一次解决": "first_contact_resolved"},
        "values": {"channel": {"电话": "phone", "传真": "fax"}, "first_contact_resolved": {"Y": True, "N": False}},
    })
    header = ["record_id", "department", "渠道", "customer_id", "opened_at", "first_response_at", "resolved_at",
              "一次解决"]
    rows = [["R1", "CS", "电话", "", "2026-10-08 09:00", "", "", "Y"],
            ["R2", "CS", "传真", "", "2026-10-08 09:00", "", "", "N"]]
    path = write_csv(tmp_path / "m.csv", header, rows)
    with pytest.raises(ImportValidationError) as info:
        import_(settings, "service-records", path, mapping=mapping)
    # the error shows the value after mapping and names our column
    assert [str(e) for e in info.value.errors] == [
        "row 3, column channel: unknown channel 'fax' (expected one of: phone, online, email, onsite)"]
    path = write_csv(tmp_path / "m.csv", header, rows[:1])
    assert import_(settings, "service-records", path, mapping=mapping).inserted == 1
    assert stored(settings, "service-records")["R1"]["first_contact_resolved"] is True


def test_mapping_keys_may_name_their_columns_in_any_case(settings: Settings, tmp_path: Path):
    mapping = Mapping.model_validate({
        "columns": {"Channel Name": "channel"},
        "values": {"channel name": {"Tel": "phone"}, "Department": {"Service": "CS"}},
    })
    header = ["RECORD_ID", "department", "CHANNEL NAME", "customer_id", "opened_at", "first_response_at",
              "resolved_at", "first_contact_resolved"]
    rows = [["R1", "Service", "Tel", "", "2026-10-08 09:00", "", "", ""]]
    path = write_csv(tmp_path / "m.csv", header, rows)
    assert import_(settings, "service-records", path, mapping=mapping).inserted == 1
    assert stored(settings, "service-records")["R1"]["channel"] == "phone"
    assert stored(settings, "service-records")["R1"]["department"] == "CS"


def test_mapping_rules_for_unknown_columns_are_errors(settings: Settings, tmp_path: Path):
    mapping = Mapping.model_validate({"values": {"chanel": {"Tel": "phone"}}, "scale": {"items": {
        "from": [1, 7], "to": [1, 5]}}})
    path = write_csv(tmp_path / "m.csv", RECORD_HEADER, [GOOD])
    errors = errors_of(settings, "service-records", path, mapping=mapping)
    assert len(errors) == 2
    assert errors[0].startswith("mapping values.chanel: the file format has no such column")
    assert errors[1].startswith("mapping scale.items: the file format has no such column")


def test_mapping_with_a_custom_datetime_format(settings: Settings, tmp_path: Path):
    mapping = Mapping.model_validate({"datetime_format": "%d.%m.%Y %H:%M"})
    rows = [with_cell("opened_at", "08.10.2026 09:00", with_cell("resolved_at", "08.10.2026 10:00",
                                                                  with_cell("first_response_at", "")))]
    path = write_csv(tmp_path / "d.csv", RECORD_HEADER, rows)
    assert import_(settings, "service-records", path, mapping=mapping).inserted == 1
    assert stored(settings, "service-records")["R1"]["opened_at"] == utc(2026, 10, 8, 1)


def test_a_broken_mapping_file_is_a_recorded_attempt(settings: Settings, tmp_path: Path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("colums: {a: b}\n", encoding="utf-8")
    path = write_csv(tmp_path / "r.csv", RECORD_HEADER, [GOOD])
    (error,) = errors_of(settings, "service-records", path, mapping=mapping)
    assert "colums" in error


def test_bad_mapping_files(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text("columns: [a, b]\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="columns"):
        load_mapping(path)
    path.write_text("scale:\n  csat: {from: [10, 1], to: [1, 5]}\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="low < high"):
        load_mapping(path)
    path.write_text("colums: {a: b}\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="colums"):
        load_mapping(path)
    with pytest.raises(ImportFileError, match="not found"):
        load_mapping(tmp_path / "nope.yaml")


# -- volume ----------------------------------------------------------------------------


def generate_records(path: Path, n: int, seed: int = 20261008) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.integers(0, 31 * 86400, n), unit="s")
    response = opened + pd.to_timedelta(rng.integers(1, 300, n), unit="s")
    resolved = opened + pd.to_timedelta(rng.integers(60, 72 * 3600, n), unit="s")
    fmt = "%Y-%m-%d %H:%M:%S"
    frame = pd.DataFrame({
        "record_id": [f"SR{i:07d}" for i in range(n)],
        "department": rng.choice(["CS", "OPS", "SALES", "客服部", "RND"], n),
        "channel": rng.choice(["phone", "online", "email", "onsite"], n),
        "customer_id": [f"C{i:05d}" for i in rng.integers(0, 50_000, n)],
        "opened_at": opened.strftime(fmt),
        "first_response_at": np.where(rng.random(n) < 0.9, response.strftime(fmt), ""),
        "resolved_at": np.where(rng.random(n) < 0.8, resolved.strftime(fmt), ""),
        "first_contact_resolved": rng.choice(["1", "0", "", "是", "否"], n),
    })
    frame.to_csv(path, index=False, encoding="utf-8")
    return frame


def test_200k_records_in_one_go(settings: Settings, tmp_path: Path, capsys):
    n = 200_000
    path = tmp_path / "records.csv"
    generate_records(path, n)
    started = time.perf_counter()
    result = import_(settings, "service-records", path)
    first = time.perf_counter() - started
    assert (result.rows, result.inserted, result.rejected) == (n, n, 0)
    assert count(settings, "service_records") == n
    started = time.perf_counter()
    again = import_(settings, "service-records", path)
    second = time.perf_counter() - started
    assert (again.rows, again.inserted, again.updated, again.unchanged) == (n, 0, 0, n)
    assert count(settings, "service_records") == n
    with capsys.disabled():
        print(f"\n  200,000 records on {settings.database_url.split(':')[0]}: import {first:.1f} s, "
              f"re-import {second:.1f} s")


def test_text_that_looks_like_a_null_marker_is_kept(settings: Settings, tmp_path: Path):
    """PostgreSQL's COPY must not read a comment of `\\N` (or `NULL`) as a missing value."""
    header = FILES["survey-responses"]["header"]
    rows = [["S1", "2026-10-08 09:00", "CS", "", "9", "4", "", "", "\\N"],
            ["S2", "2026-10-08 09:00", "CS", "", "9", "4", "", "", "NULL"],
            ["S3", "2026-10-08 09:00", "CS", "", "9", "4", "", "", '"'],
            ["S4", "2026-10-08 09:00", "CS", "", "9", "4", "", "", "a\tb\r\nc\\d\x07"]]  # the bell is dropped
    assert import_(settings, "survey-responses", write_csv(tmp_path / "n.csv", header, rows)).inserted == 4
    got = stored(settings, "survey-responses")
    assert [got[k]["comment"] for k in ("S1", "S2", "S3", "S4")] == ["\\N", "NULL", '"', "a\tb\r\nc\\d"]


# -- mappings: typos, defaults (issue 19.2, 19.28) ---------------------------------------


def test_mapping_naming_a_column_the_file_lacks_is_an_error(settings: Settings, tmp_path: Path):
    """A typo under `columns:` used to drop that column silently."""
    mapping = Mapping.model_validate({"columns": {"问卷编号": "response_id", "提交时间": "submitted_at",
                                                  "部门": "department", "满意程度": "csat"}})  # the file says 满意度
    header = ["问卷编号", "提交时间", "部门", "满意度"]
    path = write_csv(tmp_path / "typo.csv", header, [["Q1", "2026-10-08 09:00", "CS", "5"]])
    error = errors_of(settings, "survey-responses", path, mapping=mapping)[0]
    assert error.startswith("mapping columns.满意程度: the file has no column '满意程度' (the file has: 问卷编号, 提交时间")
    # and a mapping renaming to a column our format does not have is named too
    mapping = Mapping.model_validate({"columns": {"问卷编号": "response_id", "提交时间": "submitted_at",
                                                  "部门": "department", "满意度": "csat_score"}})
    error = errors_of(settings, "survey-responses", path, mapping=mapping)[0]
    assert error.startswith("mapping columns.满意度: 'csat_score' is not a column of the file format")


def test_mapping_defaults_fill_a_missing_column_and_empty_cells(settings: Settings, tmp_path: Path):
    mapping_path = tmp_path / "defaults.yaml"
    mapping_path.write_text("columns: {编号: response_id, 满意度: csat, 部门: department}\n"
                            "defaults:\n  submitted_at: 2026-10-31 12:00\n  department: 运营部\n"
                            "  customer_id: ''\n  nps: ''\n  comment: ''\n", encoding="utf-8")
    mapping = load_mapping(mapping_path)
    rows = [["Q1", "5", ""], ["Q2", "4", "CS"]]
    path = write_csv(tmp_path / "no-dates.csv", ["编号", "满意度", "部门"], rows)
    assert import_(settings, "survey-responses", path, mapping=mapping).inserted == 2
    got = stored(settings, "survey-responses")
    assert got["Q1"]["submitted_at"] == got["Q2"]["submitted_at"] == utc(2026, 10, 31, 4)
    assert (got["Q1"]["department"], got["Q2"]["department"]) == ("OPS", "CS")


def test_mapping_defaults_are_validated_and_named(settings: Settings, tmp_path: Path):
    path = write_csv(tmp_path / "s.csv", ["response_id", "csat"], [["Q1", "5"], ["Q2", "4"]])
    optional = {"customer_id": "", "nps": "", "comment": ""}
    mapping = Mapping.model_validate({"defaults": {"submitted_at": "yesterday", "department": "OPS", **optional}})
    errors = errors_of(settings, "survey-responses", path, mapping=mapping)
    assert errors == ["row 2, column submitted_at: bad date 'yesterday' (expected ISO 8601 or YYYY/MM/DD HH:MM[:SS])",
                      "row 3, column submitted_at: bad date 'yesterday' (expected ISO 8601 or YYYY/MM/DD HH:MM[:SS])"]
    mapping = Mapping.model_validate({"defaults": {"submited_at": "2026-10-01", "department": "OPS"}})
    errors = errors_of(settings, "survey-responses", path, mapping=mapping)
    assert errors[0].startswith("mapping defaults.submited_at: the file format has no such column")


# -- XLSX formulas without a saved value (issue 19.3) ---------------------------------------


def test_formula_without_a_saved_value_is_an_error(settings: Settings, tmp_path: Path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(FILES["survey-responses"]["header"])
    ws.append(["S1", "2026-10-08 09:00", "CS", "C1", "9", "5", "4", "4", "ok"])
    ws.append(["S2", "2026-10-08 10:00", "CS", "", "8", "4", "=G2-1", "4", "=\"\""])  # never calculated
    path = tmp_path / "formulas.xlsx"
    wb.save(path)  # openpyxl writes the formulas without any cached value, as a script would
    errors = errors_of(settings, "survey-responses", path)
    assert errors == ["row 3, column TAN1: formula without a saved value: open and save the file in Excel",
                      "row 3, column comment: formula without a saved value: open and save the file in Excel"]


def test_formula_with_a_saved_value_imports_its_value(settings: Settings, tmp_path: Path):
    import zipfile

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(FILES["survey-responses"]["header"])
    ws.append(["S1", "2026-10-08 09:00", "CS", "", "9", "=4+1", "", "", ""])
    plain = tmp_path / "plain.xlsx"
    wb.save(plain)
    # what Excel writes after calculating: the formula and its saved value
    saved = tmp_path / "saved.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(saved, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<f>4+1</f><v></v>", b"<f>4+1</f><v>5</v>").replace(
                    b"<f>4+1</f><v />", b"<f>4+1</f><v>5</v>")
                assert b"<v>5</v>" in data
            dst.writestr(item, data)
    assert import_(settings, "survey-responses", saved).inserted == 1
    assert stored(settings, "survey-responses")["S1"]["csat"] == 5.0


# -- compressed and unreadable files (issue 19.27) ------------------------------------------


def test_gzip_and_zip_with_one_file_are_read(settings: Settings, tmp_path: Path):
    import gzip
    import zipfile

    data = FILES["service-records"]
    plain = write_csv(tmp_path / "records.csv", data["header"], data["rows"])
    gz = tmp_path / "records.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    result = import_(settings, "service-records", gz)
    assert result.inserted == len(data["rows"])
    assert_stored(settings, "service-records")
    zipped = tmp_path / "records.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.write(write_xlsx(tmp_path / "records.xlsx", data["header"], data["rows"]), "导出/records.xlsx")
        zf.writestr("__MACOSX/._records.xlsx", b"\x00\x05\x16\x07")
    assert (import_(settings, "service-records", zipped).unchanged) == len(data["rows"])
    runs = import_runs(settings)
    assert [r["filename"] for r in runs] == [str(gz), str(zipped)]


def test_unreadable_files_say_what_is_wrong(settings: Settings, tmp_path: Path):
    import gzip
    import zipfile

    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.csv", "record_id\n")
        zf.writestr("b.csv", "record_id\n")
    (error,) = errors_of(settings, "service-records", two)
    assert error == "the ZIP archive holds 2 files (a.csv, b.csv); put exactly one CSV or XLSX file in it"
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(("record_id\n" + "R1\n" * 1000).encode())[:40])
    (error,) = errors_of(settings, "service-records", truncated)
    assert error.startswith("the gzip file is damaged or incomplete")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    (error,) = errors_of(settings, "service-records", xls)
    assert "Excel 97–2003" in error and ".xlsx" in error
    pdf = tmp_path / "report.csv"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    (error,) = errors_of(settings, "service-records", pdf)
    assert "PDF" in error
    png = tmp_path / "image.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10")
    (error,) = errors_of(settings, "service-records", png)
    assert error.startswith("the file is binary, not CSV text")


# -- the database drops half-way (issue 19.30, 19.31) ---------------------------------------


def test_database_dropping_mid_import_is_one_line_and_the_attempt_is_recorded(postgres_database, sqms_env,
                                                                               tmp_path: Path, monkeypatch):
    """The server really terminates the import's connection while it writes its first rows."""
    from sqlalchemy import create_engine
    from typer.testing import CliRunner

    from sqms.cli import app
    from tests.conftest import _truncate_postgres

    _truncate_postgres(postgres_database)
    settings = sqms_env(postgres_database)
    original = ingest._insert_rows
    killed: list[int] = []

    def insert_then_lose_the_server(conn, table, frame, columns):
        pid = conn.exec_driver_sql("select pg_backend_pid()").scalar_one()
        admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
        with admin.connect() as other:
            assert other.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        admin.dispose()
        killed.append(pid)
        return original(conn, table, frame, columns)

    monkeypatch.setattr(ingest, "_insert_rows", insert_then_lose_the_server)
    data = FILES["service-records"]
    path = write_csv(tmp_path / "records.csv", data["header"], data["rows"])
    result = CliRunner().invoke(app, ["import", "service-records", str(path)])
    assert killed and result.exit_code == 1
    assert "Traceback" not in result.output and not isinstance(result.exception, AssertionError)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{path}: nothing was imported: the database failed during the import (")
    assert lines[0].endswith("run it again when the database is back")
    assert count(settings, "service_records") == 0
    (run,) = import_runs(settings)
    assert (run["status"], run["kind"], run["error_count"]) == ("failed", "service-records", 1)
    assert run["errors"][0].startswith("database: ") and run["sha256"]
