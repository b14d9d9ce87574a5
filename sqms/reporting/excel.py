"""Tables to XLSX (xlsxwriter), ready to print and to compute with.

Every sheet gets the same treatment: a formatted header row that is frozen, filtered and
repeated on every printed page; A4 with the orientation the table needs, fitted to one page
wide; margins; a header with the report title, period and version and a footer with page
numbers; row heights for wrapped text (estimated, a CJK character counting twice, because
LibreOffice does not grow rows on its own); a note on an empty sheet saying why it is empty.
Figures are numbers: a column (or a single `Cell`) carries its number format, e.g. `PCT`
shows 86.1 as `86.1%` (values stay on the 0–100 scale of the targets, so a gap is a plain
difference). Drop-downs (`Sheet.choices`) refuse other entries with a message in the sheet's
language. Chinese workbooks declare the CJK font 等线 with the GB2312 charset, the hint Excel
and WPS use to pick a Chinese fallback font, instead of Calibri.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from sqms.kpi_catalog import KPI_BY_CODE
from sqms.reporting.formatting import comparator, is_missing, is_zh, t

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MAX_WIDTH = 60
_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")

# Number formats. Percentages stay on the 0–100 scale (the scale of targets and KPIs).
COUNT = "#,##0"
PCT = '0.0"%"'
PERMILLE = '0.00"‰"'
DECIMAL1 = "#,##0.0"
DECIMAL2 = "#,##0.00"
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
LOW_N_FLAG = "†"  # the mark the reports explain as "n < 30, low confidence"

CELL = {"border": 1, "border_color": "#b8c2cc", "valign": "top"}  # every table cell boxed, on screen and paper
LINE_HEIGHT = 15.0  # points per line of 11-pt text (CJK glyphs are a little taller than Latin)
CJK_FONT = "等线"
_PORTRAIT_WIDTH = 110  # column-width units that still read well on portrait A4 when fitted to width


def hours_format(locale: str | None) -> str:
    return t(locale, '0.0"小时"', '0.0" h"')


def unit_format(unit: str, decimals: int, locale: str | None = "zh_CN") -> str:
    """The number format of a KPI's unit and decimals: `0.0"%"`, `0.00"‰"`, `0.0"小时"`, `#,##0`."""
    digits = ("." + "0" * decimals) if decimals else ""
    if unit == "%":
        return f'0{digits}"%"'
    if unit == "‰":
        return f'0{digits}"‰"'
    if unit == "h":
        return f'0{digits}' + t(locale, '"小时"', '" h"')
    return f"#,##0{digits}"


@dataclass(frozen=True)
class Cell:
    """A value with its own number format, for columns that mix kinds (a summary's value column)."""
    value: Any
    num_format: str | None = None


@dataclass
class Sheet:
    """A table on its own sheet.

    formats: column → number format; empty_note: what an empty table says (a default otherwise);
    preamble: lines above the table (a form's title block); choices: column → allowed entries
    (a drop-down that refuses others); widths: column → fixed width; landscape: None decides by width;
    min_lines: the least height of a data row, in lines (room to write by hand on a printed form).
    """
    name: str
    frame: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)
    empty_note: str | None = None
    preamble: Sequence[str] = ()
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    widths: Mapping[str, int] = field(default_factory=dict)
    landscape: bool | None = None
    min_lines: int = 1


@dataclass(frozen=True)
class PrintInfo:
    """What the printed header says: the report's title, its period and version; the language of the
    page footer, the empty-sheet notes and the drop-down messages."""
    title: str
    period: str = ""
    version: int | None = None
    locale: str = "zh_CN"


# A table: a Sheet, (sheet name, frame) or (sheet name, frame, {column: Excel number format}).
Table = Sheet | tuple[str, pd.DataFrame] | tuple[str, pd.DataFrame, Mapping[str, str]]


def as_sheet(table: Table) -> Sheet:
    if isinstance(table, Sheet):
        return table
    return Sheet(table[0], table[1], table[2] if len(table) > 2 else {})  # type: ignore[misc]


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


def _char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def display_width(value: Any) -> int:
    """Characters as a spreadsheet shows them: CJK (wide) characters count twice."""
    text = value if isinstance(value, str) else str(value)
    longest = max(text.split("\n"), key=len) if text else ""
    return sum(_char_width(ch) for ch in longest)


def wrapped_lines(text: str, width: float) -> int:
    """How many lines `text` takes in a wrapped cell `width` characters wide (CJK counting double)."""
    usable = max(width - 1, 1)
    return sum(max(1, math.ceil(sum(_char_width(ch) for ch in line) / usable)) for line in text.split("\n"))


def flag(low_confidence: Any) -> str | None:
    """The † of a figure from fewer observations than the confidence threshold; blank otherwise."""
    return LOW_N_FLAG if (not is_missing(low_confidence) and bool(low_confidence)) else None


