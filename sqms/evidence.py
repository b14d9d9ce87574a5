"""Evidence files (a corrective action's, an inspection item's): what may be kept and how.

One mechanism for every process: a type allow-list by extension, checked against how each kind of file
begins; a size limit (`web.evidence_max_bytes`); the file kept under `web.evidence_dir` (outside any web
root) named by its SHA-256 — never by the uploaded name — and checked against it when read back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqms.config import Settings
from sqms.rule_errors import RuleError

# what may be uploaded, and how each kind of file begins
EVIDENCE_TYPES: dict[str, tuple[str, bytes]] = {
    ".pdf": ("application/pdf", b"%PDF-"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ".txt": ("text/plain", b""),
    ".csv": ("text/csv", b""),
}
ACCEPT = ",".join(EVIDENCE_TYPES)  # for a form's file input


class EvidenceError(RuleError):
    """A file that is not kept: its code and parameters (`evidence.*`) let a form say why in its own
    language through the one catalogue of refusals; its text is the CLI's English."""


@dataclass(frozen=True)
class StoredFile:
    filename: str  # as uploaded, without any folder (shown, and offered on download)
    sha256: str
    size: int
    content_type: str


def checked(settings: Settings, filename: str, data: bytes) -> StoredFile:
    """The file's description if it may be kept (type, size, content), else EvidenceError."""
    name = PurePath((filename or "").replace("\\", "/")).name.strip()[:200]
    suffix = PurePath(name).suffix.lower()
    kinds, limit = ", ".join(EVIDENCE_TYPES), settings.web.evidence_max_bytes // 1024 // 1024
    if not name or suffix not in EVIDENCE_TYPES:
        raise EvidenceError(f"evidence: {name or 'the file'} is not one of {kinds}", code="evidence.type",
                            name=name, options=tuple(EVIDENCE_TYPES))
    if len(data) > settings.web.evidence_max_bytes:
        raise EvidenceError(f"evidence: {name} is larger than {limit} MB", code="evidence.size", name=name, mb=limit)
    if not data:
        raise EvidenceError(f"evidence: {name} is empty", code="evidence.empty", name=name)
    content_type, magic = EVIDENCE_TYPES[suffix]
    if not data.startswith(magic) or (not magic and b"\x00" in data[:4096]):
        raise EvidenceError(f"evidence: {name} is not a {suffix} file", code="evidence.content", name=name,
                            suffix=suffix)
    return StoredFile(name, hashlib.sha256(data).hexdigest(), len(data), content_type)


def store(settings: Settings, filename: str, data: bytes) -> StoredFile:
    """Check and keep the file (once per content); its description."""
    stored = checked(settings, filename, data)
    path = evidence_path(settings, stored.sha256)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return stored


def evidence_path(settings: Settings, digest: str) -> Path:
    return settings.web.evidence_dir / digest[:2] / digest


def read(settings: Settings, digest: str, filename: str) -> bytes:
    """The stored file, checked against its SHA-256 (EvidenceError when it changed on disk)."""
    data = evidence_path(settings, digest).read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise EvidenceError(f"evidence {filename}: the stored file does not match its checksum",
                            code="evidence.checksum", name=filename)
    return data
