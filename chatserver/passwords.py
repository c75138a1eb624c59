"""Password hashing with scrypt (stdlib), tuned to cost ~50 ms so guessing is expensive."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# n=2**14, r=8, p=1: OWASP's minimum scrypt parameters; 16 MiB of memory per hash.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 8  # NIST SP 800-63B: at least 8 characters for user-chosen secrets
MAX_PASSWORD = 256  # scrypt cost grows with input; refuse absurd lengths


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encoded_salt, encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_N}${_R}${_P}${encoded_salt}${encoded}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def generate_password() -> str:
    """A one-time password for the first admin: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)
