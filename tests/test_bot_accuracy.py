"""Small accuracy regression checks on the shared datasets (skipped when they are absent).

Floors sit a few points under the measured figures (docs/bot.md) so that a real regression
fails and seed noise does not.  The spelling-variant checks rewrite the test queries the way
visitors type them and require accuracy to hold: that is what normalization is for.
"""

from __future__ import annotations

import random
from pathlib import Path

import opencc
import pytest

from bot.evaluate import Row, build_kb, load_rows

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

needs_data = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"shared datasets not found at {DATASETS}"
)


def top1(train: list[Row], test: list[Row], held_out_same_file: bool = False) -> float:
    bot, labels, used = build_kb(train, shots=10, seed=0)
    queries = [r for i, r in enumerate(test) if not (held_out_same_file and i in used)]
    hits = 0
    for row in queries:
        found = bot.search(row.text, row.lang, k=1)
        hits += bool(found) and labels[found[0].entry_id] == row.label
    return hits / len(queries)


@needs_data
def test_xsid_chinese_simplified_and_traditional_queries() -> None:
    rows = load_rows(DATASETS / "xsid_zh.valid.jsonl")
    simplified = top1(rows, rows, held_out_same_file=True)
    # Taiwan standard with Taiwan words (OpenCC s2twp): 設定, 新增, 鬧鐘 as Taiwan writes them.
    to_taiwan = opencc.OpenCC("s2twp").convert
    traditional = [Row(to_taiwan(r.text), r.label, r.lang) for r in rows]
    changed = sum(t.text != r.text for t, r in zip(traditional, rows, strict=True))
    assert changed > len(rows) // 2  # the rewrite really produced traditional text
    assert simplified >= 0.85
    # The KB is built from the simplified rows; only the queries are traditional.  Measured:
    # equal (0.922); the 758-character table it replaced reached 0.892 (docs/bot.md).
    assert top1(rows, traditional, held_out_same_file=True) >= simplified - 0.01


@needs_data
def test_banking77_subset() -> None:
    train = load_rows(DATASETS / "banking77_en.train.jsonl")
    test = load_rows(DATASETS / "banking77_en.valid.jsonl")[::4]
    assert top1(train, test) >= 0.68


@needs_data
def test_persian_typed_on_arabic_keyboard_keeps_accuracy() -> None:
    train = load_rows(DATASETS / "massive_fa.train.jsonl")
    test = load_rows(DATASETS / "massive_fa.valid.jsonl")[::8]
    arabic_keys = str.maketrans({"ی": "ي", "ک": "ك", "\u200c": ""})
    typed = [Row(r.text.translate(arabic_keys), r.label, r.lang) for r in test]
    assert sum(t.text != r.text for t, r in zip(typed, test, strict=True)) > len(test) // 2
    clean = top1(train, test)
    assert clean >= 0.55
    assert top1(train, typed) >= clean - 0.02


@needs_data
def test_diacritised_arabic_keeps_accuracy() -> None:
    train = load_rows(DATASETS / "arbanking77_ar.train.jsonl")
    test = load_rows(DATASETS / "arbanking77_ar.valid.jsonl")[::8]
    rng = random.Random(5)
    harakat = "\u064e\u064f\u0650\u0652\u0651"

    def diacritise(text: str) -> str:
        return "".join(
            c + rng.choice(harakat) if "\u0621" <= c <= "\u064a" and rng.random() < 0.6 else c
            for c in text
        )

    marked = [Row(diacritise(r.text), r.label, r.lang) for r in test]
    clean = top1(train, test)
    assert clean >= 0.55
    assert top1(train, marked) >= clean - 0.02
