"""Erasing one visitor whose one chat holds N lines: wall time of `erase_visitor`, and with
`--statements` where it goes (time and calls per SQL statement, the writer's and the VACUUM's).

Each size runs on a fresh database (`--postgres`: one of the run's own on the PostgreSQL
service, dropped after): one visitor, one chat of N events (nine in ten the visitor's and
the agent's messages, every line indexed for search first), erased as the privacy page does.

    .venv/bin/python -m bench.erase_bench [--sizes 500,2000,6000] [--postgres] [--statements]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from chatserver.privacy.data_rights import erase_visitor
from chatserver.store.search import index_waiting_lines
from chatserver.store.store import Conn, NewEvent, Store

from .servers import scratch_database

T0 = 1_700_000_000_000
GROUP = 100  # events per append while building the chat


def chat(n: int) -> Iterator[NewEvent]:
    for i in range(n):
        if i % 10 == 9:
            yield NewEvent("eta", "system", {"eta_seconds": 30, "position": 1})
        elif i % 2:
            yield NewEvent("message", "agent:1", {"from": "agent", "author": "Alice",
                                                  "text": f"Sara, line {i} about order 4411"})
        else:
            yield NewEvent("message", "visitor", {"from": "visitor", "author": "Sara Jones",
                                                  "text": f"my card 4111 and order {i}"})


# Other visitors' chats (`--others`), 100 lines each, their ids on both sides of the erased
# visitor's two ("f1" and "t5"): "a0", "m1", "z2", "a3", ...
OTHER_LINES = 100
OTHERS_SQL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
INSERT INTO {table} SELECT {columns} FROM n"""
OTHER_LINE = json.dumps({"from": "visitor", "author": "Ann", "text": "another line"})


def others(conn: Conn, chats: int) -> None:
    conn.execute("INSERT INTO visitors (id, created_ms, last_seen_ms) VALUES ('ann', 1, 1)")
    conn.execute(OTHERS_SQL.format(
        table="conversations (id, visitor_id, state, last_seq, created_ms, updated_ms)",
        columns=f"substr('amz', i % 3 + 1, 1) || i, 'ann', 'closed', {OTHER_LINES}, 1, 1"),
        (chats,))
    conn.execute(OTHERS_SQL.format(
        table="events (conversation_id, seq, type, author, payload, ts_ms)",
        columns=f"substr('amz', i / {OTHER_LINES} % 3 + 1, 1) || (i / {OTHER_LINES}), "
                f"i % {OTHER_LINES} + 1, 'message', 'visitor', ?, 1"),
        (chats * OTHER_LINES, OTHER_LINE))


async def build(store: Store, n: int, other_chats: int) -> None:
    """The visitor's short chat "f1" and long chat "t5" (n events), indexed for search; with
    `other_chats`, a database holding others' too, its statistics up to date."""
    if other_chats:
        await store.write(partial(others, chats=other_chats))
    await store.upsert_visitor("v1", {"name": "Sara Jones", "email": "sara@example.org"}, T0)
    for cid in ("f1", "t5"):
        await store.create_conversation(cid, "v1", {
            "language": "en", "visitor_name": "Sara", "page_url": "https://shop.example/s"}, T0)
    await store.append("f1", [NewEvent("message", "visitor", {"text": "hello, Sara here"})],
                       now_ms=T0)
    events = list(chat(n))
    for start in range(0, n, GROUP):
        await store.append("t5", events[start:start + GROUP], now_ms=T0 + start)
    await index_waiting_lines(store)
    if other_chats:
        await store.write(lambda conn: conn.execute("ANALYZE"))


@contextmanager
def statements() -> Iterator[dict[str, list[float]]]:
    """(seconds, calls) per statement text run through any PgConnection or psycopg
    connection meanwhile (the writer's jobs and after_erase's VACUUMs)."""
    import psycopg

    from chatserver.store.postgres import PgConnection

    spent: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    patched = [(PgConnection, "execute"), (PgConnection, "executemany"),
               (psycopg.Connection, "execute")]
    originals = {(cls, name): getattr(cls, name) for cls, name in patched}

    def timed(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, sql: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(self, sql, *args, **kwargs)
            finally:
                entry = spent[" ".join(str(sql).split())[:110]]
                entry[0] += time.perf_counter() - start
                entry[1] += 1
        return call

    for (cls, name), original in originals.items():
        setattr(cls, name, timed(original))
    try:
        yield spent
    finally:
        for (cls, name), original in originals.items():
            setattr(cls, name, original)


async def one_size(n: int, postgres: bool, show: bool, other_chats: int) -> float:
    with scratch_database(postgres) as (location, _):
        store = Store(location)
        await store.open()
        try:
            await build(store, n, other_chats)
            with statements() if show and postgres else _nothing() as spent:
                started = time.perf_counter()
                erased = await erase_visitor(store, "v1", T0 + 10**7)
                wall = time.perf_counter() - started
            assert erased is not None and erased.events_scrubbed > 0.8 * n
        finally:
            await store.close()
    print(f"{n:>6} events: erase {wall:6.2f} s ({wall / n * 1e6:,.0f} µs an event)")
    for sql, (seconds, calls) in sorted((spent or {}).items(), key=lambda kv: -kv[1][0])[:8]:
        print(f"        {seconds:7.3f} s {calls:>6} calls  {sql}")
    return wall


@contextmanager
def _nothing() -> Iterator[dict[str, list[float]]]:
    yield {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,6000")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--others", type=int, default=0,
                        help="other visitors' chats of 100 lines in the database")
    parser.add_argument("--statements", action="store_true",
                        help="time each SQL statement (PostgreSQL only)")
    args = parser.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        asyncio.run(one_size(n, args.postgres, args.statements, args.others))


if __name__ == "__main__":
    main()
