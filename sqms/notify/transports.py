"""Ways out: SMTP through yagmail, or .eml files in a folder when no SMTP host is configured."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from sqms.config import Settings, SmtpSettings


class Transport(Protocol):
    name: str

    def send(self, mime: EmailMessage) -> None: ...

    def close(self) -> None: ...


class SmtpConfigError(ConnectionError):
    """SMTP cannot be used as configured (e.g. a user without password): like a server that is down,
    every mail stays pending, with this message, until the configuration is fixed."""


class SmtpTransport:
    """One SMTP connection for a batch; yagmail handles TLS, login (or none) and OAuth2."""

    name = "smtp"

    def __init__(self, smtp: SmtpSettings):
        self.smtp = smtp
        self._client = None

    def _connect(self):
        import yagmail

        problem = self.smtp.login_problem()
        if problem:
            # yagmail would look for the password in a keyring (NameError when none is installed)
            raise SmtpConfigError(problem)

        password = self.smtp.password.get_secret_value() if self.smtp.password else None
        client = yagmail.SMTP(
            user=self.smtp.user or self.smtp.sender,
            password=password,
            host=self.smtp.host,
            port=self.smtp.port,
            smtp_ssl=self.smtp.ssl,
            smtp_starttls=self.smtp.starttls,
            smtp_skip_login=not self.smtp.user,  # DESIGN §2: an SMTP without a user skips login
            soft_email_validation=False,
            timeout=self.smtp.timeout_seconds,
        )
        client.login()
        return client

    def send(self, mime: EmailMessage) -> None:
        if self._client is None:
            self._client = self._connect()
        # yagmail's own send() would rebuild the message and swallow disconnects; we send
        # our prepared MIME on its connection so that any failure raises and the row stays pending.
        self._client.smtp.send_message(mime)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class EmlTransport:
    """Writes each message as `<outbox id>-<recipient>.eml`; the file name makes reruns overwrite, not add."""

    name = "eml"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def send(self, mime: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = re.sub(r"[^A-Za-z0-9._@-]+", "_", str(mime["X-SQMS-Key"]))[:150]
        path = self.folder / f"{key}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(mime))
        tmp.replace(path)

    def close(self) -> None:
        pass


def transport_for(settings: Settings) -> Transport:
    if settings.smtp.host:
        return SmtpTransport(settings.smtp)
    return EmlTransport(settings.outbox_dir)