def _default_format(series: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_integer_dtype(series):
        return COUNT
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if len(whole) and (whole == whole.round(0)).all():
            return COUNT  # counts that went through a float column (NaN in it): no ".0"
        return "#,##0.0##"
    if pd.api.types.is_datetime64_any_dtype(series):
        return DATETIME
    return None


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo is not None else value


def _header_text(text: str) -> str:
    return text.replace("&", "&&")


def _page_setup(sheet: Any, info: PrintInfo | None, header_row: int, total_width: float,
                landscape: bool | None) -> None:
    sheet.set_paper(9)  # A4
    if landscape if landscape is not None else total_width > _PORTRAIT_WIDTH:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.fit_to_pages(1, 0)  # one page wide, as many tall as needed
    sheet.repeat_rows(header_row)
    sheet.set_margins(left=0.5, right=0.5, top=0.8, bottom=0.7)
    locale = info.locale if info else "zh_CN"
    if info is not None:
        version = (t(locale, f"第 {info.version} 版", f"version {info.version}")
                   if info.version is not None else "")
        sheet.set_header("&L" + _header_text(info.title)[:100] + "&C" + _header_text(info.period)[:60]
                         + "&R" + _header_text(version), {"margin": 0.3})
    sheet.set_footer("&C" + t(locale, "第 &P 页 / 共 &N 页", "Page &P of &N"), {"margin": 0.3})


def write_xlsx(path: str | Path, tables: Sequence[Table], info: PrintInfo | None = None) -> Path:
    """Write each table to its own sheet; returns the path.

    Datetimes are written as they are (convert aware ones to local time first: the
    offset is dropped, Excel has none). Missing values and empty strings are blank cells.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    locale = info.locale if info else "zh_CN"
    font: dict[str, Any] = ({"font_name": CJK_FONT, "font_size": 11, "font_charset": 134, "font_family": 2}
                            if is_zh(locale) else {"font_name": "Calibri", "font_size": 11})
    workbook = xlsxwriter.Workbook(str(path), {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "nan_inf_to_errors": True,
        "default_format_properties": font,
    })
    formats: dict[tuple, Any] = {}

    def fmt(**properties: Any) -> Any:
        key = tuple(sorted((k, v) for k, v in properties.items() if v is not None))
        if key not in formats:
            formats[key] = workbook.add_format({**font, **dict(key)})
        return formats[key]

    try:
        header = fmt(bold=True, bg_color="#1f5fa8", font_color="#ffffff", border=1, border_color="#9aa5b1",
                     text_wrap=True, valign="vcenter")
        taken: set[str] = set()
        for table in tables:
            _write_sheet(workbook, as_sheet(table), taken, header, fmt, info, locale)
    finally:
        workbook.close()
    return path


def _write_sheet(workbook: Any, spec: Sheet, taken: set[str], header: Any, fmt: Any, info: PrintInfo | None,
                 locale: str) -> None:
    sheet = workbook.add_worksheet(sheet_name(spec.name, taken))
    frame = spec.frame.reset_index(drop=True)
    top = len(spec.preamble)  # the header row (0-based)
    for row, line in enumerate(spec.preamble):
        sheet.write_string(row, 0, line, fmt(bold=True, font_size=14) if row == 0 else None)
    if spec.preamble:
        sheet.set_row(0, 22)  # the title line's larger font
    columns = [str(c) for c in frame.columns]
    if not is_zh(locale):  # English headings start with a capital, whatever the frame's column says
        frame.columns = columns = [c[:1].upper() + c[1:] for c in columns]
    fixed = {str(k).lower(): v for k, v in spec.widths.items()}
    widths: list[float] = [display_width(c) for c in columns]
    # first pass: the widths the content asks for (capped), unless the column's width is fixed
    for col, column in enumerate(frame.columns):
        if columns[col].lower() in fixed:
            widths[col] = fixed[columns[col].lower()]
            continue
        for value in frame[column].tolist():
            shown = value.value if isinstance(value, Cell) else value
            if is_missing(shown):
                continue
            if isinstance(shown, str):
                widths[col] = max(widths[col], min(display_width(shown), MAX_WIDTH))
            elif isinstance(shown, bool):
                widths[col] = max(widths[col], 5)
            elif isinstance(shown, (int, float)):
                widths[col] = max(widths[col], min(len(f"{shown:,.3f}".rstrip("0").rstrip(".")) + 3, MAX_WIDTH))
            elif isinstance(shown, (datetime, pd.Timestamp)):
                widths[col] = max(widths[col], 16)
            elif isinstance(shown, date):
                widths[col] = max(widths[col], 10)
            else:
                widths[col] = max(widths[col], min(display_width(str(shown)), MAX_WIDTH))
        widths[col] = min(widths[col] + 2, MAX_WIDTH + 2)
    formats_by_column = {str(k).lower(): v for k, v in spec.formats.items()}
    choices = {str(k).lower(): v for k, v in spec.choices.items()}
    heights: dict[int, int] = {top: max((wrapped_lines(c, w) for c, w in zip(columns, widths)), default=1)}
    for col, title in enumerate(columns):
        sheet.write_string(top, col, title, header)
    for col, column in enumerate(frame.columns):
        series = frame[column]
        column_format = formats_by_column.get(columns[col].lower()) or _default_format(series)
        width = widths[col]
        for row, value in enumerate(series.tolist(), start=top + 1):
            code = column_format
            if isinstance(value, Cell):
                value, code = value.value, value.num_format or column_format
            if is_missing(value) or (isinstance(value, str) and not value):
                sheet.write_blank(row, col, None, fmt(**CELL))  # blank, but boxed like its row on paper
                continue
            if isinstance(value, str):
                lines = wrapped_lines(value, width)
                heights[row] = max(heights.get(row, 1), lines)
                wrap = lines > 1 or "\n" in value
                sheet.write_string(row, col, value, fmt(**CELL, text_wrap=wrap or None,
                                                        quote_prefix=is_formula_like(value) or None))
            elif isinstance(value, bool):
                sheet.write_boolean(row, col, value, fmt(**CELL))
            elif isinstance(value, (int, float)):
                if isinstance(value, float) and math.isinf(value):
                    sheet.write_string(row, col, str(value), fmt(**CELL))
                else:
                    sheet.write_number(row, col, value, fmt(**CELL, num_format=code))
            elif isinstance(value, (datetime, pd.Timestamp)):
                moment = _naive(value.to_pydatetime() if isinstance(value, pd.Timestamp) else value)
                sheet.write_datetime(row, col, moment, fmt(**CELL, num_format=code or DATETIME))
            elif isinstance(value, date):
                sheet.write_datetime(row, col, datetime.combine(value, time()), fmt(**CELL, num_format=code or DATE))
            else:  # lists, dicts, decimals ...: their text, still never a formula
                text = str(value)
                sheet.write_string(row, col, text, fmt(**CELL, quote_prefix=is_formula_like(text) or None))
        sheet.set_column(col, col, width)
    for row in range(top + 1, top + 1 + len(frame)):
        heights[row] = max(heights.get(row, 1), spec.min_lines)
    for row, lines in heights.items():
        if lines > 1:
            sheet.set_row(row, LINE_HEIGHT * lines)
    if frame.empty:
        note = spec.empty_note or t(locale, "本期无数据。", "Nothing in this period.")
        sheet.write_string(top + 1, 0, note, fmt(italic=True, font_color="#555555"))
    lowered = [c.lower() for c in columns]
    for column, allowed in choices.items():
        if column not in lowered or frame.empty:
            continue
        col = lowered.index(column)
        sheet.data_validation(top + 1, col, top + len(frame), col, {
            "validate": "list", "source": list(allowed), "ignore_blank": True,
            "show_error": True, "error_type": "stop",
            "error_title": t(locale, "无效的选择", "Not on the list"),
            "error_message": t(locale, "请从下拉列表中选择：", "Choose one of: ") + " / ".join(allowed),
            "input_title": t(locale, "请选择", "Choose"),
            "input_message": t(locale, "从下拉列表中选择", "Pick from the drop-down list"),
        })
    sheet.freeze_panes(top + 1, 0)
    if len(frame.columns):
        sheet.autofilter(top, 0, top + max(len(frame), 1), len(frame.columns) - 1)
    _page_setup(sheet, info, top, sum(widths), spec.landscape)


def kpi_cell(value: Any, kpi: str, locale: str | None = "zh_CN") -> Cell | None:
    """A KPI's value (or target) as a number rounded to the KPI's decimals, shown with its unit."""
    if is_missing(value):
        return None
    definition = KPI_BY_CODE[kpi]
    return Cell(round(float(value), definition.decimals), unit_format(definition.unit, definition.decimals, locale))


def change_cell(value: Any, kpi: str, locale: str | None = "zh_CN") -> Cell | None:
    """A month-over-month difference, signed; a percentage KPI's change is in percentage points."""
    if is_missing(value):
        return None
    definition = KPI_BY_CODE[kpi]
    if definition.unit == "%":
        digits = ("." + "0" * definition.decimals) if definition.decimals else ""
        unit = t(locale, '"个百分点"', '" pp"')
        code = f"+0{digits}{unit};-0{digits}{unit};0{digits}{unit}"
    else:
        base = unit_format(definition.unit, definition.decimals, locale)
        code = f"+{base};-{base};{base}"
    return Cell(round(float(value), definition.decimals), code)


def target_cells(target: Any, kpi: str, locale: str | None = "zh_CN") -> tuple[Cell | None, str | None]:
    """A target as (numeric value with the KPI's unit, direction `≥`/`≤`); blanks without a target."""
    if is_missing(target) or KPI_BY_CODE[kpi].better is None:
        return None, None
    return kpi_cell(target, kpi, locale), comparator(kpi)
