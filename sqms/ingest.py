"""CSV/XLSX import (DESIGN.md §3): mapping, whole-file validation, per-row errors, idempotency.

The file is read in chunks and validated with vectorised pandas operations; valid
rows are merged into the table inside one transaction as they come (new rows by
batched Core inserts or COPY, changed rows updated and audited, identical rows left
alone). If any row is invalid and `skip_invalid` is off, the transaction is rolled
back at the end, after every error of the file has been collected: nothing is written.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import JSON, Boolean, Connection, Integer, Table, func, select, update

from sqms.audit_trail import AuditEntry, ImportRun, jsonable
from sqms.calendar import UTC, utcnow
from sqms.config import Settings
from sqms.db import SQLITE_DATETIME_FORMAT, UnitOfWork

log = logging.getLogger(__name__)

CHUNK_ROWS = 100_000
LOOKUP_BATCH = 500
MAX_TEXT = 10_000
_ID_PATTERN = r"^[^\s<>\"'&\x00-\x1f]{1,64}$"
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
    not_answered: list[str] = Field(default_factory=list, description="codes that mean no answer, e.g. 0")
    scale: dict[str, ScaleConversion] = Field(default_factory=dict, description="column or 'items' -> conversion")
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
        return data


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

    def all_fields(self, ctx: Context) -> list[FieldSpec]:
        return self.fields + (self.dynamic_fields(ctx) if self.dynamic_fields else [])


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

    def summary(self) -> str:
        text = (
            f"{self.kind}: {self.rows} rows read, {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.rejected} rejected"
        )
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
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        raise ImportFileError(path, ["the file looks like UTF-16; save it as UTF-8 (CSV UTF-8) or GBK"])
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


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, newline="") as fh:
        sample = fh.read(65536)
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0] + "\n", delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _xlsx_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(path: Path, sheet: str | None) -> Iterator[pd.DataFrame]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportFileError(path, [f"cannot read the workbook: {exc}"]) from None
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            yield pd.DataFrame()
            return
        names = [_xlsx_cell(h) for h in header]
        batch: list[list[str]] = []
        for values in rows:
            cells = [_xlsx_cell(v) for v in values[: len(names)]]
            cells += [""] * (len(names) - len(cells))
            batch.append(cells)
            if len(batch) >= CHUNK_ROWS:
                yield pd.DataFrame(batch, columns=names, dtype=object)
                batch = []
        yield pd.DataFrame(batch, columns=names, dtype=object)
    finally:
        wb.close()


def _read_csv(path: Path, encoding: str) -> Iterator[pd.DataFrame]:
    delimiter = _sniff_delimiter(path, encoding)
    try:
        reader = pd.read_csv(
            path, encoding=encoding, sep=delimiter, dtype=str, keep_default_na=False, na_filter=False,
            chunksize=CHUNK_ROWS, skip_blank_lines=True,
        )
        yield from reader
    except pd.errors.EmptyDataError:
        yield pd.DataFrame()
    except pd.errors.ParserError as exc:
        message = str(exc)
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
        if match:
            expected, line, saw = match.groups()
            raise ImportFileError(
                path, [f"row {line}: expected {expected} fields, found {saw} (a delimiter or quote is off)"]
            ) from None
        raise ImportFileError(path, [f"cannot parse the CSV: {message}"]) from None


def read_chunks(path: Path, mapping: Mapping) -> Iterator[pd.DataFrame]:
    """Chunks of text cells with a `__row__` column numbering rows as a spreadsheet does."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        chunks = _read_xlsx(path, mapping.sheet)
    else:
        chunks = _read_csv(path, _detect_encoding(path, mapping.encoding))
    next_row = 2
    for chunk in chunks:
        chunk = chunk.copy()
        chunk.columns = [str(c).strip().lstrip("\ufeff") for c in chunk.columns]
        chunk["__row__"] = np.arange(next_row, next_row + len(chunk))
        next_row += len(chunk)
        yield chunk


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
            raw = raw.map(lambda v: mapped.get(v, v)).astype(str)
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
        return raw.where(~empty & ~bad, None)

    def _text(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        too_long = raw.str.len() > spec.max_length
        self.fail(too_long, spec.name, f"longer than {spec.max_length} characters")
        cleaned = raw.str.replace(_CONTROL, "", regex=True)
        return cleaned.where(~empty & ~too_long, None)

    def _email(self, spec: FieldSpec, raw: pd.Series, empty: pd.Series) -> pd.Series:
        lowered = raw.str.lower()
        bad = ~empty & ~lowered.str.match(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
        self.fail(bad, spec.name, lambda v: f"{_show(v)} is not an email address", raw)
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
        not_answered = raw.isin(self.ctx.mapping.not_answered) if self.ctx.mapping.not_answered else False
        empty = empty | not_answered
        values = pd.to_numeric(raw.where(~empty, None), errors="coerce")
        bad = ~empty & values.isna()
        self.fail(bad, spec.name, lambda v: f"{_show(v)} is not a number", raw)
        scale = self.ctx.mapping.scale.get(spec.name) or (
            self.ctx.mapping.scale.get(spec.scale_group) if spec.scale_group else None)
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


def _show(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _pad_slash_date(match: re.Match) -> str:
    y, m, d = match.groups()
    return f"{y}-{int(m):02d}-{int(d):02d}"


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
        local = pd.to_datetime(text, format=fmt, errors="coerce")
        aware_mask = pd.Series(False, index=text.index)
    else:
        if text.str.contains("/", regex=False).any():
            text = text.str.replace(r"^(\d{4})/(\d{1,2})/(\d{1,2})", _pad_slash_date, regex=True)
        aware_mask = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
        local = pd.to_datetime(text.where(~aware_mask), format="ISO8601", errors="coerce")
    if getattr(local.dt, "tz", None) is not None:  # a custom format with %z
        utc_local = local.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        utc_local = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC").dt.tz_localize(None)
    result = utc_local
    if aware_mask.any():
        aware = pd.to_datetime(text.where(aware_mask), format="ISO8601", errors="coerce", utc=True)
        result = utc_local.where(~aware_mask, aware.dt.tz_localize(None))
    result = result.astype("datetime64[us]")
    sane = (result >= pd.Timestamp("1990-01-01")) & (result < pd.Timestamp("2200-01-01"))
    out[present] = result.where(sane)
    return out


def validate_chunk(df: pd.DataFrame, ctx: Context, fields: list[FieldSpec]) -> tuple[pd.DataFrame, list[RowError]]:
    """Typed values (one column per field, plus __row__) and the errors of this chunk."""
    checker = _Checker(df, ctx)
    out = pd.DataFrame({"__row__": df["__row__"].to_numpy()}, index=df.index)
    for f in fields:
        out[f.name] = checker.check(f)
    for f in fields:
        if f.not_before:
            earlier = out[f.not_before]
            bad = out[f.name].notna() & earlier.notna() & (out[f.name] < earlier)
            checker.fail(bad, f.name, f"is before {f.not_before}")
    return out, checker.errors


def _duplicates(out: pd.DataFrame, key: str, seen: dict[str, int]) -> list[RowError]:
    """Ids repeated in the file (within this chunk or seen in an earlier one)."""
    errors = []
    keys = out[key]
    present = keys.notna()
    dup_in_chunk = keys.duplicated(keep="first") & present
    for k, row, dup in zip(keys.to_numpy(), out["__row__"].to_numpy(), dup_in_chunk.to_numpy()):
        if k is None or (isinstance(k, float) and np.isnan(k)):
            continue
        first = seen.get(k)
        if first is not None and (dup or first != row):
            errors.append(RowError(int(row), key, f"duplicate {key} {_show(k)} (first in row {first})"))
        else:
            seen[k] = int(row)
    return errors


# -- writing ----------------------------------------------------------------------


def _python_values(series: pd.Series) -> list[Any]:
    """Plain Python values (None for missing); datetimes become aware UTC."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(v) else v.to_pydatetime().replace(tzinfo=UTC) for v in series]
    return series.astype(object).where(series.notna(), None).tolist()


def _db_column_values(series: pd.Series, column: Any) -> list[Any]:
    """Values in the form the DB-API driver takes for a raw executemany or COPY."""
    if pd.api.types.is_datetime64_any_dtype(series):
        text = series.dt.strftime(SQLITE_DATETIME_FORMAT)
        return text.astype(object).where(series.notna(), None).tolist()
    if isinstance(column.type, JSON):
        return [None if v is None else json.dumps(v, ensure_ascii=False) for v in series.tolist()]
    if isinstance(column.type, Integer) and not isinstance(column.type, Boolean):
        return series.astype("Int64").astype(object).where(series.notna(), None).tolist()
    return _python_values(series)


def _insert_rows(conn: Connection, table: Table, frame: pd.DataFrame, columns: list[str]) -> None:
    if frame.empty:
        return
    sqlite = conn.dialect.name == "sqlite"
    cols = [_db_column_values(frame[c], table.c[c]) for c in columns]
    if sqlite:
        placeholders = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO {table.name} ({", ".join(columns)}) VALUES ({placeholders})'
        conn.exec_driver_sql(sql, list(zip(*cols)))
        return
    # PostgreSQL: COPY is several times faster than INSERT for bulk loads.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in zip(*cols):
        writer.writerow(["\\N" if v is None else ("t" if v is True else "f" if v is False else v) for v in row])
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
            copy.write(buffer.getvalue())


def _normalise_for_compare(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=value.microsecond)
    if isinstance(value, dict):
        return {k: _normalise_for_compare(v) for k, v in value.items()}
    return value


def _merge(conn: Connection, spec: ImportSpec, frame: pd.DataFrame, columns: list[str], table_was_empty: bool,
           actor: str, now: datetime, audit_rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Insert new rows, update changed ones (audited), skip identical ones."""
    table, key = spec.table, spec.key
    if frame.empty:
        return 0, 0, 0
    existing: dict[str, dict[str, Any]] = {}
    if not table_was_empty:
        keys = frame[key].tolist()
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[start:start + LOOKUP_BATCH]
            rows = conn.execute(select(*[table.c[c] for c in columns]).where(table.c[key].in_(batch)))
            for row in rows.mappings():
                existing[row[key]] = dict(row)
    is_new = ~frame[key].isin(existing.keys()) if existing else pd.Series(True, index=frame.index)
    insert_cols = columns + (["updated_at"] if "updated_at" in table.c else [])
    new_frame = frame[is_new.to_numpy()]
    if "updated_at" in table.c:
        new_frame = new_frame.assign(updated_at=pd.Timestamp(now.replace(tzinfo=None)))
    _insert_rows(conn, table, new_frame, insert_cols)
    updated = unchanged = 0
    old_frame = frame[~is_new.to_numpy()]
    if not old_frame.empty:
        incoming = {c: _python_values(old_frame[c]) for c in columns}
        for i in range(len(old_frame)):
            new_values = {c: incoming[c][i] for c in columns}
            old_values = existing[new_values[key]]
            changed = [c for c in columns if _normalise_for_compare(old_values.get(c))
                       != _normalise_for_compare(new_values[c])]
            if not changed:
                unchanged += 1
                continue
            values = {c: new_values[c] for c in changed}
            if "updated_at" in table.c:
                values["updated_at"] = now
            conn.execute(update(table).where(table.c[key] == new_values[key]).values(**values))
            audit_rows.append({
                "at": now, "actor": actor, "action": "update", "entity": spec.table.name,
                "entity_id": str(new_values[key]),
                "before": jsonable({c: old_values.get(c) for c in changed}),
                "after": jsonable({c: new_values[c] for c in changed}), "comment": "import",
            })
            updated += 1
    return int(is_new.sum()), updated, unchanged


def _write_rejects(path: Path, rejected: list[pd.DataFrame], errors: list[RowError]) -> str:
    target = path.with_name(path.name + ".rejects.csv")
    reasons: dict[int, list[str]] = {}
    for e in errors:
        reasons.setdefault(e.row, []).append(f"{e.column}: {e.reason}")
    frame = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=["__row__"])
    frame = frame.rename(columns={"__row__": "row"})
    frame.insert(1, "errors", frame["row"].map(lambda r: "; ".join(reasons.get(int(r), []))))
    frame.to_csv(target, index=False, encoding="utf-8-sig")
    return str(target)


# -- entry point ------------------------------------------------------------------


def department_lookup(settings: Settings) -> dict[str, str]:
    """Code, name or English name (codes and English names in any case) -> code."""
    lookup: dict[str, str] = {}
    for d in settings.departments:
        for alias in (d.code, d.code.lower(), d.name, d.name_en, d.name_en.lower(), d.name_en.upper()):
            if alias:
                lookup[alias] = d.code
    return lookup


def import_file(settings: Settings, spec: ImportSpec, path: str | Path, *, mapping: Mapping | None = None,
                skip_invalid: bool = False, actor: str | None = None) -> ImportResult:
    """Validate and import one file; see the module docstring for the guarantees."""
    from sqms.org.service import sync_organisation

    path = Path(path)
    if not path.exists():
        raise ImportFileError(path, [f"file {path} not found"])
    mapping = mapping or Mapping()
    ctx = Context(settings, mapping, department_lookup(settings), settings.tz)
    fields = spec.all_fields(ctx)
    result = ImportResult(kind=spec.kind, path=str(path))
    started = utcnow()
    sha = file_sha256(path)
    rename = dict(mapping.columns)
    canonical = {f.name.lower(): f.name for f in fields}  # headers match in any case

    with UnitOfWork(settings.database_url, actor) as uow:
        sync_organisation(uow.session, settings)
        uow.session.flush()
        conn = uow.session.connection()
        table_was_empty = conn.execute(select(func.count()).select_from(spec.table)).scalar_one() == 0
        seen: dict[str, int] = {}
        rejected_frames: list[pd.DataFrame] = []
        audit_rows: list[dict[str, Any]] = []
        header_checked = False
        columns: list[str] = []
        for chunk in read_chunks(path, mapping):
            chunk = chunk.rename(columns=lambda c: canonical.get(rename.get(c, c).lower(), rename.get(c, c)))
            if not header_checked:
                header_checked = True
                known = {f.name for f in fields}
                present = [c for c in chunk.columns if c != "__row__"]
                missing = [f.name for f in fields if not f.header_optional and f.name not in present]
                if missing:
                    raise ImportFileError(path, [
                        RowError(1, name, f"required column is missing (the file has: {', '.join(present) or 'none'})")
                        for name in missing])
                ignored = [c for c in present if c not in known]
                if ignored:
                    result.warnings.append(f"ignored unknown columns: {', '.join(ignored)}")
                    log.warning("%s: ignored unknown columns: %s", path, ", ".join(ignored))
                dup_headers = {c for c in present if present.count(c) > 1}
                if dup_headers:
                    raise ImportFileError(path, [RowError(1, c, "the column appears twice") for c in sorted(dup_headers)])
                fields = [f for f in fields if f.name in present or not f.header_optional]
                columns = [f.name for f in fields]
            if chunk.empty:
                continue
            result.rows += len(chunk)
            values, errors = validate_chunk(chunk, ctx, fields)
            errors += _duplicates(values, spec.key, seen)
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
            store = _store_columns(spec, values, fields)
            inserted, updated, unchanged = _merge(conn, spec, store, list(store.columns), table_was_empty,
                                                  uow.actor, started, audit_rows)
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
        if audit_rows:
            conn.execute(AuditEntry.__table__.insert(), audit_rows)
        run = ImportRun(
            kind=spec.kind, filename=str(path), sha256=sha, started_at=started, finished_at=utcnow(),
            actor=uow.actor, status="partial" if result.errors else "ok",
            counts={k: getattr(result, k) for k in ("rows", "inserted", "updated", "unchanged", "rejected")},
            rejects_file=result.rejects_file,
        )
        uow.session.add(run)
        uow.session.flush()
        result.import_run_id = run.id
        uow.session.add(AuditEntry(
            at=utcnow(), actor=uow.actor, action="import", entity=spec.table.name, entity_id=f"import:{run.id}",
            before=None, after={"file": str(path), "sha256": sha, **run.counts}, comment=result.summary(),
        ))
        uow.commit()
    return result


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

