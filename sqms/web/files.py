"""Files in and out of the workspace: an upload read within the size limit, a stored file sent back
as a download (never rendered in our origin)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.responses import Response

from sqms.web.security import SECURITY_HEADERS


def is_upload(value: Any) -> bool:
    """A file part of a multipart form with a file chosen (browsers send an empty part otherwise)."""
    return hasattr(value, "read") and bool(getattr(value, "filename", ""))


async def read_upload(upload: Any, limit: int) -> bytes:
    """The upload's bytes, never more than one byte over `limit` in memory (so the limit check sees it)."""
    return await upload.read(limit + 1)


def attachment(data: bytes, filename: str, content_type: str) -> Response:
    """A download: Content-Disposition attachment with the file's own name, no type sniffing."""
    return Response(data, media_type=content_type, headers={
        **SECURITY_HEADERS, "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        "X-Content-Type-Options": "nosniff"})
