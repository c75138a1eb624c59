"""Handing mails to the SMTP server: the standard library's smtplib, run in a worker thread.

smtplib rather than aiosmtplib: no new dependency for the server, and mail is rare next to chat
(a few per hour), sent one connection at a time by one task per process, so a thread blocked
for a send's few hundred milliseconds costs nothing the event loop would notice; the timeout
bounds every connect and command.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from chatserver.config import EmailConfig


@dataclass(frozen=True)
class Outcome:
    """What became of one mail: sent, or an error and whether trying again could help."""

    sent: bool
    error: str = ""
    permanent: bool = False


class Unreachable(Exception):
    """No session with the SMTP server (down, refused, TLS or login failed): retry all."""


class SessionLost(Exception):
    """The session broke mid-mail (disconnected, timed out): this mail and the rest wait."""


def open_session(config: EmailConfig) -> smtplib.SMTP:
    """Connect, say EHLO, STARTTLS and log in (blocking: call it in a thread); Unreachable
    when no session could be opened."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    try:
        if config.security == "tls":
            client = smtplib.SMTP_SSL(config.host, config.port,
                                      timeout=config.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
    except (OSError, smtplib.SMTPException) as error:
        raise Unreachable(f"{config.host}:{config.port}: {error}") from None
    try:
        client.ehlo()
        if config.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if config.user:
            client.login(config.user, config.password)
    except (OSError, smtplib.SMTPException) as error:
        client.close()
        raise Unreachable(f"{config.host}:{config.port}: {error}") from None
    except BaseException:
        client.close()
        raise
    return client


def send_one(client: smtplib.SMTP, message: EmailMessage) -> Outcome:
    """Send one message over an open session (blocking). A refusal or a mail this server
    cannot take (an address needing SMTPUTF8 it does not offer) is this mail's outcome
    alone; SessionLost when the connection broke, so the rest wait for the next session."""
    try:
        refused = client.send_message(message)
    except smtplib.SMTPServerDisconnected as error:
        raise SessionLost(str(error)) from None
    except smtplib.SMTPNotSupportedError as error:  # nothing was sent: the session is fine
        return Outcome(False, f"not sendable through this server: {error}", permanent=True)
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()))
        return Outcome(False, f"recipient refused: {code} {reply!r}", permanent=code >= 500)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        return Outcome(False, f"refused: {error.smtp_code} {error.smtp_error!r}",
                       permanent=error.smtp_code >= 500)
    except (OSError, smtplib.SMTPException) as error:
        raise SessionLost(str(error)) from None
    if refused:  # several recipients, some refused: ours has one, so this does not happen
        return Outcome(False, f"refused: {refused!r}", permanent=True)
    return Outcome(True)


def close(client: smtplib.SMTP) -> None:
    """QUIT, or just drop the connection when the session is already broken."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
