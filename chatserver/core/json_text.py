"""JSON text on the chat path, through orjson: every chat line is parsed once as a client frame,
written once into the log and encoded at least twice as frames (the sender's ack, the peer's
copy), so the encoder is paid several times per line. orjson does each in a tenth of the
standard library's time (a delivered frame: 12.6 µs → 1.3 µs encoded, 4.8 → 0.8 µs parsed;
docs/performance.md), with the same text: compact, UTF-8 not escaped.

Where orjson refuses what the standard library accepts (an integer past 64 bits, a non-string
key; a lone-surrogate escape, NaN, nesting past 1,024), the standard library answers as it
always did, so what a stranger's frame gets back never depends on the fast path. orjson reads
an integer past 64 bits as a float without complaint, so a value holding a float that large is
read again by the standard library: an integer stays exact, and a field's range check still
names the range (checking the value costs ~0.5 µs a frame; a regular expression over the text
for long digit runs cost 2-4 µs).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_INT64 = 2.0**63  # orjson reads integers from -2**63 to 2**64 - 1 exactly, others as floats


def dumps(value: Any) -> str:
    """Compact JSON text with non-ASCII characters as they are."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of JSON text; ValueError (or RecursionError) as `json.loads` raises them."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _huge_float(value) else value


def _huge_float(value: Any) -> bool:
    """Whether `value` holds a float past 64-bit integers: perhaps an integer orjson rounded.
    Walked with a list, not by recursion: orjson accepts nesting deeper than Python's stack."""
    waiting = [value]
    while waiting:
        item = waiting.pop()
        kind = type(item)
        if kind is dict:
            waiting.extend(item.values())
        elif kind is list:
            waiting.extend(item)
        elif kind is float and not -_INT64 < item < _INT64:
            return True
    return False
