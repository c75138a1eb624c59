"""The chat path's JSON (core/json_text.py): orjson's speed, the standard library's answers."""

from __future__ import annotations

import json

import pytest

from chatserver.core import json_text


def test_text_is_compact_and_keeps_every_script_readable() -> None:
    frame = {"type": "message", "text": "سلام 你好 «hi»", "seq": 7, "ok": True, "x": None}
    assert json_text.dumps(frame) == json.dumps(frame, ensure_ascii=False,
                                                separators=(",", ":"))


def test_what_orjson_refuses_to_write_is_written_as_before() -> None:
    assert json_text.dumps({"n": 10**30}) == '{"n":1000000000000000000000000000000}'
    assert json_text.dumps({1: "a"}) == '{"1":"a"}'


def test_what_orjson_refuses_to_read_is_read_or_refused_as_before() -> None:
    # a lone surrogate escape: the frame parser then names the field that holds it
    assert json_text.loads('{"text": "\\ud83d"}') == {"text": "\ud83d"}
    assert json_text.loads("[NaN]")[0] != json_text.loads("[NaN]")[0]
    # integers past 64 bits, which orjson reads as floats (no error): exact, as before
    for n in (2**64, -(2**63) - 1, 10**30, -(10**40)):
        value = json_text.loads(f'{{"n": {n}}}')["n"]
        assert value == n and type(value) is int
    deep, depth = json_text.loads("[" * 1000 + "]" * 1000), 1  # orjson's depth: read
    while deep:
        deep, depth = deep[0], depth + 1
    assert depth == 1000
    with pytest.raises(ValueError):
        json_text.loads('{"text": ')
    with pytest.raises(RecursionError):
        json_text.loads("[" * 100_000 + "]" * 100_000)
