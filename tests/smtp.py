"""A real SMTP server for tests (aiosmtpd on loopback) that can be taken down and brought back."""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.server.receiving.set()
        if not self.server.release.is_set():  # held mid-DATA by the test, without blocking the loop
            await asyncio.get_running_loop().run_in_executor(None, self.server.release.wait)
        with self.server.lock:
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


class SmtpServer:
    """`messages` are parsed EmailMessages; `stop()` simulates an outage, `start()` ends it.

    `release.clear()` holds every message in the middle of its DATA (the client waits for the
    server's answer) until `release.set()`; `receiving` is set once a message is being received."""

    def __init__(self, port: int | None = None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self._controller: Controller | None = None
        self.receiving = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def start(self) -> "SmtpServer":
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.envelopes]

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for _, rcpts, _ in self.envelopes for r in rcpts]

    def clear(self) -> None:
        with self.lock:
            self.envelopes.clear()

    def env(self) -> dict[str, str]:
        """SQMS_* variables that point SQMS at this server."""
        return {"SQMS_SMTP__HOST": self.host, "SQMS_SMTP__PORT": str(self.port), "SQMS_SMTP__SSL": "false",
                "SQMS_SMTP__STARTTLS": "false"}
