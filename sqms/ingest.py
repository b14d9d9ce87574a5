"""CSV/XLSX import (DESIGN.md §3): mapping, whole-file validation, per-row errors, idempotency.

The file (also as .gz or a .zip of one file) is read in chunks and validated with vectorised
pandas operations; valid rows are merged into the table inside one transaction as they come
(new rows by batched Core inserts or COPY, changed rows updated and audited, identical rows
left alone). If any row is invalid and `skip_invalid` is off, the transaction is rolled
back at the end, after every error of the file has been collected: nothing is written.

A merge never replaces a known value with an empty cell, and a spec's `conflicts` rule keeps
what SQMS itself moved on (a complaint's lifecycle): such values are reported and audited.
Every attempt, rejected or failed ones too, is a row of `import_runs`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import JSON, Boolean, Connection, Date, Float, Integer, String, Table, any_, bindparam, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sqms.audit_trail import AuditEntry, ImportRun, jsonable
from sqms.calendar import UTC, utcnow
from sqms.config import Settings
from sqms.db import UnitOfWork, default_actor, read_frame

log = logging.getLogger(__name__)

CHUNK_ROWS = 100_000
MAX_RUN_ERRORS = 20  # the first errors kept with a run in import_runs
LOOKUP_BATCH = 2000
MAX_TEXT = 10_000
DEFER_INDEXES_BYTES = 8 << 20  # a file this big into an empty SQLite table: indexes built at the end
_ID_PATTERN = r"^[^ <>\"'&\x00-\x1f\x7f]{1,64}$"  # no \s: keeps pandas on the fast Arrow regex path
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TRUE_VALUES = {"true", "1", "是", "yes", "y", "t"}
FALSE_VALUES = {"false", "0", "否", "no", "n", "f"}


# -- errors ----------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in one cell: `row N, column C: reason` (N as a spreadsheet shows it)."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


class ImportFileError(Exception):
    """The file cannot be imported at all (encoding, missing columns, empty, unreadable)."""

    def __init__(self, path: str | Path, errors: list[RowError] | list[str]):
        self.path = str(path)
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors[:100])
        more = f"\n  ... and {len(errors) - 100} more" if len(errors) > 100 else ""
        super().__init__(f"{self.path}: nothing was imported:\n{lines}{more}")


class ImportValidationError(ImportFileError):
    """Rows are invalid; with `skip_invalid` off the whole file is rejected."""

    def __init__(self, path: str | Path, errors: list[RowError], rows: int):
        self.rows = rows
        super().__init__(path, errors)
        self.args = (
            f"{self.path}: {len({e.row for e in errors})} of {rows} rows are invalid, nothing was imported "
            f"(use --skip-invalid to import the valid rows):\n"
            + "\n".join(f"  {e}" for e in errors[:100])
            + (f"\n  ... and {len(errors) - 100} more" if len(errors) > 100 else ""),
        )


class ImportDatabaseError(ImportFileError):
    """The database failed during the import (connection lost, server stopped): nothing was imported."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(path, [f"the database failed during the import ({reason}); run it again when the "
                                "database is back"])
        self.args = (f"{self.path}: nothing was imported: the database failed during the import ({reason}); "
                     "run it again when the database is back",)


@dataclass(frozen=True)
class Conflict:
    """A value of the file that the import did not apply, with why (audited once, listed by the CLI)."""

    entity: str
    key: str
    column: str
    stored: Any
    incoming: Any
    reason: str

    def __str__(self) -> str:
        shown = "empty" if self.incoming is None else _plain(self.incoming)
        return f"{self.key} {self.column}: kept {_plain(self.stored)}, the file has {shown} ({self.reason})"


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "empty" if value is None else str(value)


# -- mapping files ----------------------------------------------------------------


class ScaleConversion(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: tuple[float, float] = Field(alias="from")
    target: tuple[float, float] = Field(alias="to")

    @model_validator(mode="after")
    def _ranges(self) -> "ScaleConversion":
        if self.source[0] >= self.source[1] or self.target[0] >= self.target[1]:
            raise ValueError("'from' and 'to' must each be [low, high] with low < high")
        return self

    def apply(self, values: pd.Series) -> pd.Series:
        (a, b), (c, d) = self.source, self.target
        return c + (values - a) * (d - c) / (b - a)


class Mapping(BaseModel):
    """How a foreign file maps onto ours (`--mapping M.yaml`)."""

    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] = Field(default_factory=dict, description="their column -> our column")
    values: dict[str, dict[str, str]] = Field(default_factory=dict, description="our column -> {theirs: ours}")
    not_answered: list[str] = Field(default_factory=list, description=(
        "codes that mean no answer, e.g. 0; a number column ignores a code that is a valid answer on its scale"
        " (0 on the 0–10 NPS scale is a score)"))
    scale: dict[str, ScaleConversion] = Field(default_factory=dict, description="column or 'items' -> conversion")
    defaults: dict[str, str] = Field(default_factory=dict, description=(
        "our column -> value for a column the file lacks and for its empty cells (validated like a cell)"))
    datetime_format: str | None = None
    encoding: str | None = None
    sheet: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _stringify(cls, data: Any) -> Any:
        # YAML turns 0, 是, yes into int/bool; the file's cells are text, so compare as text.
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("not_answered"), list):
                data["not_answered"] = [str(v) for v in data["not_answered"]]
            if isinstance(data.get("values"), dict):
                data["values"] = {
                    col: {str(k): str(v) for k, v in (vm or {}).items()} for col, vm in data["values"].items()
                }
            if isinstance(data.get("columns"), dict):
                data["columns"] = {str(k): str(v) for k, v in data["columns"].items()}
            if isinstance(data.get("defaults"), dict):
                data["defaults"] = {str(k): _yaml_text(v) for k, v in data["defaults"].items()}
        return data


