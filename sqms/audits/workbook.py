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

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from sqms.audits.checklists import AREA_LABELS, load_checklists
from sqms.audits.models import RESULTS, AuditCycle, AuditSlot
from sqms.audits.service import FindingIn
from sqms.config import ConfigError, Settings
from sqms.reporting.excel import PrintInfo, Sheet, sheet_name, write_xlsx
from sqms.reporting.formatting import t

RESULT_LABELS = {"conforming": ("符合", "conforming"), "major": ("严重不符合", "major nonconformity"),
                 "minor": ("一般不符合", "minor nonconformity"), "observation": ("观察项", "observation"),
                 "improvement": ("改进机会", "opportunity for improvement")}
HEADER_ROW = 6  # under five lines of title block (1-based)
WIDTHS = (7, 8, 12, 40, 26, 7, 13, 32, 18)  # fit landscape A4 with wrapped question and evidence
COLUMNS = ("code", "area", "clause", "question", "evidence_expected", "changed", "result", "evidence", "notes")


def _headings(locale: str) -> list[str]:
    return [t(locale, "编号", "Item"), t(locale, "领域", "Area"), t(locale, "条款", "Clause"),
            t(locale, "检查内容", "Question"), t(locale, "应有证据", "Evidence expected"),
            t(locale, "本次变更", "Changed"), t(locale, "结果", "Result"),
            t(locale, "审核记录（所见证据）", "What was seen (evidence)"), t(locale, "备注", "Notes")]


def department_sheet_name(settings: Settings, department: str) -> str:
    """A department's sheet: its name in the report language (the code when no name is usable)."""
    return sheet_name(settings.department(department).label(settings.locale), set())


def write_workbook(settings: Settings, cycle: AuditCycle, slots: list[AuditSlot], path: str | Path) -> Path:
    """One sheet per slot, named after the department, ready to fill in and to print as a paper form
    (landscape A4, one page wide, the heading row on every page, the result a drop-down that refuses
    anything not on its list)."""
    locale = settings.locale
    zh = locale.startswith("zh")
    names = {p.email: p.name for p in settings.people}
    try:
        titles = {c.code: c.title.get(locale) for c in load_checklists(settings.checklists_dir).values()}
    except ConfigError:  # the checklist changed since the plan: the slot's own snapshot still holds
        titles = {}
    labels = [RESULT_LABELS[r][0 if zh else 1] for r in RESULTS]
    headings = _headings(locale)
    sheets = []
    for slot in slots:
        department = settings.department(slot.department).label(locale)
        checklist = titles.get(slot.checklist_code, slot.checklist_code)
        rows = [[item["code"], AREA_LABELS[item["area"]][0 if zh else 1], item["clause"],
                 item_question(item, locale), item_evidence(item, locale),
                 t(locale, "是", "yes") if item["code"] in slot.changed_items else None, None, None, None]
                for item in slot.items]
        preamble = [t(locale, f"{cycle.code} 内部审核检查表", f"Internal audit {cycle.code} — checklist"),
                    t(locale, "检查表", "Checklist") + f": {checklist}",
                    t(locale, "受审部门", "Department") + f": {department} ({slot.department})",
                    t(locale, "内审员", "Auditor") + f": {names.get(slot.auditor, slot.auditor)} <{slot.auditor}>"
                    + "    " + t(locale, "审核日期", "Date") + f": {slot.day.isoformat()}",
                    t(locale, "结果填写：", "Result: ") + " / ".join(labels)]
        sheets.append(Sheet(department_sheet_name(settings, slot.department),
                            pd.DataFrame(rows, columns=headings, dtype=object), preamble=preamble,
                            choices={headings[6]: labels}, widths=dict(zip(headings, WIDTHS)), landscape=True,
                            min_lines=3))  # room to write what was seen by hand
    title = t(locale, f"{cycle.code} 内部审核检查表", f"Internal audit {cycle.code} — checklist")
    return write_xlsx(path, sheets, PrintInfo(title, cycle.code, None, locale))


def item_question(item: dict, locale: str) -> str:
    """A checklist item's question in the report language (`name_en` in English when configured)."""
    return item.get("name_en") or item["question"] if not locale.startswith("zh") else item["question"]


def item_evidence(item: dict, locale: str) -> str | None:
    text = item.get("evidence_en") if not locale.startswith("zh") else None
    return text or item.get("evidence") or None


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


def read_workbook(cycle: AuditCycle, slots: list[AuditSlot], path: str | Path,
                  settings: Settings | None = None) -> WorkbookFindings:
    """The findings of a filled-in workbook, or every problem found in it. A sheet is found by the
    department's name (as written) or its code."""
    out = WorkbookFindings()
    try:
        # formulas come back as the text typed (a note "=1+1" stays that, not an empty cached value)
        book = load_workbook(path, data_only=False, read_only=True)
    except Exception as exc:  # not a workbook, damaged, password-protected
        out.errors.append(f"{Path(path).name}: cannot read the workbook ({exc.__class__.__name__})")
        return out
    by_department = {s.department: s for s in slots}
    by_sheet = dict(by_department)
    if settings is not None:
        by_sheet |= {department_sheet_name(settings, s.department): s for s in slots}
    letters = {name: get_column_letter(i) for i, name in enumerate(COLUMNS, 1)}
    for sheet in book.worksheets:
        slot = by_sheet.get(sheet.title)
        if slot is None:
            out.errors.append(f"sheet {sheet.title}: not a department of {cycle.code}'s plan "
                              f"({', '.join(k for k, v in by_sheet.items() if settings is None or k != v.department)})")
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
