"""The checklist workbook an auditor fills in (one sheet per department) and reads it back.

The sheet names the department by its code; the table starts under a short header: item code,
area, clause, question, evidence expected, whether the item changed since the last cycle, then the
three columns to fill in — result (a drop-down), what was seen (evidence) and notes. Reading it
back checks everything first and reports `sheet S, row N, column C: why`; nothing is recorded
from a workbook with an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from sqms.audits.checklists import AREA_LABELS
from sqms.audits.models import RESULTS, AuditCycle, AuditSlot
from sqms.audits.service import FindingIn
from sqms.config import Settings
from sqms.reporting.excel import is_formula_like
from sqms.reporting.formatting import t

RESULT_LABELS = {"conforming": ("符合", "conforming"), "major": ("严重不符合", "major nonconformity"),
                 "minor": ("一般不符合", "minor nonconformity"), "observation": ("观察项", "observation"),
                 "improvement": ("改进机会", "opportunity for improvement")}
HEADER_ROW = 6
COLUMNS = ("code", "area", "clause", "question", "evidence_expected", "changed", "result", "evidence", "notes")


def _headings(locale: str) -> list[str]:
    return [t(locale, "编号", "Item"), t(locale, "领域", "Area"), t(locale, "条款", "Clause"),
            t(locale, "检查内容", "Question"), t(locale, "应有证据", "Evidence expected"),
            t(locale, "本次变更", "Changed"), t(locale, "结果", "Result"),
            t(locale, "审核记录（所见证据）", "What was seen (evidence)"), t(locale, "备注", "Notes")]


def _safe(text: str) -> str:
    return "'" + text if is_formula_like(text) else text


def write_workbook(settings: Settings, cycle: AuditCycle, slots: list[AuditSlot], path: str | Path) -> Path:
    """One sheet per slot, ready to fill in."""
    locale = settings.locale
    zh = locale.startswith("zh")
    names = {p.email: p.name for p in settings.people}
    book = Workbook()
    book.remove(book.active)
    labels = [RESULT_LABELS[r][0 if zh else 1] for r in RESULTS]
    for slot in slots:
        sheet = book.create_sheet(slot.department)
        department = settings.department(slot.department).label(locale)
        sheet["A1"] = t(locale, f"{cycle.code} 内部审核检查表", f"Internal audit {cycle.code} — checklist")
        sheet["A1"].font = Font(bold=True, size=14)
        sheet["A2"] = t(locale, "受审部门", "Department") + f": {department} ({slot.department})"
        sheet["A3"] = t(locale, "内审员", "Auditor") + f": {names.get(slot.auditor, slot.auditor)} <{slot.auditor}>"
        sheet["A4"] = t(locale, "审核日期", "Date") + f": {slot.day.isoformat()}"
        sheet["A5"] = t(locale, "结果填写：", "Result: ") + " / ".join(labels)
        for col, heading in enumerate(_headings(locale), 1):
            cell = sheet.cell(HEADER_ROW, col, heading)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DCE6F1")
        for row, item in enumerate(slot.items, HEADER_ROW + 1):
            values = [item["code"], AREA_LABELS[item["area"]][0 if zh else 1], _safe(item["clause"]),
                      _safe(item["question"]), _safe(item.get("evidence") or ""),
                      t(locale, "是", "yes") if item["code"] in slot.changed_items else ""]
            for col, value in enumerate(values, 1):
                sheet.cell(row, col, value).alignment = Alignment(wrap_text=True, vertical="top")
        last = HEADER_ROW + len(slot.items)
        choice = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True)
        choice.error = t(locale, "请从下拉列表中选择", "Choose from the list")
        sheet.add_data_validation(choice)
        choice.add(f"G{HEADER_ROW + 1}:G{last}")
        for col, width in enumerate((8, 8, 14, 44, 28, 8, 16, 36, 24), 1):
            sheet.column_dimensions[get_column_letter(col)].width = width
        sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


@dataclass
class WorkbookFindings:
    by_department: dict[str, list[FindingIn]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _result_code(text: str) -> str | None:
    value = text.strip().lower()
    for code, (zh, en) in RESULT_LABELS.items():
        if value in (code, zh, en.lower()):
            return code
    return None


def _cell_text(value) -> str:
    if value is None:
        return ""
    return str(value).strip()


def read_workbook(cycle: AuditCycle, slots: list[AuditSlot], path: str | Path) -> WorkbookFindings:
    """The findings of a filled-in workbook, or every problem found in it."""
    out = WorkbookFindings()
    try:
        # formulas come back as the text typed (a note "=1+1" stays that, not an empty cached value)
        book = load_workbook(path, data_only=False, read_only=True)
    except Exception as exc:  # not a workbook, damaged, password-protected
        out.errors.append(f"{Path(path).name}: cannot read the workbook ({exc.__class__.__name__})")
        return out
    by_department = {s.department: s for s in slots}
    letters = {name: get_column_letter(i) for i, name in enumerate(COLUMNS, 1)}
    for sheet in book.worksheets:
        slot = by_department.get(sheet.title)
        if slot is None:
            out.errors.append(f"sheet {sheet.title}: not a department of {cycle.code}'s plan "
                              f"({', '.join(by_department)})")
            continue
        expected = [i["code"] for i in slot.items]
        seen: dict[str, int] = {}
        findings = []
        for row_number, row in enumerate(sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True), HEADER_ROW + 1):
            cells = dict(zip(COLUMNS, (list(row) + [None] * len(COLUMNS))[:len(COLUMNS)]))
            code = _cell_text(cells["code"])
            if not any(_cell_text(v) for v in cells.values()):
                continue
            where = f"sheet {sheet.title}, row {row_number}"
            if code not in expected:
                out.errors.append(f"{where}, column {letters['code']}: item {code or '(empty)'!r} is not on "
                                  f"checklist {slot.checklist_code}")
                continue
            if code in seen:
                out.errors.append(f"{where}, column {letters['code']}: item {code} again (first in row {seen[code]})")
                continue
            seen[code] = row_number
            result = _result_code(_cell_text(cells["result"]))
            if result is None:
                given = _cell_text(cells["result"])
                out.errors.append(f"{where}, column {letters['result']}: " + (
                    f"{given!r} is not a result (use the drop-down)" if given else "the result is required"))
                continue
            if result in ("major", "minor") and not _cell_text(cells["evidence"]):
                out.errors.append(f"{where}, column {letters['evidence']}: a nonconformity needs the evidence seen")
                continue
            findings.append(FindingIn(code, result, _cell_text(cells["evidence"]) or None,
                                      _cell_text(cells["notes"]) or None))
        for code in expected:
            if code not in seen:
                out.errors.append(f"sheet {sheet.title}: item {code} is missing")
        out.by_department[slot.department] = findings
    book.close()
    if not out.by_department and not out.errors:
        out.errors.append(f"{Path(path).name}: no sheet of a department in the plan")
    return out
