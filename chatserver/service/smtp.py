"""Handing mails to the SMTP server: the standard library's smtplib, run in a worker thread.

smtplib rather than aiosmtplib: no new dependency for the server, and mail is rare next to chat
(a few per hour), sent one connection at a time by one task per process, so a thread blocked
for a send's few hundred milliseconds costs nothing the event loop would notice; the timeout
bounds every connect and command.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
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


def _session(config: EmailConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if config.security == "tls":
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_seconds,
                                  context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
    try:
        client.ehlo()
        if config.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if config.user:
            client.login(config.user, config.password)
    except BaseException:
        client.close()
        raise
    return client


def _one(client: smtplib.SMTP, message: EmailMessage) -> Outcome:
    try:
        refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()))
        return Outcome(False, f"recipient refused: {code} {reply!r}", permanent=code >= 500)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        return Outcome(False, f"refused: {error.smtp_code} {error.smtp_error!r}",
                       permanent=error.smtp_code >= 500)
    if refused:  # several recipients, some refused: ours has one, so this does not happen
        return Outcome(False, f"refused: {refused!r}", permanent=True)
    return Outcome(True)


def send_all(config: EmailConfig, messages: Sequence[EmailMessage]) -> list[Outcome]:
    """Send each message over one session (blocking: call it in a thread). Raises Unreachable
    when no session could be opened; a session lost midway fails the rest as temporary."""
    try:
        client = _session(config)
    except (OSError, smtplib.SMTPException) as error:
        raise Unreachable(f"{config.host}:{config.port}: {error}") from None
    outcomes: list[Outcome] = []
    try:
        for message in messages:
            try:
                outcomes.append(_one(client, message))
            except (OSError, smtplib.SMTPException) as error:
                outcomes += [Outcome(False, f"session lost: {error}")] * (
                    len(messages) - len(outcomes))
                break
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    return outcomes
