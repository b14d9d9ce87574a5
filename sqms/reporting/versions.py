"""The version in a report's file names: `monthly-report-2026-10-v2.html` / `.xlsx` / `.pdf`.

Every report shows its version on the page (the layout's header) and in the file name, so that a
file saved from a mail or downloaded from the workspace still says which version it is. Producers
write their files under plain names (`<stem>.<ext>`); `save_report` stamps the version into each name
when it records the version (one place for every report, present and future).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_SUFFIX = re.compile(r"-v(\d+)$")


def versioned_name(name: str, version: int) -> str:
    """`monthly-report-2026-10.html` → `monthly-report-2026-10-v2.html` (unchanged if it already says v2)."""
    if version < 1:
        raise ValueError("version must be 1 or more")
    path = Path(name)
    stem = _SUFFIX.sub("", path.stem) if _version_of(path.stem) == version else path.stem
    return f"{stem}-v{version}{path.suffix}"


def _version_of(stem: str) -> int | None:
    match = _SUFFIX.search(stem)
    return int(match.group(1)) if match else None


def stamp_files(files: Mapping[str, str | Path], version: int) -> dict[str, Path]:
    """Rename each file to its versioned name (in its own folder) and return the new paths; a file
    already named for this version stays as it is."""
    out: dict[str, Path] = {}
    for fmt, path in files.items():
        path = Path(path)
        target = path.with_name(versioned_name(path.name, version))
        if target != path:
            path.replace(target)
        out[fmt] = target
    return out
