"""What every generated workbook must hold, read back with openpyxl (issue 20)."""

from __future__ import annotations

import re

from openpyxl.workbook import Workbook

# a figure written as text: "86.1%", "7 / 9", "66.0–77.8", "≥95%", "≤24小时", "3.2‰", "12"
PERIOD = re.compile(r"^\d{4}(-\d{2}|-H[12]|-Q[1-4])?$")  # 2026-03, 2026-H1, 2025: labels, not figures
FIGURE_AS_TEXT = re.compile(r"^\s*[≥≤<>+\-−]?\s*\d[\d,]*(\.\d+)?\s*(%|‰|小时|h|/\s*\d+|[–-]\s*\d[\d.]*)?\s*$")


def assert_print_ready(book: Workbook, title: str | None = None, font: str | None = "等线") -> None:
    """A4, fitted to one page wide, the header row repeated, margins, header with the title and a
    footer with page numbers, on every sheet; no empty-string cell; no formula; no TRUE/FALSE; the
    declared font (a CJK font for Chinese workbooks, so WPS/Excel do not fall back to Calibri)."""
    for sheet in book.worksheets:
        if font is not None:
            assert sheet["A1"].font.name == font, f"sheet {sheet.title}: font {sheet['A1'].font.name}"
        where = f"sheet {sheet.title}"
        assert int(sheet.page_setup.paperSize) == 9, where
        assert sheet.page_setup.orientation in ("portrait", "landscape"), where
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, where
        assert int(sheet.page_setup.fitToWidth or 1) == 1 and int(sheet.page_setup.fitToHeight) == 0, where
        assert sheet.print_title_rows, where
        assert sheet.page_margins.left == 0.5, where
        assert "&P" in sheet.oddFooter.center.text and "&N" in sheet.oddFooter.center.text, where
        if title is not None:
            assert title in sheet.oddHeader.left.text, where
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.value != "", f"{where} {cell.coordinate}: empty string instead of a blank cell"
                assert cell.data_type not in ("f", "b"), f"{where} {cell.coordinate}: {cell.value!r}"
                heading = str(sheet.cell(1, cell.column).value or "")
                bucket = "账龄" in heading or "age" in heading.lower()  # an ageing bucket "0–2" is a label
                if isinstance(cell.value, str) and cell.row > 1 and not PERIOD.match(cell.value) and not bucket:
                    assert not FIGURE_AS_TEXT.match(cell.value), f"{where} {cell.coordinate}: figure as text {cell.value!r}"
        assert sheet.max_row >= 2, f"{where}: an empty sheet says why it is empty"


def numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
