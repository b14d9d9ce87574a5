"""Every generated report is kept: a new version per (kind, period), its files and their checksum.

Files live under `<reports_dir>/<kind>/<period>/v<version>/`, each named with its version
(`<stem>-v<version>.<ext>`, stamped by `save_report`: `sqms.reporting.versions`); a version is never
overwritten once recorded. Call order for one report:

    version = next_version(session, kind, period)
    out_dir = report_dir(settings, kind, period, version)
    files = <render into out_dir>                       # {"html": Path, "xlsx": Path} (+ "pdf", made here)
    report = save_report(session, kind=kind, period=period, version=version, files=files, ...)

Two concurrent runs that pick the same version collide on the unique constraint
(kind, period, version) when the second one flushes; a retry takes the next version.
When the unit of work that recorded a version ends without committing it (the database
failed mid-run), that version's folder is removed: no orphan files.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.db import on_abort
from sqms.reporting.models import GeneratedReport
from sqms.reporting.pdf import with_pdf
from sqms.reporting.versions import stamp_files

_CHUNK = 1 << 20


def report_dir(settings: Settings, kind: str, period: str, version: int) -> Path:
    """`<reports_dir>/<kind>/<period>/v<version>/` (not created)."""
    for part in (kind, period):
        if not part or "/" in part or "\\" in part or part in (".", ".."):
            raise ValueError(f"not a valid path component: {part!r}")
    if version < 1:
        raise ValueError("version must be 1 or more")
    return Path(settings.reports_dir) / kind / period / f"v{version}"


def next_version(session: Session, kind: str, period: str) -> int:
    """1 for the first report of (kind, period), then 2, 3, ..."""
    current = session.scalar(
        select(func.max(GeneratedReport.version)).where(GeneratedReport.kind == kind,
                                                        GeneratedReport.period == period))
    return (current or 0) + 1


def files_checksum(files: Mapping[str, str | Path]) -> str:
    """sha256 over the bytes of the files, concatenated in sorted order of their format."""
    digest = hashlib.sha256()
    for fmt in sorted(files):
        with open(files[fmt], "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


def save_report(
    session: Session,
    *,
    kind: str,
    period: str,
    files: Mapping[str, str | Path],
    locale: str,
    kpi_computation_id: int | None = None,
    summary: dict[str, Any] | None = None,
    version: int | None = None,
) -> GeneratedReport:
    """Record a generated report: the next version of (kind, period) unless `version` is given
    (the one its files were written for), the files by format and their checksum. Each file gets the
    version in its name (`<stem>-v<version>.<ext>`) before the PDF is made from the HTML."""
    missing = [str(p) for p in files.values() if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"report files not found: {', '.join(missing)}")
    version = version or next_version(session, kind, period)
    files = with_pdf(stamp_files(files, version))  # every report also as PDF, its name versioned too
    report = GeneratedReport(
        kind=kind,
        period=period,
        version=version,
        created_at=utcnow(),
        actor=session.info.get("actor", "unknown"),
        locale=locale,
        files={fmt: str(path) for fmt, path in sorted(files.items())},
        checksum=files_checksum(files),
        kpi_computation_id=kpi_computation_id,
        summary=summary or {},
    )
    on_abort(session, lambda exc: _remove_unrecorded(files, report.version, exc))
    session.add(report)
    session.flush()
    return report


def _remove_unrecorded(files: Mapping[str, str | Path], version: int, exc: BaseException | None) -> None:
    """The files of a version whose record was never committed (the database failed, the run
    stopped): removed with their folder, so no report lies on disk that SQMS does not know."""
    if isinstance(exc, IntegrityError):
        return  # another run recorded this version meanwhile: the files are its own
    folders = {Path(p).parent for p in files.values()}
    for folder in folders:
        if folder.name == f"v{version}" and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def latest_report(session: Session, kind: str, period: str) -> GeneratedReport | None:
    """The highest version of (kind, period), or None."""
    return session.scalars(
        select(GeneratedReport).where(GeneratedReport.kind == kind, GeneratedReport.period == period)
        .order_by(GeneratedReport.version.desc()).limit(1)
    ).first()


def verify_report(report: GeneratedReport) -> bool:
    """Whether the files on disk are still the ones recorded."""
    try:
        return files_checksum(report.files) == report.checksum
    except OSError:
        return False


def mail_report(session: Session, settings: Settings, reports: Sequence[GeneratedReport], *,
                recipients: Sequence[str], template: str, process: str, obj: str, period: str,
                **context: Any) -> int:
    """Queue one mail per recipient (selectors: addresses or `role:<role>`) with the reports' HTML,
    XLSX and PDF attached; `context` goes to the template, with `files` (the attachments' names). Keyed by
    (process, obj, period, recipient): a new version refreshes a pending mail and never re-sends a sent
    one. Returns how many rows were new or refreshed."""
    from sqms.notify.compose import compose
    from sqms.notify.service import enqueue

    attachments = [r.files[fmt] for r in reports for fmt in ("html", "xlsx", "pdf") if fmt in r.files]
    files = [Path(a).name for a in attachments]
    changed = 0
    for recipient in settings.resolve_recipients(list(recipients)):
        email = compose(settings, template, recipient, files=files, **context)
        email.attachments = attachments
        _, was_changed = enqueue(session, process=process, obj=obj, period=period, email=email,
                                 sender_domain=settings.smtp.sender.partition("@")[2])
        changed += int(was_changed)
    return changed
