"""Signed tokens: HMAC-SHA256 over a payload, so the server can hand out ids it will recognise.

A visitor token is the visitor's id plus its signature; a forged or foreign-server token fails
the comparison and is treated as no token at all. Constant-time comparison throughout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


class Signer:
    """Signs and verifies short strings with a key; `purpose` keeps token kinds apart."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"{purpose}\0{secret_key}".encode()).digest()

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac(value)}"

    def unsign(self, token: str) -> str | None:
        """The signed value, or None when the token was not made by us for this purpose."""
        value, dot, mac = token.rpartition(".")
        if not dot or not value or not hmac.compare_digest(mac.encode(), self._mac(value).encode()):
            return None
        return value

    def _mac(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def new_id(nbytes: int = 12) -> str:
    """An unguessable URL-safe id (96 bits by default)."""
    return secrets.token_urlsafe(nbytes)
