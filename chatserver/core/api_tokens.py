"""API tokens, the pure part: their shape, what an `Authorization` header holds, the digest
kept instead of the secret, and the names and scopes an admin may give one.

A token reads `cst_<id>_<secret>`: the id (12 characters) is stored in clear to find the row,
the secret (43 characters, 256 random bits) only as its SHA-256. A slow hash adds nothing for
a secret this long (passwords need scrypt because people choose them); the comparison of
digests is constant-time. The fixed `cst_` start lets log redaction and secret scanners find
one that leaked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

PREFIX = "cst_"
ID_LENGTH = 12
SECRET_LENGTH = 43  # base64url of 32 bytes, no padding
SCOPES = ("read", "write", "admin")  # each a separate grant: write implies no reading
MAX_NAME = 60
# The whole token, also what log redaction looks for (its alphabet: base64url).
TOKEN = re.compile(rf"{PREFIX}([A-Za-z0-9]{{{ID_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})")
LOOSE_TOKEN = re.compile(rf"{PREFIX}[A-Za-z0-9]{{{ID_LENGTH}}}_[A-Za-z0-9_-]+")
MAX_HEADER = 200  # longer than any token and its scheme: read no further


class TokenFieldError(ValueError):
    """A name or scope list an admin sent that cannot be a token's; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def compose(token_id: str, secret: str) -> str:
    return f"{PREFIX}{token_id}_{secret}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    """Constant-time: the time taken says nothing about how much of the secret was right."""
    return hmac.compare_digest(digest(secret).encode(), stored_digest.encode())


def bearer(header: str | None) -> tuple[str, str] | bool | None:
    """What an Authorization header carries: False when there is none or it is another scheme
    (the session cookie decides), the token's (id, secret) when it is one of ours, None for
    a Bearer header that holds no well-formed token (too long, spaces, other characters)."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    if len(header) > MAX_HEADER:
        return None
    found = TOKEN.fullmatch(value)
    return None if found is None else (found.group(1), found.group(2))


# Bidi embeddings and overrides make a shown name differ from what was sent (an integration
# could pass for another sender); U+2028/2029 break lines. As canned titles refuse them.
_REFUSED_FORMAT = frozenset("\u202a\u202b\u202c\u202d\u202e\u2028\u2029")
_VISIBLE = frozenset("LNPS")  # letters, digits, punctuation, symbols: what shows on screen


def clean_name(value: object, field: str = "name") -> str:
    """A token's name, or the `author` a line is shown under (the visitor reads it as the
    sender's name): one line with a visible character, no bidi embedding or override."""
    if not isinstance(value, str):
        raise TokenFieldError(field, "must be text")
    if field != "name" and any(c in value for c in "\r\n\t"):
        raise TokenFieldError(field, "must be one line")
    name = unicodedata.normalize("NFC", " ".join(value.split()))
    if not 1 <= len(name) <= MAX_NAME:
        raise TokenFieldError(field, f"must be 1-{MAX_NAME} characters")
    if not any(unicodedata.category(c)[0] in _VISIBLE for c in name):
        raise TokenFieldError(field, "must hold a visible character")
    if _REFUSED_FORMAT.intersection(name):
        raise TokenFieldError(field, "must not hold a bidi embedding, override or line "
                                     "separator")
    return name


def clean_scopes(value: object) -> tuple[str, ...]:
    """The scopes asked for, in SCOPES' order; at least one, none unknown."""
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise TokenFieldError("scopes", "choose at least one of read, write, admin")
    unknown = sorted(set(value) - set(SCOPES))
    if unknown:
        raise TokenFieldError("scopes", f"{unknown[0]!a} is not one of read, write, admin")
    return tuple(s for s in SCOPES if s in value)


def mask(text: str) -> str:
    """Every token-like string in `text` reduced to its id, as a log line may show it."""
    return LOOSE_TOKEN.sub(lambda m: m.group()[:len(PREFIX) + ID_LENGTH] + "_[redacted]", text)
