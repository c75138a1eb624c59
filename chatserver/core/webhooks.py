"""Webhooks' rules, without I/O: which events go out, the body and its signature, the
back-off between attempts, and which destinations are refused (docs/api.md, Webhooks).

The signature is Stripe's well-known shape, so receivers' existing code fits: HMAC-SHA256
with the endpoint's secret over "<unix seconds>.<body>", sent as
`X-Chatserver-Signature: t=<unix seconds>,v1=<hex>`. The time inside the signed text is what
lets a receiver refuse a replayed request (REPLAY_WINDOW_SECONDS).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .msgids import N_

# The event types an endpoint may take: the chat's life as the log records it. Offers, ETAs
# and silence timers are routing noise, left out.
EVENT_TYPES = ("started", "message", "queued", "assigned", "transferred", "closed", "survey",
               "label", "whisper")
SIGNATURE_HEADER = "X-Chatserver-Signature"
EVENT_ID_HEADER = "X-Chatserver-Event-Id"
EVENT_TYPE_HEADER = "X-Chatserver-Event-Type"
# 5 min: what receivers should accept between the signed time and their clock (Stripe's
# default tolerance); retries are signed afresh, so a late retry is never refused for age.
REPLAY_WINDOW_SECONDS = 300
URL_MAX = 2000
DESCRIPTION_MAX = 200
SECRET_MIN, SECRET_MAX = 16, 200


class WebhookError(ValueError):
    """A field an admin sent that cannot be used, naming the field. `message` is a fixed
    msgid (the page translates it) with {placeholders} filled from `values`."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.field, self.message, self.values = field, message, values


def event_id(conversation_id: str, seq: int) -> str:
    """The stable id a receiver de-duplicates on: the same for every attempt."""
    return f"{conversation_id}:{seq}"


def body(conversation_id: str, seq: int, kind: str, author: str, payload: Mapping[str, Any],
         ts_ms: int) -> bytes:
    """The JSON a receiver gets for one event of the log."""
    return json.dumps({
        "id": event_id(conversation_id, seq), "type": kind, "conversation_id": conversation_id,
        "seq": seq, "author": author, "ts_ms": ts_ms, "data": dict(payload),
    }, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    """The header value for a request sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, payload: bytes, now: float,
           window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a receiver does (docs/api.md has it in Python, Node and PHP): the time is within
    the window and one v1 value matches, compared in constant time."""
    parts = [p.partition("=") for p in header.split(",")]
    times = [v for k, _, v in parts if k.strip() == "t"]
    if len(times) != 1 or not times[0].isdigit() or abs(now - int(times[0])) > window:
        return False
    expected = signature(secret, int(times[0]), payload).rpartition("v1=")[2]
    return any(k.strip() == "v1" and hmac.compare_digest(v.strip(), expected)
               for k, _, v in parts)


def backoff_seconds(attempts: int, jitter: float, first: float, cap: float) -> float:
    """Wait before attempt `attempts + 1`: doubling from `first` up to `cap`, the upper half
    drawn at random (`jitter` in [0, 1)) so endpoints back after an outage are not all hit at
    the same instant by every process."""
    delay = min(cap, first * 2.0 ** min(max(attempts - 1, 0), 30))
    return delay / 2 + delay / 2 * jitter


@dataclass(frozen=True)
class Destination:
    """A webhook URL taken apart: where to connect and what to ask for."""

    scheme: str
    host: str  # as in the URL, without brackets; what TLS checks the certificate against
    port: int
    target: str  # path and query, sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def destination(url: object) -> Destination:
    """An endpoint's URL, checked: http(s), a host, no user or password, no fragment."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("url", "a URL is required")
    url = url.strip()
    if len(url) > URL_MAX or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise WebhookError("url", "the URL is too long or holds spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookError("url", "the URL must start with https:// or http://")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookError("url", "the URL's port is not a number from 1 to 65535") from None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise WebhookError("url", "the URL needs a host, and no user name or password")
    if parts.fragment:
        raise WebhookError("url", "the URL must not have a #fragment")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, ascii_host(parts.hostname), port, target)


def ascii_host(host: str) -> str:
    """An internationalised host name in its IDNA ("xn--") form, as DNS, the Host header and
    TLS's server name carry it."""
    if host.isascii():
        return host
    try:
        return ".".join(label.encode("idna").decode("ascii") if label else label
                        for label in host.split("."))
    except UnicodeError:
        raise WebhookError("url", N_("the URL's host name is not a valid domain name")) from None


def refused_address(address: str) -> str | None:
    """Why an address may not be called unless private destinations are allowed, or None.
    IPv4 inside IPv6 (mapped, 6to4, Teredo, and NAT64's well-known prefix 64:ff9b::/96) is
    judged as the IPv4 address it carries: on an IPv6-only host behind DNS64 every IPv4-only
    receiver has a NAT64 address, so refusing the prefix as "reserved" would refuse them all,
    while 64:ff9b::7f00:1 still reaches 127.0.0.1 through the gateway and is refused as such.
    IPv6 site-local (fec0::/10, deprecated but still routed inside some networks) is refused
    like the unique-local fc00::/7, though Python calls it global."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            ip = inner
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
    for reason, hit in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                        ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                        ("site-local", site_local),
                        ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if hit:
            return reason
    return None if ip.is_global else "not public"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052's well-known prefix


def events_of(value: object) -> list[str]:
    """The event types an admin picked: a non-empty list of known ones, in EVENT_TYPES order."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise WebhookError("events", "pick at least one event type")
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise WebhookError("events", N_("unknown event type: {types}"),
                           types=", ".join(unknown))
    return [kind for kind in EVENT_TYPES if kind in value]


def description_of(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.strip()) > DESCRIPTION_MAX:
        raise WebhookError("description", N_("at most {limit} characters"),
                           limit=DESCRIPTION_MAX)
    return value.strip()


def secret_of(value: object) -> str | None:
    """A secret an admin set (None: the server makes one)."""
    if value is None or value == "":
        return None
    if (not isinstance(value, str) or not SECRET_MIN <= len(value) <= SECRET_MAX
            or not value.isascii() or not value.isprintable() or " " in value):
        raise WebhookError("secret", f"{SECRET_MIN} to {SECRET_MAX} printable ASCII "
                           "characters without spaces")
    return value
