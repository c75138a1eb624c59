"""The webhooks' pure rules (core/webhooks.py): the signature a receiver checks, the body, the
back-off, and which destinations are refused (server-side tests: tests/test_webhooks.py)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from chatserver.core import webhooks as rules

SECRET = "whsec_0123456789abcdef"
BODY = rules.body("c1", 7, "message", "visitor", {"text": "سلام «hi»"}, 1_765_000_000_000)


def test_the_signature_is_hmac_sha256_over_time_dot_body_as_documented() -> None:
    header = rules.signature(SECRET, 1_765_000_000, BODY)
    mac = hmac.new(SECRET.encode(), b"1765000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1765000000,v1={mac}"
    assert rules.verify(SECRET, header, BODY, now=1_765_000_000 + 299)


@pytest.mark.parametrize("change", ["body", "secret", "old", "future", "no time", "no mac"])
def test_a_changed_body_another_secret_or_a_replay_outside_the_window_fails(
        change: str) -> None:
    header, body, secret, now = rules.signature(SECRET, 1000, BODY), BODY, SECRET, 1000.0
    if change == "body":
        body = BODY.replace(b"hi", b"ho")
    elif change == "secret":
        secret = "whsec_another_one_0000"
    elif change == "old":
        now = 1000 + rules.REPLAY_WINDOW_SECONDS + 1
    elif change == "future":
        now = 1000 - rules.REPLAY_WINDOW_SECONDS - 1
    elif change == "no time":
        header = header.split(",", 1)[1]
    else:
        header = header.split(",", 1)[0]
    assert not rules.verify(secret, header, body, now)


def test_the_body_carries_the_stable_id_and_the_event() -> None:
    event = json.loads(BODY)
    assert event == {"id": "c1:7", "type": "message", "conversation_id": "c1", "seq": 7,
                     "author": "visitor", "ts_ms": 1_765_000_000_000,
                     "data": {"text": "سلام «hi»"}}
    assert rules.event_id("c1", 7) == event["id"]


def test_back_off_doubles_to_its_cap_with_the_upper_half_random() -> None:
    waits = [rules.backoff_seconds(n, 0.999999, 1.0, 600.0) for n in range(1, 14)]
    assert [round(w) for w in waits[:5]] == [1, 2, 4, 8, 16]
    assert max(waits) <= 600 and round(waits[-1]) == 600
    assert rules.backoff_seconds(3, 0.0, 1.0, 600.0) == 2.0  # half of 4 s at the least
    assert rules.backoff_seconds(10_000, 0.5, 1.0, 600.0) <= 600  # no overflow


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("::ffff:10.0.0.1", "private"), ("2002:0a00:0001::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1%eth0", "link-local"),
    ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("240.0.0.1", "reserved"), ("100.64.0.1", "not public"),
    ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
])
def test_addresses_off_the_public_internet_are_refused(address: str, reason: str | None) -> None:
    assert rules.refused_address(address) == reason


def test_a_url_is_taken_apart_and_odd_ones_refused() -> None:
    where = rules.destination(" https://hooks.example:8443/in?x=1 ")
    assert (where.scheme, where.host, where.port, where.target) == (
        "https", "hooks.example", 8443, "/in?x=1")
    assert where.host_header == "hooks.example:8443"
    assert rules.destination("http://[2001:db8::1]/").host_header == "[2001:db8::1]"
    for bad in ["", "ftp://x.example/", "http:///nohost", "https://u:p@x.example/",
                "https://x.example/#frag", "https://x.example:99999/", "https://x .example/",
                None, 42]:
        with pytest.raises(rules.WebhookError) as raised:
            rules.destination(bad)
        assert raised.value.field == "url"


def test_event_types_secrets_and_descriptions_are_checked() -> None:
    assert rules.events_of(["closed", "message"]) == ["message", "closed"]
    for bad in [[], ["nope"], "message", [1]]:
        with pytest.raises(rules.WebhookError):
            rules.events_of(bad)
    assert rules.secret_of("") is None and rules.secret_of(None) is None
    for bad in ["short", "x" * 201, "with space 0123456789", "ünïcode-0123456789"]:
        with pytest.raises(rules.WebhookError):
            rules.secret_of(bad)
    assert rules.description_of(" CRM ") == "CRM"
    with pytest.raises(rules.WebhookError):
        rules.description_of("x" * 201)
