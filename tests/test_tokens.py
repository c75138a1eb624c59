"""Signed tokens, password hashing and the token bucket: the small pure pieces."""

from __future__ import annotations

import pytest

from chatserver.passwords import hash_password, verify_password
from chatserver.privacy.ratelimit import TokenBucket
from chatserver.tokens import Signer


def test_a_signed_value_comes_back_and_a_tampered_one_does_not() -> None:
    signer = Signer("key", "visitor")
    token = signer.sign("v123")
    assert signer.unsign(token) == "v123"
    assert signer.unsign("v124" + token[4:]) is None
    assert signer.unsign(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert signer.unsign("") is None and signer.unsign("no-dot") is None


def test_tokens_of_another_key_or_purpose_are_refused() -> None:
    token = Signer("key", "visitor").sign("v1")
    assert Signer("other", "visitor").unsign(token) is None
    assert Signer("key", "session").unsign(token) is None


def test_passwords_verify_only_with_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("x", "garbage")
    assert hash_password("same") != hash_password("same")  # salted


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow(0.4) is False  # 0.8 of a token
    assert bucket.allow(0.5) is True  # one token back after 0.5 s
    assert [bucket.allow(100.0) for _ in range(4)] == [True, True, True, False]  # capped


@pytest.mark.parametrize("token", ["x.é", "é.é", "value.😀", "a\u00e9b.c\u0301"])
def test_a_token_with_characters_outside_ascii_is_refused_not_an_error(token: str) -> None:
    """compare_digest raises TypeError on str with non-ASCII characters: a stranger's cookie
    `chat_session=x.é` was a 500 on every page that reads the session."""
    assert Signer("k" * 40, "session").unsign(token) is None
