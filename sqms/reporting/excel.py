"""Tables to XLSX (xlsxwriter): formatted header, frozen first row, filters, widths, number formats.

Text is always written as text: a cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return (formula injection, OWASP "CSV injection") is written with
`write_string` and Excel's quote-prefix style, so it is never a formula, Excel keeps it
as text when someone edits the cell, and the text itself is unchanged. The workbook is
also opened with `strings_to_formulas`/`strings_to_urls`/`strings_to_numbers` off.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import xlsxwriter

from sqms.reporting.formatting import is_missing

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MAX_WIDTH = 60
_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")

# A table: (sheet name, frame) or (sheet name, frame, {column: Excel number format}).
Table = tuple[str, pd.DataFrame] | tuple[str, pd.DataFrame, Mapping[str, str]]


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet (or a CSV export of it) read this text as a formula?"""
    return text.startswith(FORMULA_TRIGGERS)


def neutralise(text: str) -> str:
    """For plain-text exports (CSV, markdown): a leading `'` disarms formula-like text."""
    return "'" + text if is_formula_like(text) else text


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (≤ 31 characters, none of []:*?/\\)."""
    base = _INVALID_SHEET_CHARS.sub("_", str(name)).strip("'") or "Sheet"
    base = base[:31]
    candidate, i = base, 2
    while candidate.lower() in taken:
        suffix = f" ({i})"
        candidate, i = base[: 31 - len(suffix)] + suffix, i + 1
    taken.add(candidate.lower())
    return candidate


def display_width(value: Any) -> int:
    """Characters as a spreadsheet shows them: CJK (wide) characters count twice."""
    text = value if isinstance(value, str) else str(value)
    longest = max(text.split("\n"), key=len) if text else ""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


def _default_format(series: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_integer_dtype(series):
        return "#,##0"
    if pd.api.types.is_float_dtype(series):
        return "#,##0.0##"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "yyyy-mm-dd hh:mm"
    return None


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo is not None else value


def write_xlsx(path: str | Path, tables: Sequence[Table]) -> Path:
    """Write each table to its own sheet; returns the path.

    Datetimes are written as they are (convert aware ones to local time first: the
    offset is dropped, Excel has none). Missing values are blank cells.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "nan_inf_to_errors": True,
    })
    try:
        header = workbook.add_format({"bold": True, "bg_color": "#1f5fa8", "font_color": "#ffffff",
                                      "border": 1, "border_color": "#9aa5b1", "text_wrap": True,
                                      "valign": "vcenter"})
        quoted = workbook.add_format({"quote_prefix": True})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        wrap_quoted = workbook.add_format({"text_wrap": True, "valign": "top", "quote_prefix": True})
        number_formats: dict[str, Any] = {}

        def number_format(code: str) -> Any:
            if code not in number_formats:
                number_formats[code] = workbook.add_format({"num_format": code})
            return number_formats[code]

        taken: set[str] = set()
        for table in tables:
            name, frame = table[0], table[1]
            formats: Mapping[str, str] = table[2] if len(table) > 2 else {}  # type: ignore[misc]
            sheet = workbook.add_worksheet(sheet_name(name, taken))
            frame = frame.reset_index(drop=True)
            columns = [str(c) for c in frame.columns]
            widths = [display_width(c) for c in columns]
            for col, title in enumerate(columns):
                sheet.write_string(0, col, title, header)
            for col, column in enumerate(frame.columns):
                series = frame[column]
                code = formats.get(str(column)) or _default_format(series)
                cell_format = number_format(code) if code else None
                long_text = False
                for row, value in enumerate(series.tolist(), start=1):
                    if is_missing(value):
                        sheet.write_blank(row, col, None)
                        continue
                    if isinstance(value, str):
                        text_width = display_width(value)
                        long_text = long_text or text_width > MAX_WIDTH
                        if is_formula_like(value):
                            sheet.write_string(row, col, value, wrap_quoted if text_width > MAX_WIDTH else quoted)
                        else:
                            sheet.write_string(row, col, value, wrap if text_width > MAX_WIDTH else None)
                        widths[col] = max(widths[col], min(text_width, MAX_WIDTH))
                        continue
                    if isinstance(value, bool):
                        sheet.write_boolean(row, col, value)
                        widths[col] = max(widths[col], 5)
                    elif isinstance(value, (int, float)) and not isinstance(value, bool):
                        if isinstance(value, float) and math.isinf(value):
                            sheet.write_string(row, col, str(value))
                        else:
                            sheet.write_number(row, col, value, cell_format)
                        widths[col] = max(widths[col], min(len(f"{value:,.3f}".rstrip("0").rstrip(".")) + 1,
                                                           MAX_WIDTH))
                    elif isinstance(value, (datetime, pd.Timestamp)):
                        moment = _naive(value.to_pydatetime() if isinstance(value, pd.Timestamp) else value)
                        sheet.write_datetime(row, col, moment, cell_format or number_format("yyyy-mm-dd hh:mm"))
                        widths[col] = max(widths[col], 16)
                    elif isinstance(value, date):
                        sheet.write_datetime(row, col, datetime.combine(value, time()),
                                             cell_format or number_format("yyyy-mm-dd"))
                        widths[col] = max(widths[col], 10)
                    else:  # lists, dicts, decimals ...: their text, still never a formula
                        text = str(value)
                        sheet.write_string(row, col, text, quoted if is_formula_like(text) else None)
                        widths[col] = max(widths[col], min(display_width(text), MAX_WIDTH))
                sheet.set_column(col, col, min(widths[col] + 2, MAX_WIDTH + 2), wrap if long_text else None)
            sheet.freeze_panes(1, 0)
            if len(frame.columns):
                sheet.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
    finally:
        workbook.close()
    return path
