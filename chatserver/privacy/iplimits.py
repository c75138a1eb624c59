"""Per-address and per-account limits on costly or abusable actions: new visitor sessions, new
conversations, failed logins. Pure: the time is passed in (seconds, any monotonic origin).

Each key gets a token bucket that holds `limit` tokens and refills `limit` per `period`, so a
key may spend its whole allowance at once, then earns one back every `period / limit` seconds:
"6 per 12 hours" allows 6 now and a 7th two hours later, and trips and recovers with no cliff.

Memory is bounded: a key whose bucket has refilled is the same as an absent key and is dropped
as soon as it is the least recently used; past `max_keys` live keys the least recently used is
dropped anyway (that key starts afresh: an attacker with more addresses than `max_keys` can
dodge the limit, but cannot grow our memory). Limits are per process: with N workers an address
gets up to N times the allowance.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatserver.core.errors import RateLimited

if TYPE_CHECKING:
    from chatserver.config import AbuseConfig


class Throttled(RateLimited):
    """Refused by a limit; `retry_after` (whole seconds) is when the next attempt will pass."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"{message}; try again in {_duration(self.retry_after)}")


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 3600)} h"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float  # seconds until one more hit would pass (0 when it passes now)


class KeyedLimiter:
    """At most `limit` hits per `period_s` seconds per key (a token bucket per key); a limit of
    0 disables it."""

    def __init__(self, limit: int, period_s: float, max_keys: int = 50_000) -> None:
        if limit < 0 or period_s <= 0 or max_keys < 1:
            raise ValueError("limit must be >= 0, period and max_keys > 0")
        self.limit, self.period_s, self.max_keys = limit, period_s, max_keys
        self._rate = limit / period_s  # tokens per second
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, key: str, now: float) -> float:
        found = self._buckets.get(key)
        if found is None:
            return float(self.limit)
        tokens, at = found
        return min(float(self.limit), tokens + max(0.0, now - at) * self._rate)

    def check(self, key: str, now: float, cost: float = 1.0) -> Verdict:
        """Would a hit pass now? Spends nothing."""
        if self.limit == 0:
            return Verdict(True, 0.0)
        tokens = self._tokens(key, now)
        if tokens >= cost:
            return Verdict(True, 0.0)
        return Verdict(False, (cost - tokens) / self._rate)

    def hit(self, key: str, now: float, cost: float = 1.0) -> Verdict:
        """Spend `cost` if there is enough; a refused hit spends nothing, so retrying at the
        time given by `retry_after` succeeds."""
        verdict = self.check(key, now, cost)
        if self.limit == 0:
            return verdict
        tokens = self._tokens(key, now)
        if verdict.allowed:
            tokens -= cost
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        self._evict(now)
        return verdict

    def reset(self, key: str) -> None:
        self._buckets.pop(key, None)

    def _evict(self, now: float) -> None:
        # Least recently used first; a full bucket is indistinguishable from no bucket.
        while self._buckets:
            key = next(iter(self._buckets))
            if self._tokens(key, now) < self.limit and len(self._buckets) <= self.max_keys:
                return
            del self._buckets[key]


def address_key(host: str | None) -> str:
    """The key an address is limited under. An IPv6 host usually owns a whole /64 (it can pick
    any address in it at will), so IPv6 is limited per /64; IPv4-mapped IPv6 is its IPv4."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host.lower()  # a unix socket path or a test client's name
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class AbuseLimits:
    """The server's limits, built from `[abuse]`; each method raises `Throttled` when over.

    Visitors: `visitor_session` for each hello that creates a new visitor (a returning token
    does not count), `conversation` before each new conversation. Staff: `login_allowed`
    before checking a password, `login_failed` after a wrong one (only failures count, so an
    office behind one address can log in all morning).
    """

    def __init__(self, config: AbuseConfig) -> None:
        keys = config.max_tracked_keys
        self.exempt = frozenset(config.exempt_addresses)
        self.sessions = KeyedLimiter(config.new_visitors_per_ip,
                                     config.new_visitors_period_seconds, keys)
        self.conversations = KeyedLimiter(config.new_conversations_per_ip,
                                          config.new_conversations_period_seconds, keys)
        self.login_ip = KeyedLimiter(config.failed_logins_per_ip,
                                     config.failed_logins_per_ip_period_seconds, keys)
        self.login_account = KeyedLimiter(config.failed_logins_per_account,
                                          config.failed_logins_per_account_period_seconds, keys)

    def _exempt(self, host: str | None) -> bool:
        return host is not None and host in self.exempt

    def visitor_session(self, host: str | None, now: float) -> None:
        if self._exempt(host):
            return
        verdict = self.sessions.hit(address_key(host), now)
        if not verdict.allowed:
            raise Throttled("too many new chat sessions from your network",
                            verdict.retry_after)

    def conversation(self, host: str | None, now: float) -> None:
        if self._exempt(host):
            return
        verdict = self.conversations.hit(address_key(host), now)
        if not verdict.allowed:
            raise Throttled("too many new conversations from your network",
                            verdict.retry_after)

    def login_allowed(self, host: str | None, account: str, now: float) -> None:
        """Refuse before the password is even checked, so a throttled guess learns nothing."""
        waits = [self.login_account.check(account.strip().lower(), now)]
        if not self._exempt(host):
            waits.append(self.login_ip.check(address_key(host), now))
        refused = [v.retry_after for v in waits if not v.allowed]
        if refused:
            raise Throttled("too many failed logins", max(refused))

    def login_failed(self, host: str | None, account: str, now: float) -> None:
        self.login_account.hit(account.strip().lower(), now)
        if not self._exempt(host):
            self.login_ip.hit(address_key(host), now)
