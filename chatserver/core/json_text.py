"""JSON text on the chat path, through orjson: every chat line is parsed once as a client frame,
written once into the log and encoded at least twice as frames (the sender's ack, the peer's
copy), so the encoder is paid several times per line. orjson does each in a tenth of the
standard library's time (a delivered frame: 12.6 µs → 1.3 µs encoded, 4.8 → 0.8 µs parsed;
docs/performance.md), with the same text: compact, UTF-8 not escaped.

Where orjson refuses what the standard library accepts (an integer past 64 bits, a non-string
key; a lone-surrogate escape, NaN, nesting past 1,024), the standard library answers as it
always did, so what a stranger's frame gets back never depends on the fast path.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text with non-ASCII characters as they are."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of JSON text; ValueError (or RecursionError) as `json.loads` raises them."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