def _yaml_text(value: Any) -> str:
    """A YAML scalar as the cell text it stands for (YAML reads 2026-10-01 as a date, yes as True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return "" if value is None else str(value)


def load_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Mapping.model_validate(data)
    except FileNotFoundError:
        raise ImportFileError(path, [f"mapping file {path} not found"]) from None
    except yaml.YAMLError as exc:
        raise ImportFileError(path, [f"mapping {path}: invalid YAML: {exc}"]) from None
    except ValidationError as exc:
        problems = [f"mapping {path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ImportFileError(path, problems) from None


# -- field specifications ---------------------------------------------------------


@dataclass
class Context:
    settings: Settings
    mapping: Mapping
    department_lookup: dict[str, str]
    tz: ZoneInfo


@dataclass
class FieldSpec:
    """One column of an input format and how its text becomes a value."""

    name: str
    kind: Literal["id", "text", "datetime", "choice", "bool", "number", "department", "email"]
    required: bool = False  # the value may not be empty
    header_optional: bool = False  # the column may be missing altogether
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    not_before: str | None = None  # a datetime column this one may not precede
    scale_group: str | None = None  # mapping `scale:` key that also applies, e.g. "items"
    max_length: int = MAX_TEXT
    # the ids a value must be one of (e.g. the staff register), read once per chunk; unknown = row error
    known: Callable[[Context], Any] | None = None


@dataclass
class ImportSpec:
    kind: str
    table: Table
    key: str
    fields: list[FieldSpec]
    derive: Callable[[pd.DataFrame, Context], pd.DataFrame] | None = None
    dynamic_fields: Callable[[Context], list[FieldSpec]] | None = None  # e.g. questionnaire items
    pack_dynamic_into: str | None = None  # store dynamic fields as one JSON column
    label: str = ""
    # run in the import's transaction after the rows are written, e.g. complaints move along their lifecycle;
    # gets the import run (not yet stored) and the result
    after_write: Callable[[Session, Settings, Any, "ImportResult"], Any] | None = None
    # file values that must not be applied to existing rows (e.g. a lifecycle SQMS moved on): gets the
    # stored and the incoming rows (same order, our columns) and returns the conflicts to keep as stored
    conflicts: Callable[[Connection, pd.DataFrame, pd.DataFrame], list[Conflict]] | None = None

    def all_fields(self, ctx: Context) -> list[FieldSpec]:
        return self.fields + (self.dynamic_fields(ctx) if self.dynamic_fields else [])


def service_item_field(ctx: Context) -> list[FieldSpec]:
    """The optional `service_item` column of service records and complaints: a code of the service
    catalogue (config `service_items`); files without the column import as before."""
    return [FieldSpec("service_item", "choice", header_optional=True,
                      choices=tuple(item.code for item in ctx.settings.service_items))]


@dataclass
class ImportResult:
    kind: str
    path: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rejects_file: str | None = None
    import_run_id: int | None = None
    conflicts: list[Conflict] = field(default_factory=list)  # file values not applied (audited)
    notices: list[str] = field(default_factory=list)  # what the import told people (e.g. one summary mail)

    def summary(self) -> str:
        text = (
            f"{self.kind}: {self.rows} rows read, {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
        if self.conflicts:
            text += f", {len(self.conflicts)} conflict(s) kept the stored value (audited)"
        if self.rejects_file:
            text += f" (see {self.rejects_file})"
        return text


# -- reading files ----------------------------------------------------------------


def _detect_encoding(path: Path, forced: str | None) -> str:
    """utf-8-sig (covers plain UTF-8) or gb18030 (a superset of GBK); anything else is an error."""
    if forced:
        return forced
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(head):
        raise ImportFileError(path, ["the file looks like UTF-16; save it as UTF-8 (CSV UTF-8) or GBK"])
    if b"\x00" in head:
        raise ImportFileError(path, ["the file is binary, not CSV text (nor an XLSX workbook, a .csv.gz or a "
                                     ".zip): export the data as CSV UTF-8 or XLSX"])
    failures = []
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        line, offset = 1, 0
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
                    line += chunk.count(b"\n")
                    offset += len(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            failures.append((encoding, offset + exc.start))
    byte = failures[0][1]
    with path.open("rb") as fh:
        row = fh.read(byte).count(b"\n") + 1
    raise ImportFileError(
        path, [f"row {row}: the file is neither UTF-8 nor GBK (undecodable byte at offset {byte}); "
               "save it as CSV UTF-8 or GBK"]
    )


def _looks_utf16(head: bytes) -> bool:
    """Text in UTF-16 without a BOM: every other byte is zero (ASCII characters)."""
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    return max(even.count(0) / len(even), odd.count(0) / len(odd)) > 0.4 and min(
        even.count(0), odd.count(0)) < len(head) // 20


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, newline="") as fh:
        sample = fh.read(65536)
    try:
        return csv.Sniffer().sniff(sample.lstrip("\r\n").split("\n", 1)[0] + "\n", delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


# Every chunk a reader yields holds the header's columns (text cells), `__row__` (the row as a
# spreadsheet numbers it) and `__beyond__`: 0, or the 1-based column of the first non-empty cell
# to the right of the header (a delimiter or quote is off in that row).
_ROW, _BEYOND = "__row__", "__beyond__"


def _header_names(cells: list[Any]) -> list[str]:
    names = [_xlsx_cell(c).strip().lstrip("\ufeff").strip() for c in cells]
    while names and names[-1] == "":
        names.pop()  # trailing empty header cells are not columns
    return names


def _xlsx_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unsaved_formulas(ws: Any) -> dict[int, list[int]]:
    """Row -> columns (1-based) of the cells holding a formula without a saved value.

    openpyxl reads such a cell (written by a program, never calculated by a spreadsheet) as empty,
    exactly like an empty cell; the sheet's XML tells them apart: `<f>` without `<v>`. (A formula
    whose saved result is the empty string has an empty `<v/>`, and is a real empty value.)"""
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import coordinate_to_tuple

    found: dict[int, list[int]] = {}
    source = ws._get_source()
    try:
        for _, element in iterparse(source):
            if element.tag.endswith("}c") or element.tag == "c":
                children = {child.tag.rsplit("}", 1)[-1] for child in element}
                value = next((child for child in element if child.tag.rsplit("}", 1)[-1] == "v"), None)
                # a saved empty text result is `t="str"` with an empty <v>; a program that never
                # calculated writes no <v> or an empty one without that type
                unsaved = value is None or (not (value.text or "") and element.get("t") not in ("str", "inlineStr"))
                if "f" in children and unsaved:
                    row, column = coordinate_to_tuple(element.get("r"))
                    found.setdefault(row, []).append(column)
                element.clear()
    finally:
        source.close()
    return found


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula (a cheap byte scan before parsing)."""
    import zipfile

    pattern = re.compile(rb"<(?:\w+:)?f[ >/]")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with zf.open(name) as fh:
                    tail = b""
                    while block := fh.read(1 << 20):
                        if pattern.search(tail + block):
                            return True
                        tail = block[-16:]
    return False


def _read_xlsx(path: Path, sheet: str | None) -> Iterator[pd.DataFrame]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
        formulas = _has_formulas(path)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportFileError(path, [f"cannot read the workbook: {exc}"]) from None
    try:
        if sheet and sheet not in wb.sheetnames:
            raise ImportFileError(path, [f"the workbook has no sheet {sheet!r} (it has: {', '.join(wb.sheetnames)})"])
        ws = wb[sheet] if sheet else wb.worksheets[0]
        unsaved = _unsaved_formulas(ws) if formulas else {}
        # Read-only mode trusts the sheet's stored dimension, which some exporters get wrong
        # (rows or columns beyond it would be silently dropped): read what is really there.
        ws.reset_dimensions()
        rows = ws.iter_rows(values_only=True)
        names: list[str] = []
        next_row = 1
        for header in rows:  # leading empty rows are skipped (and counted)
            next_row += 1
            names = _header_names(list(header))
            if names:
                break
        if not names:
            return
        errors = [RowError(row, names[col - 1] if col <= len(names) else str(col),
                           "formula without a saved value: open and save the file in Excel")
                  for row, cols in sorted(unsaved.items()) if row >= next_row for col in sorted(cols)]
        if errors:
            raise ImportFileError(path, errors)
        width = len(names)
        batch: list[list[str]] = []
        numbers: list[int] = []
        beyond: list[int] = []
        for values in rows:
            cells = [_xlsx_cell(v) for v in values[:width]]
            cells += [""] * (width - len(cells))
            extra = next((width + 1 + i for i, v in enumerate(values[width:]) if _xlsx_cell(v).strip()), 0)
            batch.append(cells)
            numbers.append(next_row)
            beyond.append(extra)
            next_row += 1
            if len(batch) >= CHUNK_ROWS:
                yield _frame_of(batch, names, numbers, beyond)
                batch, numbers, beyond = [], [], []
        yield _frame_of(batch, names, numbers, beyond)
    finally:
        wb.close()


