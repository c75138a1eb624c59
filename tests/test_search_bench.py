"""The search benchmark at a tiny scale, and its generated desk searched on both backends (and
both of SQLite's plans): every query kind gives the same conversations, in the same order, with
the same snippets."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import search_bench
from chatserver.core.search_text import parse_filters
from chatserver.store import search as store_search
from chatserver.store.search import search
from chatserver.store.store import Store

from .databases import postgres_database

END = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_search_bench_runs_at_tiny_scale() -> None:
    figures = search_bench.run(conversations=300)
    assert set(figures["kinds"]) == {"common word", "rare word", "Chinese, 2 characters",
                                     "Persian, no ZWNJ", "filters only", "text and filter",
                                     "two words, any lines", "visitor only",
                                     "text and visitor", "long chats"}
    for kind, f in figures["kinds"].items():
        assert 0 < f["median_s"] <= f["p95_s"] <= f["max_s"], kind
    assert figures["kinds"]["common word"]["mean_results"] == 20  # a full page


async def pages(where: str, searches: list[dict[str, str]]) -> list[Any]:
    store = Store(where)
    await store.open()
    try:
        return [await search(store, parse_filters(params)) for params in searches]
    finally:
        await store.close()


def test_both_backends_find_the_same_in_the_same_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    end_ms = int(END.timestamp() * 1000)
    kinds = search_bench.queries(random.Random(3), END)
    searches = [params for kind in kinds.values() for params in kind[:8]]
    searches += [{"q": "order", "cursor": ""}, {"q": "退款 订单"}, {"q": "می خواهم"}]
    path = str(tmp_path / "chat.db")
    search_bench.fill_sqlite(path, 1500, end_ms)
    on_sqlite = asyncio.run(pages(path, searches))
    for threshold in (1, 10**9):  # SQLite's two ways to the newest matches agree
        monkeypatch.setattr(store_search, "COMMON_LINES", threshold)
        assert asyncio.run(pages(path, searches)) == on_sqlite
    monkeypatch.undo()
    with postgres_database() as url:
        search_bench.fill_postgres(url, 1500, end_ms)
        on_postgres = asyncio.run(pages(url, searches))
    assert sum(len(p["conversations"]) for p in on_sqlite) > 200
    for params, mine, theirs in zip(searches, on_sqlite, on_postgres, strict=True):
        assert mine == theirs, params
