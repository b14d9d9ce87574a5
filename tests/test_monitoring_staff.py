"""Staff register and the optional staff_id of records and complaints (issue 15, Staff)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sqms.db import UnitOfWork
from sqms.importers import spec_for
from sqms.ingest import ImportValidationError, import_file
from sqms.monitoring.models import Staff
from sqms.records.models import ServiceRecord

STAFF_CSV = """staff_id,name,department,position,email,front_line,active_from,active_to
S001,王小明,CS,客服专员,wang.xm@example.com,是,2025-01-01,
S002,李小红,客服部,客服专员,,true,2025-01-01,
S003,张三,OPS,快递员,,1,2025-03-01,2026-06-30
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_staff_register_then_records_with_and_without_staff_id(org, tmp_path):
    result = import_file(org, spec_for("staff"), _write(tmp_path, "staff.csv", STAFF_CSV))
    assert (result.inserted, result.rejected) == (3, 0)
    with UnitOfWork(org.database_url) as uow:
        staff = {s.staff_id: s for s in uow.session.scalars(select(Staff))}
    assert staff["S002"].department == "CS" and staff["S003"].active_to is not None

    with_staff = ("record_id,department,channel,customer_id,opened_at,first_response_at,resolved_at,"
                  "first_contact_resolved,staff_id\n"
                  "R1,CS,phone,C1,2026-10-01 09:00,,,,S001\n"
                  "R2,CS,phone,C1,2026-10-01 09:00,,,,\n")
    import_file(org, spec_for("service-records"), _write(tmp_path, "r.csv", with_staff))
    old_format = ("record_id,department,channel,customer_id,opened_at,first_response_at,resolved_at,"
                  "first_contact_resolved\nR3,CS,phone,C1,2026-10-01 09:00,,,\n")
    assert import_file(org, spec_for("service-records"), _write(tmp_path, "old.csv", old_format)).inserted == 1
    with UnitOfWork(org.database_url) as uow:
        got = dict(uow.session.execute(select(ServiceRecord.record_id, ServiceRecord.staff_id)).all())
    assert got == {"R1": "S001", "R2": None, "R3": None}


def test_unknown_staff_id_is_a_row_error_naming_row_and_column(org, tmp_path):
    import_file(org, spec_for("staff"), _write(tmp_path, "staff.csv", STAFF_CSV))
    complaints = ("complaint_id,received_at,department,channel,severity,category,customer_id,responded_at,"
                  "resolved_at,description,staff_id\n"
                  "CP1,2026-10-01 09:00,CS,phone,normal,服务态度,C1,,,x,S001\n"
                  "CP2,2026-10-01 09:00,CS,phone,normal,服务态度,C1,,,x,S999\n")
    with pytest.raises(ImportValidationError) as caught:
        import_file(org, spec_for("complaints"), _write(tmp_path, "c.csv", complaints))
    assert [str(e) for e in caught.value.errors] == ["row 3, column staff_id: unknown staff_id 'S999'"]