def _frame_of(batch: list[list[str]], names: list[str], numbers: list[int], beyond: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(batch, columns=names, dtype=object) if batch else pd.DataFrame(
        {name: pd.Series([], dtype=object) for name in names})
    frame.columns = names  # duplicates stay duplicates (reported by the header check)
    frame[_ROW] = np.asarray(numbers, dtype=np.int64)
    frame[_BEYOND] = np.asarray(beyond, dtype=np.int64)
    return frame


def _read_csv(path: Path, encoding: str) -> Iterator[pd.DataFrame]:
    delimiter = _sniff_delimiter(path, encoding)
    # The header is read here, so that pandas never guesses: with names given and one spare
    # column, a row with one field too many fills the spare column (reported as a row error)
    # instead of silently turning the first column into the index.
    with path.open("r", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        names: list[str] = []
        raw_header: list[str] = []
        consumed = 0
        for raw_header in reader:  # leading blank lines are skipped (and counted)
            consumed += 1
            names = _header_names(raw_header)
            if names:
                break
    if not names:
        return
    width = len(names)
    spare = [f"__spare{i}__" for i in range(max(len(raw_header), width) - width + 1)]
    placeholders = [f"__c{i}__" for i in range(width)]
    next_row = consumed + 1
    try:
        reader = pd.read_csv(
            path, encoding=encoding, sep=delimiter, header=None, names=placeholders + spare, skiprows=consumed,
            index_col=False, dtype=str, keep_default_na=False, na_filter=False, chunksize=CHUNK_ROWS,
            skip_blank_lines=False,
        )
        for chunk in reader:
            beyond = np.zeros(len(chunk), dtype=np.int64)
            for i, column in enumerate(spare):
                filled = (chunk[column].str.strip() != "").to_numpy() & (beyond == 0)
                beyond[filled] = width + 1 + i
            frame = chunk[placeholders]
            frame.columns = names
            frame = frame.assign(**{_ROW: np.arange(next_row, next_row + len(chunk)), _BEYOND: beyond})
            next_row += len(chunk)
            yield frame
    except pd.errors.EmptyDataError:
        return
    except pd.errors.ParserError as exc:
        message = str(exc)
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
        if match:
            _, line, saw = match.groups()
            raise ImportFileError(path, [RowError(
                int(line), str(width + 1),
                f"found {saw} fields, the header has {width} columns (a delimiter or quote is off)")]) from None
        raise ImportFileError(path, [f"cannot parse the CSV: {message}"]) from None


def read_chunks(path: Path, mapping: Mapping, shown_as: Path | None = None) -> Iterator[pd.DataFrame]:
    """Chunks of text cells with `__row__` numbering rows as a spreadsheet does (empty rows dropped).

    `path` is a plain CSV or XLSX (see `readable`); errors name `shown_as`, the file the user gave."""
    try:
        if _content_kind(path) == "xlsx":
            chunks = _read_xlsx(path, mapping.sheet)
        else:
            chunks = _read_csv(path, _detect_encoding(path, mapping.encoding))
        for chunk in chunks:
            cells = [i for i, c in enumerate(chunk.columns) if c not in (_ROW, _BEYOND)]
            blank = (chunk.iloc[:, cells].astype(str) == "").all(axis=1).to_numpy() & (chunk[_BEYOND] == 0).to_numpy()
            yield chunk[~blank] if blank.any() else chunk
    except ImportFileError as exc:
        if shown_as is None or Path(exc.path) == shown_as:
            raise
        raise ImportFileError(shown_as, exc.errors) from None


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _content_kind(path: Path) -> str:
    """csv | xlsx | gzip | zip by the file's first bytes (the name may lie); ImportFileError for what
    SQMS cannot read, saying what the file is."""
    import zipfile

    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            if path.suffix.lower() in (".xlsx", ".xlsm"):
                return "xlsx"  # the workbook reader says what is wrong with it
            raise ImportFileError(path, ["the file starts like a ZIP archive but is damaged or incomplete"]) from None
        if "[Content_Types].xml" in names:
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
            what = ("a Word document" if any(n.startswith("word/") for n in names) else
                    "a PowerPoint presentation" if any(n.startswith("ppt/") for n in names) else "an Office document")
            raise ImportFileError(path, [f"the file is {what}, not a table: save the data as CSV UTF-8 or XLSX"])
        return "zip"
    if head.startswith(_OLE2):
        raise ImportFileError(path, ["the file is an old Excel 97–2003 workbook (.xls) or another OLE document: "
                                     "open it in Excel and save it as .xlsx or CSV UTF-8"])
    if head.startswith(b"%PDF"):
        raise ImportFileError(path, ["the file is a PDF document, not a table: export the data as CSV or XLSX"])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return "xlsx"
    return "csv"


@contextmanager
def readable(path: Path) -> Iterator[Path]:
    """The file to read: `path` itself, or the one file inside a `.gz` or `.zip`, unpacked to a
    temporary folder for the time of the import."""
    import gzip
    import shutil
    import tempfile
    import zipfile
    import zlib

    if not path.is_file():
        raise ImportFileError(path, [f"file {path} not found" if not path.exists() else f"{path} is not a file"])
    kind = _content_kind(path)
    if kind in ("csv", "xlsx"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="sqms-import-") as tmp:
        if kind == "gzip":
            inner = Path(tmp) / (path.stem if path.suffix.lower() == ".gz" else path.name + ".csv")
            try:
                with gzip.open(path) as src, inner.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (OSError, EOFError, zlib.error) as exc:
                raise ImportFileError(path, [f"the gzip file is damaged or incomplete ({exc})"]) from None
        else:
            try:
                with zipfile.ZipFile(path) as zf:
                    members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")
                               and not Path(m.filename).name.startswith(".")]
                    if len(members) != 1:
                        listed = ", ".join(m.filename for m in members[:10]) or "nothing"
                        raise ImportFileError(path, [f"the ZIP archive holds {len(members)} files ({listed}); "
                                                     "put exactly one CSV or XLSX file in it"])
                    inner = Path(tmp) / (Path(members[0].filename).name or "data.csv")
                    with zf.open(members[0]) as src, inner.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
                raise ImportFileError(path, [f"cannot unpack the ZIP archive ({exc})"]) from None
        try:
            if _content_kind(inner) not in ("csv", "xlsx"):
                raise ImportFileError(path, [f"the archive holds another archive ({inner.name}): "
                                             "put the CSV or XLSX file itself in it"])
        except ImportFileError as exc:
            raise ImportFileError(path, [f"{inner.name} in the archive: {e}" for e in exc.errors]) from None
        yield inner


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# -- validation -------------------------------------------------------------------


class _Checker:
    """Validates one chunk, column by column, collecting RowErrors."""

    def __init__(self, df: pd.DataFrame, ctx: Context):
        self.df = df
        self.ctx = ctx
        self.rows = df["__row__"].to_numpy()
        self.errors: list[RowError] = []

    def fail(self, mask: pd.Series | np.ndarray, column: str, reason: Callable[[Any], str] | str,
             values: pd.Series | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        idx = np.flatnonzero(mask)
        shown = values.to_numpy()[idx] if values is not None else [None] * len(idx)
        for i, v in zip(idx, shown):
            self.errors.append(RowError(int(self.rows[i]), column, reason(v) if callable(reason) else reason))

    def text(self, spec: FieldSpec) -> pd.Series:
        raw = self.df[spec.name].astype(str).str.strip() if spec.name in self.df else pd.Series(
            "", index=self.df.index, dtype=str)
        mapped = self.ctx.mapping.values.get(spec.name)
        if mapped:
            raw = raw.replace(mapped).astype(str)  # whole values, never chained
        return raw

    def check(self, spec: FieldSpec) -> pd.Series:
        raw = self.text(spec)
        empty = raw == ""
        if spec.required:
            self.fail(empty, spec.name, "a value is required")
        return getattr(self, f"_{spec.kind}")(spec, raw, empty)

    def _id(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        bad = ~empty & ~raw.str.match(_ID_PATTERN)
        self.fail(bad, spec.name, lambda v: f"invalid id {_show(v)} (at most 64 characters, no spaces, quotes or <>&)",
                  raw)
        if spec.known is not None:
            unknown = ~empty & ~bad & ~raw.isin(list(spec.known(self.ctx)))
            self.fail(unknown, spec.name, lambda v: f"unknown {spec.name} {_show(v)}", raw)
            bad = bad | unknown
        return raw.where(~empty & ~bad, None)

    def _text(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        too_long = raw.str.len() > spec.max_length
        self.fail(too_long, spec.name, f"longer than {spec.max_length} characters")
        # control characters are rare: found by Arrow's RE2 over the column, removed (Python's re) only where found
        control = _matches(raw, _CONTROL.pattern)
        cleaned = raw.mask(control, raw[control].str.replace(_CONTROL, "", regex=True)) if control.any() else raw
        return cleaned.where(~empty & ~too_long, None)

    def _email(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        lowered = raw.str.lower()
        bad = ~empty & ~lowered.str.match(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
        self.fail(bad, spec.name, lambda v: f"{_show(v)} is not an email address", raw)
        too_long = ~bad & (raw.str.len() > 254)  # the column's size (RFC 5321)
        self.fail(too_long, spec.name, "longer than 254 characters")
        bad = bad | too_long
        return lowered.where(~empty & ~bad, None)

    def _choice(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        lowered = raw.str.lower()
        bad = ~empty & ~lowered.isin(spec.choices)
        self.fail(bad, spec.name, lambda v: f"unknown {spec.name} {_show(v)} (expected one of: "
                  f"{', '.join(spec.choices)})", raw)
        return lowered.where(~empty & ~bad, None)

    def _department(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        codes = raw.map(self.ctx.department_lookup)
        bad = ~empty & codes.isna()
        known = ", ".join(f"{d.code} {d.name}" for d in self.ctx.settings.departments)
        self.fail(bad, spec.name, lambda v: f"unknown department {_show(v)} (known: {known})", raw)
        return codes.where(~empty & ~bad, None)

    def _bool(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        lowered = raw.str.lower()
        is_true, is_false = lowered.isin(TRUE_VALUES), lowered.isin(FALSE_VALUES)
        bad = ~empty & ~is_true & ~is_false
        self.fail(bad, spec.name, lambda v: f"{_show(v)} is not a yes/no value (true/false/1/0/是/否)", raw)
        out = pd.Series(None, index=raw.index, dtype=object)
        out[is_true.to_numpy()] = True
        out[is_false.to_numpy()] = False
        return out

    def _number(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        scale = self.ctx.mapping.scale.get(spec.name) or (
            self.ctx.mapping.scale.get(spec.scale_group) if spec.scale_group else None)
        # a "not answered" code never hides a real answer: 0 means no answer on a 1–10 scale,
        # but it is a detractor's score on the 0–10 NPS scale
        low, high = scale.source if scale is not None else (spec.low, spec.high)
        codes = [c for c in self.ctx.mapping.not_answered if not _within(c, low, high)]
        empty = empty | raw.isin(codes) if codes else empty
        values = pd.to_numeric(raw.where(~empty, None), errors="coerce")
        bad = ~empty & values.isna()
        self.fail(bad, spec.name, lambda v: f"{_show(v)} is not a number", raw)
        if scale is not None:
            outside = ~empty & ~bad & ((values < scale.source[0]) | (values > scale.source[1]))
            self.fail(outside, spec.name, lambda v: f"{_show(v)} is outside the file's scale "
                      f"{scale.source[0]:g}–{scale.source[1]:g}", raw)
            bad = bad | outside
            values = scale.apply(values)
            if spec.integer:
                values = np.floor(values + 0.5)
        elif spec.integer:
            fractional = ~empty & ~bad & (values != np.floor(values))
            self.fail(fractional, spec.name, lambda v: f"{_show(v)} is not a whole number", raw)
            bad = bad | fractional
        if spec.low is not None and spec.high is not None:
            outside = ~empty & ~bad & ((values < spec.low - 1e-9) | (values > spec.high + 1e-9))
            self.fail(outside, spec.name, lambda v: f"{_show(v)} is outside {spec.low:g}–{spec.high:g}", raw)
            bad = bad | outside
        return values.where(~empty & ~bad, np.nan)

    def _datetime(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        parsed = parse_datetimes(raw.where(~empty, ""), self.ctx.tz, self.ctx.mapping.datetime_format)
        bad = ~empty & parsed.isna()
        hint = self.ctx.mapping.datetime_format or "ISO 8601 or YYYY/MM/DD HH:MM[:SS]"
        self.fail(bad, spec.name, lambda v: f"bad date {_show(v)} (expected {hint})", raw)
        return parsed


def _within(code: str, low: float | None, high: float | None) -> bool:
    """Whether `code` is a number in [low, high] (a valid answer); False without bounds."""
    try:
        number = float(code)
    except ValueError:
        return False
    return low is not None and high is not None and low <= number <= high


def _show(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _pad_slash_date(match: re.Match) -> str:
    y, m, d = match.groups()
    return f"{y}-{int(m):02d}-{int(d):02d}"


# an offset (Z, +08, +0800, +08:00) right after a time of day
_OFFSET_AT_END = r"(?:\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{2})\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def _matches(text: pd.Series, pattern: str) -> pd.Series:
    """`text.str.contains(pattern)` through Arrow's RE2 (pandas falls back to Python's re, ~4× slower)."""
    arrow = (pa.array(text.array) if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow"
             else pa.array(text.to_numpy(dtype=object), type=pa.string()))
    found = pc.match_substring_regex(arrow, pattern)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=text.index, dtype=bool)


def parse_datetimes(raw: pd.Series, tz: ZoneInfo, fmt: str | None = None) -> pd.Series:
    """Text → naive UTC datetime64 (NaT where empty or unparseable).

    Values without an offset are local time in `tz`; ISO 8601 and YYYY/MM/DD HH:MM[:SS] are accepted.
    """
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    present = raw != ""
    if not present.any():
        return out
    text = raw[present]
    if fmt:
        aware = "%z" in fmt or "%Z" in fmt
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=aware)
        aware_mask = pd.Series(aware, index=text.index)
    else:
        if text.str.contains("/", regex=False).any():
            text = text.str.replace(r"^(\d{4})/(\d{1,2})/(\d{1,2})", _pad_slash_date, regex=True)
        aware_mask = _matches(text, _OFFSET_AT_END)
        # one parse for all: utc=True never fails on mixed offsets; text without an offset is read as
        # if it were UTC here and localised below
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    local = parsed.where(~aware_mask).dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    result = local.dt.tz_convert("UTC").dt.tz_localize(None).where(~aware_mask, parsed)
    result = result.astype("datetime64[us]")
    sane = (result >= pd.Timestamp("1990-01-01")) & (result < pd.Timestamp("2200-01-01"))
    out[present] = result.where(sane)
    return out


def validate_chunk(df: pd.DataFrame, ctx: Context, fields: list[FieldSpec]) -> tuple[pd.DataFrame, list[RowError]]:
    """Typed values (one column per field, plus __row__) and the errors of this chunk."""
    checker = _Checker(df, ctx)
    out = pd.DataFrame({"__row__": df["__row__"].to_numpy()}, index=df.index)
    if _BEYOND in df:
        beyond = df[_BEYOND].to_numpy()
        width = sum(1 for c in df.columns if c not in (_ROW, _BEYOND))
        for column in np.unique(beyond[beyond > 0]):
            checker.fail(beyond == column, str(column), f"found a value in column {column}, the header has "
                         f"{width} columns (a delimiter or quote is off)")
    for f in fields:
        out[f.name] = checker.check(f)
    for f in fields:
        if f.not_before:
            earlier = out[f.not_before]
            bad = out[f.name].notna() & earlier.notna() & (out[f.name] < earlier)
            checker.fail(bad, f.name, f"is before {f.not_before}")
    return out, checker.errors


class _SeenKeys:
    """Ids met so far in the file; the row where each was first seen is looked up only for a duplicate.

    A plain set: probing a million ids chunk by chunk (`isdisjoint`, `update`: C loops) costs far less
    than rebuilding a pandas hash index over everything seen at every chunk.
    """

    def __init__(self) -> None:
        self._seen: set[Any] = set()
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []  # (keys, rows) of each chunk, in file order

    def check(self, keys: pd.Series, rows: np.ndarray, key: str) -> list[RowError]:
        present = keys.notna().to_numpy()
        values = keys.to_numpy(dtype=object)
        listed = values[present].tolist()
        seen = self._seen
        dup = keys.duplicated(keep="first").to_numpy() & present
        if not seen.isdisjoint(listed):
            dup |= np.fromiter((v in seen for v in values), dtype=bool, count=len(values)) & present
        errors = []
        if dup.any():
            fresh = present & ~dup
            self._chunks.append((values[fresh], rows[fresh]))
            errors = [RowError(int(r), key, f"duplicate {key} {_show(k)} (first in row {self._first_row(k)})")
                      for k, r in zip(values[dup], rows[dup])]
        else:
            self._chunks.append((values[present], rows[present]))
        seen.update(listed)
        return errors

    def _first_row(self, value: Any) -> Any:
        for keys, rows in self._chunks:
            at = np.flatnonzero(keys == value)
            if len(at):
                return int(rows[at[0]])
        return "?"


# -- writing ----------------------------------------------------------------------


def _python_values(series: pd.Series) -> list[Any]:
    """Plain Python values (None for missing); datetimes become aware UTC."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(v) else v.to_pydatetime().replace(tzinfo=UTC) for v in series]
    return series.astype(object).where(series.notna(), None).tolist()


def _db_column_values(series: pd.Series, column: Any) -> list[Any]:
    """Values in the form the DB-API driver takes for a raw executemany or COPY."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return _sqlite_datetime_texts(series)
    if isinstance(column.type, JSON):
        return _json_texts(series.tolist())
    if isinstance(column.type, Integer) and not isinstance(column.type, Boolean):
        return series.astype("Int64").astype(object).where(series.notna(), None).tolist()
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        # Arrow-backed text straight to Python strings (None for missing): no object Series in between
        return pa.array(series.array).to_numpy(zero_copy_only=False).tolist()
    return _python_values(series)


def _sqlite_datetime_texts(series: pd.Series) -> list[str | None]:
    """Naive-UTC datetimes as SQLite's DateTime text (SQLITE_DATETIME_FORMAT, `YYYY-MM-DD HH:MM:SS.ffffff`):
    Arrow's cast of a microsecond timestamp writes exactly that, in C++ (pandas' strftime is 4× dearer)."""
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    text = pa.array(series.astype("datetime64[us]"), from_pandas=True).cast(pa.string())
    return text.to_numpy(zero_copy_only=False).tolist()


def _json_texts(values: list[Any]) -> list[str | None]:
    """JSON text of each value; repeated small dicts (an audit entry's {"status": ...}) dumped once."""
    cache: dict[Any, str] = {}
    out: list[str | None] = []
    append, dumps = out.append, json.dumps
    for v in values:
        if v is None:
            append(None)
            continue
        if type(v) is dict:
            key = tuple(v.items())
            try:
                text = cache.get(key)  # hashing the items: unhashable values (lists) are dumped each time
            except TypeError:
                append(dumps(v, ensure_ascii=False))
                continue
            if text is None:
                text = cache[key] = dumps(v, ensure_ascii=False)
            append(text)
        else:
            append(dumps(v, ensure_ascii=False))
    return out


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows (dicts with the same keys) through the driver's fastest path (executemany, COPY):
    for bulk audit entries, where SQLAlchemy's per-row parameter processing is the cost."""
    if rows:
        columns = list(rows[0])
        _insert_rows(conn, table, pd.DataFrame(rows, columns=columns), columns)


def _insert_rows(conn: Connection, table: Table, frame: pd.DataFrame, columns: list[str]) -> None:
    if frame.empty:
        return
    if conn.dialect.name == "sqlite":
        cols = [_db_column_values(frame[c], table.c[c]) for c in columns]
        placeholders = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO {table.name} ({", ".join(columns)}) VALUES ({placeholders})'
        conn.exec_driver_sql(sql, list(zip(*cols)))
        return
    # PostgreSQL: COPY in CSV written by Arrow (C++): strings quoted, NULL an unquoted empty field
    raw = conn.connection.driver_connection
    arrow = pa.table([_arrow_column(frame[c], table.c[c]) for c in columns], names=columns)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(arrow, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    data = sink.getvalue()
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
            step = 8 << 20
            for start in range(0, data.size, step):
                copy.write(memoryview(data)[start:start + step])


def _arrow_column(series: pd.Series, column: Any) -> pa.Array:
    """One column for Arrow's CSV writer, typed as the table's column (missing values null)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return pa.array(series.astype("datetime64[us]"), from_pandas=True)
    if isinstance(column.type, JSON):
        return pa.array(_json_texts(series.tolist()), type=pa.string())
    if isinstance(column.type, Boolean):
        return pa.array(series.astype(object).where(series.notna(), None).tolist(), type=pa.bool_())
    if isinstance(column.type, Integer):
        return pa.array(series.astype("Int64"), type=pa.int64(), from_pandas=True)
    if isinstance(column.type, Float):
        return pa.array(pd.to_numeric(series.astype(object).where(series.notna(), np.nan)).astype(float),
                        type=pa.float64(), from_pandas=True)
    if isinstance(column.type, Date):
        return pa.array(series.astype(object).where(series.notna(), None).tolist(), type=pa.date32())
    return pa.array(series.astype(object).where(series.notna(), None), type=pa.string(), from_pandas=True)


def _normalise_for_compare(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {k: _normalise_for_compare(v) for k, v in value.items()}
    return value


def _same(incoming: pd.Series, stored: pd.Series, column: Any) -> np.ndarray:
    """Element-wise: is the incoming (validated) value the stored one? Missing equals missing."""
    if isinstance(column.type, JSON):  # dicts: compared one by one (survey answers only)
        return np.array([_normalise_for_compare(a) == _normalise_for_compare(b)
                         for a, b in zip(incoming.tolist(), stored.tolist())], dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(incoming):
        a = incoming.astype("datetime64[us]")
        b = pd.to_datetime(stored, utc=True).dt.tz_localize(None).astype("datetime64[us]")
    elif pd.api.types.is_float_dtype(incoming):
        a = incoming.round(9)
        b = pd.to_numeric(stored.astype(object).where(stored.notna(), np.nan)).astype(float).round(9)
    else:
        a, b = incoming.astype(object), stored.astype(object)
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    missing_a, missing_b = a.isna().to_numpy(), b.isna().to_numpy()
    equal = (a == b).to_numpy(dtype=bool, na_value=False)
    return (equal & ~missing_a & ~missing_b) | (missing_a & missing_b)


def key_in(conn: Connection, column: Any, keys: list[Any]) -> Any:
    """`column IN keys` as one bound parameter whatever the number of keys (a JSON array on SQLite, an
    array on PostgreSQL): no statement with thousands of placeholders to compile per batch."""
    if conn.dialect.name == "sqlite":
        values = func.json_each(bindparam("keys", json.dumps(keys, ensure_ascii=False), type_=String)
                                ).table_valued("value")
        return column.in_(select(values.c.value))
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam("keys", keys, type_=ARRAY(String)))


def _merge(conn: Connection, spec: ImportSpec, frame: pd.DataFrame, columns: list[str], table_was_empty: bool,
           actor: str, now: datetime, audit_rows: list[dict[str, Any]],
           result: ImportResult | None = None) -> tuple[int, int, int]:
    """Insert new rows, update changed ones (audited), skip identical ones.

    Existing rows are compared column by column (vectorised); only changed rows cost a statement each.
    An empty cell never replaces a stored value (an older or partial export must not erase what is
    known; survey answers are merged item by item), and the spec's `conflicts` rule keeps what SQMS
    itself moved on: those values are kept, reported in `result.conflicts` and audited.
    """
    table, key = spec.table, spec.key
    if frame.empty:
        return 0, 0, 0
    found: list[pd.DataFrame] = []
    if not table_was_empty:
        found.append(read_frame(conn, [table.c[c] for c in columns], key_in(conn, table.c[key], frame[key].tolist())))
    stored = (pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns, dtype=object)
              ).set_index(key, drop=False)
    is_new = ~frame[key].astype(object).isin(stored.index)
    new_frame = frame[is_new.to_numpy()]
    if "updated_at" in table.c:
        new_frame = new_frame.assign(updated_at=pd.Timestamp(now.replace(tzinfo=None)))
    # raw inserts bypass the ORM, so the columns' Python-side defaults (e.g. opted_out=False) are set here
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in new_frame.columns and c.default is not None and c.default.is_scalar}
    new_frame = new_frame.assign(**defaults)
    insert_cols = columns + [c for c in ("updated_at", *defaults) if c in new_frame.columns and c not in columns]
    _insert_rows(conn, table, new_frame, insert_cols)
    old_frame = frame[~is_new.to_numpy()]
    if old_frame.empty:
        return len(new_frame), 0, 0
    before = stored.loc[old_frame[key].astype(object).to_numpy()]
    conflicts = (spec.conflicts(conn, before.reset_index(drop=True), old_frame.reset_index(drop=True))
                 if spec.conflicts is not None else [])
    old_frame = _keep_known(old_frame, before, columns, table)
    same = np.column_stack([_same(old_frame[c], before[c], table.c[c]) for c in columns])
    if conflicts:
        position = {k: i for i, k in enumerate(old_frame[key].tolist())}
        for c in conflicts:
            same[position[c.key], columns.index(c.column)] = True
        if result is not None:
            result.conflicts.extend(conflicts)
    changed_rows = np.flatnonzero(~same.all(axis=1))
    if len(changed_rows):
        incoming = {c: _python_values(old_frame[c].iloc[changed_rows]) for c in columns}
        for i, row in enumerate(changed_rows):
            changed = [c for j, c in enumerate(columns) if not same[row, j]]
            ident = incoming[key][i]
            old_values = {c: _python_values(before[c].iloc[row:row + 1])[0] for c in changed}
            new_values = {c: incoming[c][i] for c in changed}
            values = dict(new_values, **({"updated_at": now} if "updated_at" in table.c else {}))
            conn.execute(update(table).where(table.c[key] == ident).values(**values))
            audit_rows.append({
                "at": now, "actor": actor, "action": "update", "entity": spec.table.name, "entity_id": str(ident),
                "before": jsonable(old_values), "after": jsonable(new_values), "comment": "import",
            })
    return len(new_frame), len(changed_rows), len(old_frame) - len(changed_rows)


def _keep_known(incoming: pd.DataFrame, stored: pd.DataFrame, columns: list[str], table: Table) -> pd.DataFrame:
    """`incoming` with its empty values replaced by the stored ones (JSON dicts merged key by key)."""
    out = {}
    for c in columns:
        new, old = incoming[c].reset_index(drop=True), stored[c].reset_index(drop=True)
        if isinstance(table.c[c].type, JSON):
            out[c] = pd.Series([({**(o or {}), **(n or {})} if isinstance(o, dict) or isinstance(n, dict) else
                                 (n if n is not None else o)) for n, o in zip(new.tolist(), old.tolist())],
                               dtype=object)
            continue
        fill = new.isna().to_numpy() & old.notna().to_numpy()
        if not fill.any():
            out[c] = new
        elif pd.api.types.is_datetime64_any_dtype(new):
            old_dt = pd.to_datetime(old, utc=True).dt.tz_localize(None).astype(new.dtype)
            out[c] = new.where(~fill, old_dt)
        elif pd.api.types.is_float_dtype(new):
            out[c] = new.where(~fill, pd.to_numeric(old.astype(object).where(old.notna(), np.nan)).astype(float))
        else:
            out[c] = new.astype(object).where(~fill, old.astype(object))
    return pd.DataFrame(out).set_axis(incoming.index)


def _write_rejects(path: Path, rejected: list[pd.DataFrame], errors: list[RowError]) -> str:
    target = path.with_name(path.name + ".rejects.csv")
    reasons: dict[int, list[str]] = {}
    for e in errors:
        reasons.setdefault(e.row, []).append(f"{e.column}: {e.reason}")
    frame = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=[_ROW])
    cells = [c for c in frame.columns if c not in (_ROW, _BEYOND)]
    frame = pd.concat([
        pd.DataFrame({"row": frame[_ROW].to_numpy(),
                      "errors": [("; ".join(reasons.get(int(r), []))) for r in frame[_ROW]]}),
        frame[cells].reset_index(drop=True),
    ], axis=1)
    frame.to_csv(target, index=False, encoding="utf-8-sig")
    return str(target)


# -- entry point ------------------------------------------------------------------


def _resolve_mapping(mapping: Mapping, fields: list[FieldSpec], path: Path) -> Mapping:
    """The mapping with its `values`, `scale` and `defaults` keys as our column names.

    A key may name our column or theirs (as renamed by `columns`), in any case; a key that
    names no column of the format is an error rather than a silently ignored rule, and so is
    a `columns` entry renaming to a column the format does not have.
    """
    ours = {f.name.lower(): f.name for f in fields}
    theirs = {k.strip().lower(): v.strip() for k, v in mapping.columns.items()}
    groups = {f.scale_group for f in fields if f.scale_group}
    known = ", ".join([f.name for f in fields])
    problems: list[str] = []
    for key, target in mapping.columns.items():
        if target.strip().lower() not in ours:
            problems.append(f"mapping columns.{key}: {target!r} is not a column of the file format (known: {known})")

    def resolve(section: str, key: str, group_ok: bool = True) -> str | None:
        if group_ok and key in groups:
            return key
        name = ours.get(theirs.get(key.strip().lower(), key).strip().lower())
        if name is None:
            problems.append(f"mapping {section}.{key}: the file format has no such column "
                            f"(known: {', '.join([f.name for f in fields] + (sorted(groups) if group_ok else []))})")
        return name

    values = {name: rules for key, rules in mapping.values.items() if (name := resolve("values", key))}
    scale = {name: rule for key, rule in mapping.scale.items() if (name := resolve("scale", key))}
    defaults = {name: value for key, value in mapping.defaults.items()
                if (name := resolve("defaults", key, group_ok=False))}
    if problems:
        raise ImportFileError(path, problems)
    return mapping.model_copy(update={"values": values, "scale": scale, "defaults": defaults})


def _check_header(path: Path, raw_names: list[str], fields: list[FieldSpec], mapping: Mapping) -> list[str]:
    """Our column names of the file's header (renamed by the mapping, matched in any case), or
    ImportFileError with one message per problem: mapping entries for columns the file lacks,
    every missing required column at once (with a hint at --mapping for a foreign file), duplicates."""
    rename = {k.strip().lower(): v.strip() for k, v in mapping.columns.items()}
    canonical = {f.name.lower(): f.name for f in fields}
    names = [canonical.get(rename.get(c.lower(), c).lower(), rename.get(c.lower(), c)) for c in raw_names]
    header_lower = {c.strip().lower() for c in raw_names}
    shown = ", ".join(raw_names) or "none"
    problems: list[str] = [f"mapping columns.{key}: the file has no column {key!r} (the file has: {shown})"
                           for key in mapping.columns if key.strip().lower() not in header_lower]
    missing = [f.name for f in fields
               if not f.header_optional and f.name not in names and f.name not in mapping.defaults]
    if missing:
        known = {f.name for f in fields}
        ours = sum(1 for c in names if c in known)
        message = (f"row 1: the file lacks the required column{'s' if len(missing) > 1 else ''} "
                   f"{', '.join(missing)} (the file has: {shown})")
        may_be_empty = [f.name for f in fields if f.name in missing and not f.required]
        if may_be_empty:
            message += (f"; {', '.join(may_be_empty)} may hold empty values: a mapping can supply "
                        f"{'them' if len(may_be_empty) > 1 else 'it'} with `defaults: {{{may_be_empty[0]}: \"\"}}`")
        if not mapping.columns and ours * 2 < len(names):
            message += ("; it looks like an export of another system: describe its columns in a mapping "
                        "file and import with --mapping M.yaml (examples in config/mappings/)")
        problems.append(message)
    duplicates = sorted({c for c in names if names.count(c) > 1})
    problems += [str(RowError(1, c, "the column appears twice")) for c in duplicates]
    if problems:
        raise ImportFileError(path, problems)
    return names


def _apply_defaults(chunk: pd.DataFrame, defaults: dict[str, str]) -> pd.DataFrame:
    """The mapping's `defaults`: a column the file lacks gets the value, and so does an empty cell."""
    if not defaults:
        return chunk
    filled = {}
    for name, value in defaults.items():
        if name in chunk.columns:
            cells = chunk[name].astype(str)
            filled[name] = cells.where(cells.str.strip() != "", value)
        else:
            filled[name] = value
    return chunk.assign(**filled)


def department_lookup(settings: Settings) -> dict[str, str]:
    """Code, name or English name (codes and English names in any case) -> code."""
    lookup: dict[str, str] = {}
    for d in settings.departments:
        for alias in (d.code, d.code.lower(), d.name, d.name_en, d.name_en.lower(), d.name_en.upper()):
            if alias:
                lookup[alias] = d.code
    return lookup


def import_file(settings: Settings, spec: ImportSpec, path: str | Path, *,
                mapping: Mapping | str | Path | None = None, skip_invalid: bool = False, actor: str | None = None,
                constants: dict[str, Any] | None = None) -> ImportResult:
    """Validate and import one file; see the module docstring for the guarantees.

    Every attempt is recorded in `import_runs`, a rejected or failed one too (written after the
    import's own transaction rolled back). A database that fails half-way raises
    ImportDatabaseError: one line, nothing imported.
    """
    path = Path(path)
    started = utcnow()
    actor = actor or default_actor()
    try:
        if isinstance(mapping, (str, Path)):  # a mapping file: a broken one is a rejected attempt too
            mapping = load_mapping(mapping)
        return _import_file(settings, spec, path, mapping=mapping, skip_invalid=skip_invalid, actor=actor,
                            constants=constants, started=started)
    except ImportFileError as exc:
        _record_failed_run(settings, spec, path, actor, started, "rejected", [str(e) for e in exc.errors])
        raise
    except Exception as exc:
        if not is_database_error(exc):
            _record_failed_run(settings, spec, path, actor, started, "failed", [f"{type(exc).__name__}: {exc}"])
            raise
        reason = database_reason(exc)
        _record_failed_run(settings, spec, path, actor, started, "failed", [f"database: {reason}"])
        raise ImportDatabaseError(path, reason) from None


def is_database_error(exc: BaseException) -> bool:
    """An error of the database or its driver (SQLAlchemy wraps most; COPY raises psycopg's own)."""
    import sqlite3

    if isinstance(exc, (DBAPIError, sqlite3.Error)):
        return True
    return type(exc).__module__.split(".")[0] == "psycopg"


def database_reason(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else 'no message'}"


def _record_failed_run(settings: Settings, spec: ImportSpec, path: Path, actor: str, started: datetime,
                       status: str, errors: list[str]) -> None:
    """The attempt in `import_runs`, in a transaction of its own (the import's was rolled back).
    A database that is down cannot take it: that is logged, the import's own error is what the user sees."""
    try:
        sha = file_sha256(path) if path.is_file() else ""
    except OSError:
        sha = ""
    try:
        with UnitOfWork(settings.database_url, actor) as uow:
            uow.session.add(ImportRun(
                kind=spec.kind, filename=str(path), sha256=sha, started_at=started, finished_at=utcnow(),
                actor=uow.actor, status=status, counts={}, error_count=len(errors),
                errors=[e[:500] for e in errors[:MAX_RUN_ERRORS]],
            ))
            uow.commit()
    except Exception as exc:  # the database itself is what failed: nothing more can be recorded
        log.warning("%s: could not record the failed import in import_runs: %s", path, database_reason(exc))


def _import_file(settings: Settings, spec: ImportSpec, path: Path, *, mapping: Mapping | None,
                 skip_invalid: bool, actor: str, constants: dict[str, Any] | None,
                 started: datetime) -> ImportResult:
    from sqms.org.service import sync_organisation

    if not path.exists():
        raise ImportFileError(path, [f"file {path} not found"])
    mapping = mapping or Mapping()
    ctx = Context(settings, mapping, department_lookup(settings), settings.tz)
    fields = spec.all_fields(ctx)
    result = ImportResult(kind=spec.kind, path=str(path))
    sha = file_sha256(path)
    mapping = ctx.mapping = _resolve_mapping(mapping, fields, path)

    fingerprint = _fingerprint(settings, spec, ctx, fields, sha, constants)
    with UnitOfWork(settings.database_url, actor) as uow, readable(path) as source:
        sync_organisation(uow.session, settings)
        uow.session.flush()
        conn = uow.session.connection()
        if _unchanged_since_last_import(conn, spec, sha, fingerprint, result):
            _record_run(uow, settings, spec, path, sha, started, result, fingerprint=fingerprint)
            uow.commit()
            return result
        table_was_empty = conn.execute(select(func.count()).select_from(spec.table)).scalar_one() == 0
        deferred = _defer_indexes(conn, spec.table, path) if table_was_empty else []
        seen = _SeenKeys()
        rejected_frames: list[pd.DataFrame] = []
        audit_rows: list[dict[str, Any]] = []
        header_checked = False
        for chunk in read_chunks(source, mapping, shown_as=path):
            raw_names = [c for c in chunk.columns if c not in (_ROW, _BEYOND)]
            names = _check_header(path, raw_names, fields, mapping)
            chunk = chunk.set_axis(names + [c for c in chunk.columns if c in (_ROW, _BEYOND)], axis=1)
            chunk = _apply_defaults(chunk, mapping.defaults)
            if not header_checked:
                header_checked = True
                known = {f.name for f in fields}
                ignored = [c for c in names if c not in known]
                if ignored:
                    result.warnings.append(f"ignored unknown columns: {', '.join(ignored)}")
                    log.warning("%s: ignored unknown columns: %s", path, ", ".join(ignored))
                present = set(chunk.columns)
                fields = [f for f in fields if f.name in present or not f.header_optional]
            if chunk.empty:
                continue
            result.rows += len(chunk)
            values, errors = validate_chunk(chunk, ctx, fields)
            errors += seen.check(values[spec.key], values["__row__"].to_numpy(), spec.key)
            if spec.derive is not None:
                values = spec.derive(values, ctx)
            if errors:
                result.errors.extend(errors)
                bad_rows = {e.row for e in errors}
                bad_mask = values["__row__"].isin(bad_rows).to_numpy()
                if skip_invalid:
                    rejected_frames.append(chunk[bad_mask])
                values = values[~bad_mask]
            if result.errors and not skip_invalid:
                continue  # keep validating to report every error; nothing will be written
            if constants:  # e.g. the survey campaign the answers were collected for
                values = values.assign(**constants)
            store = _store_columns(spec, values, fields)
            inserted, updated, unchanged = _merge(conn, spec, store, list(store.columns), table_was_empty,
                                                  uow.actor, started, audit_rows, result)
            result.inserted += inserted
            result.updated += updated
            result.unchanged += unchanged
        if not header_checked or result.rows == 0:
            raise ImportFileError(path, ["the file is empty (no header or no data rows)"])
        result.errors.sort()
        result.rejected = len({e.row for e in result.errors})
        if result.errors and not skip_invalid:
            raise ImportValidationError(path, result.errors, result.rows)
        if result.errors:
            result.rejects_file = _write_rejects(path, rejected_frames, result.errors)
        for sql in deferred:  # built once by sorting, not row by row (rolled back with the rest on failure)
            conn.exec_driver_sql(sql)
        insert_rows(conn, AuditEntry.__table__, audit_rows)
        _audit_conflicts(conn, result.conflicts, uow.actor, started)
        # a later import of the same file may say "unchanged" from the fingerprint alone only when this
        # one left the table exactly as the file says (nothing rejected, kept or warned about)
        clean = not (result.errors or result.conflicts or result.warnings)
        _record_run(uow, settings, spec, path, sha, started, result, fingerprint=fingerprint if clean else None)
        uow.commit()
    return result


def _defer_indexes(conn: Connection, table: Table, path: Path) -> list[str]:
    """SQLite, a big file into an empty table: drop the secondary indexes inside the import's transaction
    and return the statements that build them again at its end (random keys such as customer_id make
    row-by-row index maintenance the dearest part of a million-row load). The key stays: duplicates
    are still refused by the database."""
    if conn.dialect.name != "sqlite" or path.stat().st_size < DEFER_INDEXES_BYTES:
        return []
    rows = [(name, sql) for name, sql in conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table.name,)).all() if not sql.upper().startswith("CREATE UNIQUE")]
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _fingerprint(settings: Settings, spec: ImportSpec, ctx: Context, fields: list[FieldSpec], sha: str,
                 constants: dict[str, Any] | None) -> str:
    """What the stored rows of an import depend on: the file's bytes, the mapping, the format (fields,
    questionnaire items), the configuration that validation and derivation read, and the constants."""
    parts = {
        "kind": spec.kind, "sha256": sha, "mapping": ctx.mapping.model_dump(mode="json"),
        "fields": [[f.name, f.kind, f.required, list(f.choices), f.low, f.high, f.integer, f.not_before,
                    f.max_length] for f in fields],
        "departments": sorted(ctx.department_lookup.items()), "tz": str(ctx.tz),
        "complaints": settings.complaints.model_dump(mode="json"), "constants": jsonable(constants or {}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _unchanged_since_last_import(conn: Connection, spec: ImportSpec, sha: str, fingerprint: str,
                                 result: ImportResult) -> bool:
    """Whether the same file was imported cleanly before (same fingerprint) and no row of the table was
    written since: then every row is known to be stored as the file says, without reading a row.

    Every writer of an importable table sets `updated_at` (the importer, the services, the ORM hook in
    sqms.models); rows are never deleted."""
    if "updated_at" not in spec.table.c:
        return False
    runs = ImportRun.__table__
    last = conn.execute(select(runs.c.counts, runs.c.finished_at).where(
        runs.c.kind == spec.kind, runs.c.status == "ok", runs.c.sha256 == sha
    ).order_by(runs.c.id.desc()).limit(1)).first()
    if last is None or last.finished_at is None or (last.counts or {}).get("fingerprint") != fingerprint:
        return False
    written_since = conn.execute(select(func.count()).select_from(spec.table).where(
        spec.table.c.updated_at > last.finished_at)).scalar_one()
    if written_since:
        return False
    result.rows = result.unchanged = int(last.counts.get("rows", 0))
    return result.rows > 0


def _record_run(uow: UnitOfWork, settings: Settings, spec: ImportSpec, path: Path, sha: str, started: datetime,
                result: ImportResult, fingerprint: str | None) -> None:
    """The attempt in `import_runs` and the audit log (the spec's `after_write` runs first)."""
    counts = {k: getattr(result, k) for k in ("rows", "inserted", "updated", "unchanged", "rejected")} | {
        "conflicts": len(result.conflicts)}
    run = ImportRun(
        kind=spec.kind, filename=str(path), sha256=sha, started_at=started, finished_at=None,
        actor=uow.actor, status="partial" if result.errors else "ok",
        counts=counts | ({"fingerprint": fingerprint} if fingerprint else {}),
        rejects_file=result.rejects_file, error_count=len(result.errors),
        errors=[str(e)[:500] for e in result.errors[:MAX_RUN_ERRORS]],
    )
    if spec.after_write is not None:
        spec.after_write(uow.session, settings, run, result)
    run.finished_at = utcnow()
    uow.session.add(run)
    uow.session.flush()
    result.import_run_id = run.id
    uow.session.add(AuditEntry(
        at=utcnow(), actor=uow.actor, action="import", entity=spec.table.name, entity_id=f"import:{run.id}",
        before=None, after={"file": str(path), "sha256": sha, **counts}, comment=result.summary(),
    ))


def _audit_conflicts(conn: Connection, conflicts: list[Conflict], actor: str, now: datetime) -> None:
    """Each conflict once in the audit log: the same file imported again does not repeat it."""
    if not conflicts:
        return
    table = AuditEntry.__table__
    known: set[tuple[str, str, str]] = set()
    ids = sorted({c.key for c in conflicts})
    for start in range(0, len(ids), LOOKUP_BATCH):
        rows = conn.execute(select(table.c.entity, table.c.entity_id, table.c.after).where(
            table.c.action == "import-conflict", table.c.entity_id.in_(ids[start:start + LOOKUP_BATCH])))
        known.update((e, i, json.dumps(a, sort_keys=True, ensure_ascii=False)) for e, i, a in rows)
    entries = []
    for c in conflicts:
        after = jsonable({c.column: c.incoming})
        if (c.entity, c.key, json.dumps(after, sort_keys=True, ensure_ascii=False)) in known:
            continue
        entries.append({"at": now, "actor": actor, "action": "import-conflict", "entity": c.entity,
                        "entity_id": c.key, "before": jsonable({c.column: c.stored}), "after": after,
                        "comment": f"import: kept the stored value ({c.reason})"})
    if entries:
        conn.execute(table.insert(), entries)


def read_validated(settings: Settings, path: str | Path, fields: list[FieldSpec],
                   mapping: Mapping | None = None) -> tuple[pd.DataFrame, list[RowError]]:
    """A small file of events (e.g. return visits) read and validated whole, for a caller that applies
    it row by row: typed values of every row (with `__row__`) and the bad cells, so that the caller
    can add its own row errors and report them all at once. Unusable files raise ImportFileError."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(path, [f"file {path} not found"])
    mapping = mapping or Mapping()
    ctx = Context(settings, mapping, department_lookup(settings), settings.tz)
    mapping = ctx.mapping = _resolve_mapping(mapping, fields, path)
    frames, errors, rows = [], [], 0
    seen_header = False
    with readable(path) as source:
        for chunk in read_chunks(source, mapping, shown_as=path):
            raw_names = [c for c in chunk.columns if c not in (_ROW, _BEYOND)]
            chunk = chunk.set_axis(_check_header(path, raw_names, fields, mapping) + [
                c for c in chunk.columns if c in (_ROW, _BEYOND)], axis=1)
            chunk = _apply_defaults(chunk, mapping.defaults)
            if not seen_header:
                seen_header = True
                present = set(chunk.columns)
                fields = [f for f in fields if f.name in present or not f.header_optional]
            rows += len(chunk)
            values, chunk_errors = validate_chunk(chunk, ctx, fields)
            frames.append(values)
            errors += chunk_errors
    if not seen_header or rows == 0:
        raise ImportFileError(path, ["the file is empty (no header or no data rows)"])
    return pd.concat(frames, ignore_index=True), errors


def _store_columns(spec: ImportSpec, values: pd.DataFrame, fields: list[FieldSpec]) -> pd.DataFrame:
    """The table's columns from validated values (dynamic fields packed into their JSON column)."""
    static = [f.name for f in spec.fields if f.name in values.columns]
    derived = [c for c in values.columns if c in spec.table.c and c not in static]
    frame = values[static + derived]
    if spec.pack_dynamic_into:
        dynamic = [f.name for f in fields if f not in spec.fields and f.name in values.columns]
        packed = [
            {k: (float(v) if not pd.isna(v) else None) for k, v in zip(dynamic, row) if not pd.isna(v)}
            for row in values[dynamic].itertuples(index=False, name=None)
        ] if dynamic else [{} for _ in range(len(values))]
        frame = frame.assign(**{spec.pack_dynamic_into: packed})
    return frame

