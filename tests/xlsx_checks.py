"""What every generated workbook must hold, read back with openpyxl (issue 20)."""

from __future__ import annotations

from openpyxl.workbook import Workbook


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
        assert sheet.max_row >= 2, f"{where}: an empty sheet says why it is empty"


def numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
