"""Text the database keeps but must not be able to reveal: the body of a mail carrying a single-use link.

A sealed value is stored as `sealed:v1:<Fernet token>` (AES-128-CBC + HMAC-SHA256), encrypted with
the installation's secret key, which never enters the database: `SQMS_SECRET_KEY` (any long random
string; set it on every machine in production), else the key file `SQMS_SECRET_KEY_FILE`
(default `var/secret.key`, created with mode 600 on first use — fine for a one-machine demo).
A copy or backup of the database alone therefore opens no form.

`SealedText` is the column type: a `Sealed` string is encrypted on the way in, and comes back as a
`Sealed` string in clear on the way out; plain strings pass through unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

PREFIX = "sealed:v1:"
DEFAULT_KEY_FILE = Path("var/secret.key")


class Sealed(str):
    """Text to be stored encrypted (or read back from its encrypted form)."""


class Unreadable(Sealed):
    """A sealed value this installation's key cannot open (the key changed or differs on this machine)."""


class SealError(RuntimeError):
    pass


def _key_material() -> bytes:
    secret = os.environ.get("SQMS_SECRET_KEY", "").strip()
    if secret:
        return secret.encode()
    path = Path(os.environ.get("SQMS_SECRET_KEY_FILE") or DEFAULT_KEY_FILE)
    if not path.exists():
        _create_key_file(path)
    return path.read_bytes().strip()


def _create_key_file(path: Path) -> None:
    """Write a new random key; of two processes creating it at once, the first one's key wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(os.urandom(32)) + b"\n")
    try:
        os.link(tmp, path)  # atomic, and fails when another process was first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


@lru_cache(maxsize=4)
def _fernet(material: bytes) -> Any:
    from cryptography.fernet import Fernet

    # any secret string becomes a Fernet key: 32 bytes of its SHA-256, base64
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material).digest()))


def fernet() -> Any:
    return _fernet(_key_material())


def seal(text: str) -> str:
    return PREFIX + fernet().encrypt(text.encode("utf-8")).decode("ascii")


def unseal(value: str) -> Sealed:
    from cryptography.fernet import InvalidToken

    try:
        return Sealed(fernet().decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8"))
    except InvalidToken:
        return Unreadable("")


def readable(value: str) -> str:
    """`value`, or SealError when it is sealed with a key this installation does not have."""
    if isinstance(value, Unreadable):
        raise SealError("sealed with another secret key: set the same SQMS_SECRET_KEY on every machine")
    return value


class SealedText(TypeDecorator):
    """Text; a `Sealed` value is stored encrypted."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if isinstance(value, Sealed) and not isinstance(value, Unreadable):
            return seal(str(value))
        return value

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is not None and value.startswith(PREFIX):
            return unseal(value)
        return value
