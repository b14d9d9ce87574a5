"""How a kind of report is rendered, declared once per kind, and the one pipeline every report goes through.

A domain builds its report's data in `sqms/<domain>/report.py` (no rendering) and declares in
`sqms/<domain>/rendering.py` how that data becomes files:

    SPEC = ReportSpec(kind="complaint-report", template="reports/complaint_report.html.j2",
                      stem=file_stem, context=html_context, tables=excel_tables, print_info=print_info)

`render_report` writes `<stem>.html` (the template with `context`, self-contained) and `<stem>.xlsx` (the
`tables`, print-ready); `produce_report` puts them in the next version's folder and records the version
(`save_report` adds the PDF). Nothing here knows a process: the kinds live with their domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.reporting.excel import PrintInfo, Table, write_xlsx
from sqms.reporting.models import GeneratedReport
from sqms.reporting.render import render_template
from sqms.reporting.service import next_version, report_dir, save_report


@dataclass(frozen=True)
class ReportSpec:
    """One kind of report: its name (the folder and the `GeneratedReport.kind`), its template, and the
    functions that turn its data into the file name, the template's variables and the workbook."""

    kind: str
    template: str
    stem: Callable[[Any], str]                             # data → file name without suffix
    context: Callable[[Any, Settings], dict[str, Any]]     # data → the template's variables
    tables: Callable[[Any], list[Table]]                   # data → the workbook's sheets
    print_info: Callable[[Any, int | None], PrintInfo]     # data, version → the printed header


def render_report(spec: ReportSpec, data: Any, settings: Settings, out_dir: str | Path,
                  version: int | None = None) -> dict[str, Path]:
    """Write `<stem>.html` and `<stem>.xlsx` into `out_dir`; the version, when given, is printed on both."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = spec.stem(data)
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(render_template(settings, spec.template, **spec.context(data, settings), version=version),
                         encoding="utf-8")
    xlsx_path = write_xlsx(out_dir / f"{stem}.xlsx", spec.tables(data), spec.print_info(data, version))
    return {"html": html_path, "xlsx": xlsx_path}


def produce_report(session: Session, settings: Settings, spec: ReportSpec, data: Any, *, period: str, locale: str,
                   summary: dict[str, Any] | None = None, kpi_computation_id: int | None = None,
                   extra_files: Callable[[Path, int], dict[str, Path]] | None = None) -> GeneratedReport:
    """The files of `data` in the next version's folder of (kind, period), recorded (flushed, not committed).
    `extra_files(out_dir, version)` writes more files beside them (a calendar invitation, ...)."""
    version = next_version(session, spec.kind, period)
    out_dir = report_dir(settings, spec.kind, period, version)
    files = render_report(spec, data, settings, out_dir, version)
    if extra_files is not None:
        files |= extra_files(out_dir, version)
    return save_report(session, kind=spec.kind, period=period, version=version, files=files, locale=locale,
                       kpi_computation_id=kpi_computation_id, summary=summary)
