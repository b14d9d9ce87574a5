"""`sqms import staff|inspections|compliments|service-errors`, `sqms inspection record`, `sqms grading run
--json` and `sqms kpi --json` with the service-monitoring KPIs, end to end through the CLI (issue 15)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sqms.cli import app

runner = CliRunner()


@pytest.fixture
def cli(sqms_env, sqlite_url):
    sqms_env(sqlite_url)

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def test_record_import_grade_and_kpis(cli, tmp_path):
    assert cli("init").exit_code == 0
    (tmp_path / "staff.csv").write_text("staff_id,name,department\nS1,王小明,CS\n", encoding="utf-8")
    result = cli("import", "staff", str(tmp_path / "staff.csv"))
    assert result.exit_code == 0 and "1 inserted" in result.output, result.output

    items = [f"--item={code}=pass" for code in ("ENV-1", "APP-1", "LANG-1", "LANG-2", "PROC-1", "REC-1")]
    result = cli("inspection", "record", "--id", "I-1", "--template", "service-counter", "--department", "CS",
                 "--inspector", "zheng.yu@example.com", "--staff", "S1", "--at", "2026-08-10 10:00",
                 *items, "--item", "PROC-3=fail:与顾客争执", "--evidence", "PROC-3=video.mp4")
    assert result.exit_code == 0, result.output
    assert "I-1: inserted, score 0 (red line failed); corrective action #1" in result.output

    bad = cli("inspection", "record", "--id", "I-2", "--template", "service-counter", "--department", "CS",
              "--inspector", "x", "--item", "PROC-3=fail")
    assert bad.exit_code == 2 and "PROC-3: evidence is required for a failed item" in bad.output

    (tmp_path / "ins.csv").write_text(
        "inspection_id,template,department,inspector,inspected_at,item,result\n"
        "I-3,service-counter,CS,li.na@example.com,2026-08-11 10:00,LANG-2,8\n"
        "I-3,service-counter,CS,li.na@example.com,2026-08-11 10:00,NOPE,8\n", encoding="utf-8")
    result = cli("import", "inspections", str(tmp_path / "ins.csv"))
    assert result.exit_code == 1 and "row 3, column item: 'NOPE' is not an item of service-counter" in result.output

    (tmp_path / "p.csv").write_text("compliment_id,received_at,department,staff_id\nP1,2026-08-12 10:00,CS,S1\n",
                                    encoding="utf-8")
    assert cli("import", "compliments", str(tmp_path / "p.csv")).exit_code == 0

    result = cli("grading", "run", "--quarter", "2026Q3", "--json")
    assert result.exit_code == 0, result.output
    [grade] = json.loads(result.output)
    assert set(grade) == {"staff_id", "name", "department", "score", "grade", "previous_grade", "components"}
    assert (grade["staff_id"], grade["score"], grade["grade"], grade["components"]["compliments"]) == ("S1", 2.0, "c", 1)
    assert cli("grading", "run", "--quarter", "2026-3").exit_code == 2

    result = cli("kpi", "--period", "2026-08", "--json", "--department", "CS")
    values = {v["kpi"]: v for v in json.loads(result.output)}
    assert values["inspection_score"] == {"kpi": "inspection_score", "department": "CS", "value": 0.0,
                                          "target": 85.0, "status": "missed", "n": 1}
    assert values["mystery_shopper_score"]["status"] == "no_data"
