"""A real SMTP server for the e-mail tests: aiosmtpd on a free loopback port, in its own thread.

It keeps every message it accepted, parsed, and can be stopped and started again on the same
port (an outage). Recipients at `refuse.invalid` are refused with 550, as a mailbox that does
not exist is; `slow_s` makes each DATA take that long (widens races between two senders).
"""

from __future__ import annotations

import email
import email.policy
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .harness import free_port

REFUSED_DOMAIN = "refuse.invalid"


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address.lower().endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.slow_s:
            import asyncio

            await asyncio.sleep(self.sink.slow_s)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key (openssl, as an operator would)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / "smtp.crt", folder / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class SmtpSink:
    """`tls`: (certificate, key) to offer STARTTLS and require it; `login`: (user, password)
    it then requires (AUTH PLAIN or LOGIN, only over TLS)."""

    def __init__(self, port: int | None = None, slow_s: float = 0.0,
                 tls: tuple[Path, Path] | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.slow_s = slow_s
        self.tls, self.login = tls, login
        self.logins: list[str] = []  # users who authenticated, in order
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def env(self, **more: str) -> dict[str, str]:
        """The server's [email] settings for this sink, fast retries for tests."""
        return {"CHATSERVER_EMAIL_ENABLED": "true", "CHATSERVER_EMAIL_HOST": "127.0.0.1",
                "CHATSERVER_EMAIL_PORT": str(self.port), "CHATSERVER_EMAIL_SECURITY": "none",
                "CHATSERVER_EMAIL_FROM_ADDRESS": "Support <support@shop.example>",
                "CHATSERVER_EMAIL_TEAM_ADDRESS": "team@shop.example",
                "CHATSERVER_EMAIL_TIMEOUT_SECONDS": "5", "CHATSERVER_EMAIL_POLL_SECONDS": "0.3",
                "CHATSERVER_EMAIL_RETRY_BASE_SECONDS": "0.2",
                "CHATSERVER_EMAIL_RETRY_MAX_SECONDS": "1", **more}

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> AuthResult:
        ok = (isinstance(data, LoginPassword) and self.login is not None
              and (data.login.decode(), data.password.decode()) == self.login)
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpSink:
        options: dict[str, Any] = {}
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self.tls))
            options.update(tls_context=context, require_starttls=True)
        if self.login is not None:
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count: int, timeout: float = 30.0,
                 where: Callable[[EmailMessage], bool] = lambda m: True) -> list[EmailMessage]:
        """The first `count` accepted messages matching `where`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [m for _, m in self.messages if where(m)]
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, f"{len(found)} of {count} mails within {timeout}s"
                return found
            time.sleep(0.05)

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for _, m in self.messages]
