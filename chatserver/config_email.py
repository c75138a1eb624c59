"""The `[email]` settings (docs/email.md) and their checks, apart from config.py for its size:
config.py declares them as the `email` section like any other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chatserver.core.mail_content import BadAddress, mailbox

from .config_values import ConfigError

EMAIL_SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class EmailConfig:
    """Mail the server sends (docs/email.md): offline messages to the team, transcripts to
    visitors, through a durable outbox in the store."""

    enabled: bool = False
    # The SMTP server. "starttls" upgrades a plain connection (port 587), "tls" is TLS from the
    # first byte (465), "none" only for a server on this machine (no password over plain TCP).
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    user: str = ""
    # Only through CHATSERVER_EMAIL_PASSWORD: refused in the file, never logged.
    password: str = field(default="", repr=False)
    # The sender of every mail, e.g. "Support <support@shop.example>".
    from_address: str = ""
    # Where messages left while nobody was online go, and per pre-chat topic where they go
    # instead, e.g. {billing = "billing@shop.example"}.
    team_address: str = ""
    topic_addresses: Mapping[str, str] = field(default_factory=dict)
    # Seconds for the SMTP connection and each command.
    timeout_seconds: float = 30.0
    # The back-off after a failed send: doubling from retry_base_seconds up to
    # retry_max_seconds; a mail still unsent after give_up_hours is marked failed.
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    give_up_hours: float = 72.0
    # Seconds between looks at the outbox for mails other processes queued or retries due.
    poll_seconds: float = 5.0
    # Transcript mails a visitor may ask for per day (counted in the store, across processes)
    # and per address per hour (per process).
    transcripts_per_visitor: int = 3
    transcripts_per_ip: int = 10

    def __post_init__(self) -> None:
        """Ranges, and every address a mail is sent from or to when mail is on (a ValueError
        here stops start-up as a ConfigError, config_values.build)."""
        if self.security not in EMAIL_SECURITY:
            raise ValueError(f"email.security: must be one of {', '.join(EMAIL_SECURITY)}")
        if not 0 < self.port < 65536:
            raise ValueError(f"email.port: {self.port} is not a TCP port")
        for key in ("timeout_seconds", "retry_base_seconds", "retry_max_seconds", "give_up_hours",
                    "poll_seconds"):
            if getattr(self, key) <= 0:
                raise ValueError(f"email.{key}: must be greater than 0")
        if self.transcripts_per_visitor < 0 or self.transcripts_per_ip < 0:
            raise ValueError("email.transcripts_per_visitor and transcripts_per_ip: 0 or more")
        if not self.enabled:
            return
        if self.security == "none" and self.password and self.host not in (
                "localhost", "127.0.0.1", "::1"):
            raise ValueError("email.security = 'none' would send the password in clear to "
                             f"{self.host}: use starttls or tls")
        if self.password and not self.user:
            raise ValueError("email.user: a password is set (CHATSERVER_EMAIL_PASSWORD) but no "
                             "user")
        addresses = {"email.from_address": self.from_address,
                     "email.team_address": self.team_address,
                     **{f"email.topic_addresses.{t}": a for t, a in self.topic_addresses.items()}}
        for key, value in addresses.items():
            if key == "email.team_address" and not value:
                continue  # offline messages stay on the console only
            try:
                mailbox(value, key)
            except BadAddress as error:
                raise ValueError(f"{error} (email.enabled = true)") from None


def refuse_file_password(raw: Mapping[str, Any], path: object) -> None:
    """A password written in the config file stops start-up: only the environment has it."""
    if isinstance(raw.get("email"), dict) and raw["email"].get("password"):
        raise ConfigError(f"email.password: not in {path}; set CHATSERVER_EMAIL_PASSWORD in "
                          "the environment (a file is copied, backed up and read by many)")
