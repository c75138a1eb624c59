"""Per-address limits: trip at the limit, recover at the refill rate, forget idle keys."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatserver.config import AbuseConfig
from chatserver.core.errors import RateLimited
from chatserver.privacy.iplimits import AbuseLimits, KeyedLimiter, Throttled, address_key

HOUR = 3600.0


def test_six_conversations_per_12_hours_trips_then_recovers_one_every_two_hours() -> None:
    limiter = KeyedLimiter(6, 12 * HOUR)
    assert all(limiter.hit("1.2.3.4", 0.0).allowed for _ in range(6))
    refused = limiter.hit("1.2.3.4", 1.0)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(2 * HOUR - 1.0)
    assert not limiter.hit("1.2.3.4", 2 * HOUR - 2).allowed  # refused hits spend nothing
    assert limiter.hit("1.2.3.4", 2 * HOUR).allowed  # exactly when it said
    assert not limiter.hit("1.2.3.4", 2 * HOUR + 1).allowed
    # After a full period the whole allowance is back.
    assert all(limiter.hit("1.2.3.4", 15 * HOUR).allowed for _ in range(6))
    assert not limiter.hit("1.2.3.4", 15 * HOUR).allowed


def test_keys_are_independent_and_check_spends_nothing() -> None:
    limiter = KeyedLimiter(2, 60.0)
    assert limiter.check("a", 0).allowed
    limiter.hit("a", 0)
    limiter.hit("a", 0)
    assert not limiter.check("a", 0).allowed
    assert limiter.hit("b", 0).allowed
    limiter.reset("a")
    assert limiter.hit("a", 0).allowed


def test_a_zero_limit_is_off() -> None:
    limiter = KeyedLimiter(0, 60.0)
    assert all(limiter.hit("x", 0).allowed for _ in range(1000))
    assert len(limiter) == 0


def test_idle_keys_are_forgotten_once_refilled() -> None:
    limiter = KeyedLimiter(5, 10.0)
    for i in range(1000):
        limiter.hit(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(limiter) == 1000
    limiter.hit("late", 11.0)  # every earlier bucket has refilled by now
    assert len(limiter) == 1


def test_memory_is_bounded_under_a_flood_of_addresses() -> None:
    limiter = KeyedLimiter(5, 3600.0, max_keys=100)
    for i in range(10_000):
        limiter.hit(f"spoofed-{i}", i * 0.001)
    assert len(limiter) <= 100


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 100)), max_size=60))
def test_never_more_than_limit_plus_refill_in_any_window(hits: list[tuple[str, float]]) -> None:
    limit, period = 3, 30.0
    limiter = KeyedLimiter(limit, period)
    allowed: dict[str, list[float]] = {}
    for key, now in sorted(hits, key=lambda h: h[1]):
        if limiter.hit(key, now).allowed:
            allowed.setdefault(key, []).append(now)
    for times in allowed.values():
        for i, start in enumerate(times):
            within = [t for t in times[i:] if t - start < period]
            # A token bucket allows its burst plus what refills during the window.
            assert len(within) <= limit + limit * (within[-1] - start) / period + 1e-9


def test_ipv6_is_limited_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "unknown"
    assert address_key("testclient") == "testclient"


def small(**changes: object) -> AbuseLimits:
    base = AbuseConfig(new_visitors_per_ip=2, new_conversations_per_ip=3,
                       new_conversations_period_seconds=30.0, failed_logins_per_ip=3,
                       failed_logins_per_account=4, exempt_addresses=("127.0.0.1",))
    return AbuseLimits(dataclasses.replace(base, **changes))


def test_new_conversations_trip_with_a_retry_time_and_recover() -> None:
    limits = small()
    for _ in range(3):
        limits.conversation("203.0.113.5", 0.0)
    with pytest.raises(Throttled) as refused:
        limits.conversation("203.0.113.5", 1.0)
    assert isinstance(refused.value, RateLimited) and refused.value.code == "rate_limited"
    assert refused.value.retry_after == 9  # one comes back every 10 s; 1 s has passed
    assert "try again in 9 s" in refused.value.message
    limits.conversation("198.51.100.1", 1.0)  # someone else is not affected
    limits.conversation("203.0.113.5", 10.0)  # recovered


def test_new_visitor_sessions_trip_per_address_and_exempt_addresses_never_do() -> None:
    limits = small()
    limits.visitor_session("203.0.113.5", 0)
    limits.visitor_session("203.0.113.5", 0)
    with pytest.raises(Throttled):
        limits.visitor_session("203.0.113.5", 0)
    for _ in range(100):
        limits.visitor_session("127.0.0.1", 0)
        limits.conversation("127.0.0.1", 0)


def test_failed_logins_throttle_per_address_and_per_account() -> None:
    limits = small()
    for _ in range(3):
        limits.login_allowed("203.0.113.5", "root", 0)
        limits.login_failed("203.0.113.5", "root", 0)
    with pytest.raises(Throttled):  # the address is out
        limits.login_allowed("203.0.113.5", "someone-else", 0)
    limits.login_allowed("198.51.100.1", "ROOT ", 0)  # the account has one failure left
    limits.login_failed("198.51.100.1", "root", 0)
    with pytest.raises(Throttled):  # the account is out, from any address, any spelling
        limits.login_allowed("192.0.2.9", "Root", 0)
    # Even from an exempt address: the per-account limit protects the account itself.
    with pytest.raises(Throttled):
        limits.login_allowed("127.0.0.1", "root", 0)
    limits.login_allowed("192.0.2.9", "root", 900.0)  # recovered after the period


def test_defaults_are_chatwoots_numbers() -> None:
    c = AbuseConfig()
    assert (c.new_conversations_per_ip, c.new_conversations_period_seconds) == (6, 43200.0)
    assert (c.failed_logins_per_ip, c.failed_logins_per_ip_period_seconds) == (5, 300.0)
    assert (c.failed_logins_per_account,
            c.failed_logins_per_account_period_seconds) == (10, 900.0)
