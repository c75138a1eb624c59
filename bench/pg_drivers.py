"""asyncpg against psycopg 3 on the chat write path, to choose the PostgreSQL driver (issue 18).

Each job is what ``store.sqlite._append`` does for a visitor's line: the dedupe look-up by
client id, ``UPDATE conversations ... RETURNING last_seq``, ``INSERT INTO events``. Jobs run
in groups of 1, 10 or 100 per transaction, each in a savepoint when the group has company, as
``store_writer.Writer`` does. Figures per message: wall time, this process's CPU, and the
PostgreSQL backend's CPU (utime + stime from /proc: the server runs on this machine). Medians
over interleaved repetitions; a fresh database is created and dropped.

    .venv/bin/python -m bench.pg_drivers [--messages 20000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import psycopg

SERVER = "postgresql://postgres@127.0.0.1:5432/"
CONVERSATIONS = 200
BATCHES = (1, 10, 100)
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")  # /proc CPU figures are in clock ticks (10 ms)
SCHEMA = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, visitor_id TEXT NOT NULL, state TEXT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);
CREATE TABLE events (
    conversation_id TEXT NOT NULL REFERENCES conversations(id), seq BIGINT NOT NULL,
    type TEXT NOT NULL, author TEXT NOT NULL, payload TEXT NOT NULL, client_id TEXT,
    ts_ms BIGINT NOT NULL, PRIMARY KEY (conversation_id, seq));
CREATE UNIQUE INDEX events_client ON events(conversation_id, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX events_time ON events(ts_ms);
"""
DEDUPE = "SELECT seq, payload FROM events WHERE conversation_id = $1 AND client_id = $2"
BUMP = ("UPDATE conversations SET last_seq = last_seq + 1, updated_ms = $1 WHERE id = $2 "
        "RETURNING last_seq")
INSERT = ("INSERT INTO events (conversation_id, seq, type, author, payload, client_id, ts_ms) "
          "VALUES ($1, $2, 'message', 'visitor', $3, $4, $5)")


def pyformat(sql: str) -> str:
    """psycopg takes %s where asyncpg takes $n; the statements are written once."""
    for n in range(5, 0, -1):
        sql = sql.replace(f"${n}", "%s")
    return sql


PG_DEDUPE, PG_BUMP, PG_INSERT = pyformat(DEDUPE), pyformat(BUMP), pyformat(INSERT)


@dataclass(frozen=True)
class Line:
    """One visitor line: the job's inputs."""

    conversation_id: str
    client_id: str
    payload: str
    ts_ms: int


def lines(count: int) -> list[Line]:
    """``count`` lines spread round-robin over the conversations, ~120-byte JSON payloads."""
    ids = [uuid.uuid4().hex for _ in range(CONVERSATIONS)]
    text = "Hello, my order has not arrived yet and the tracking page says nothing at all"
    return [Line(ids[i % CONVERSATIONS], uuid.uuid4().hex,
                 json.dumps({"text": f"{text} #{i}", "format": "plain"}), 1_700_000_000_000 + i)
            for i in range(count)]


def backend_cpu_us(pid: int) -> float:
    """user + system CPU of a PostgreSQL backend so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_US  # utime, stime (fields 14 and 15)


class Clock:
    """Wall time, this process's CPU and the backend's CPU over the timed loop, in µs.

    Read while the connection is open: the backend's /proc entry goes with it."""

    def __init__(self, backend_pid: int) -> None:
        self.pid = backend_pid
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.server = backend_cpu_us(backend_pid)

    def stop(self) -> dict[str, float]:
        return {"wall": (time.perf_counter() - self.wall) * 1e6,
                "client": (time.process_time() - self.cpu) * 1e6,
                "server": backend_cpu_us(self.pid) - self.server}


def groups(work: list[Line], size: int) -> list[list[Line]]:
    return [work[i:i + size] for i in range(0, len(work), size)]


# --- the four drivers: each runs every group of lines in its own transaction ---------------

def psycopg_job(cur: psycopg.Cursor[Any], line: Line) -> int:
    """The job as the writer thread would run it, on psycopg's sync connection."""
    cur.execute(PG_DEDUPE, (line.conversation_id, line.client_id))
    if cur.fetchone() is not None:
        raise AssertionError("no line is sent twice here")
    cur.execute(PG_BUMP, (line.ts_ms, line.conversation_id))
    found = cur.fetchone()
    if found is None:
        raise KeyError(line.conversation_id)
    cur.execute(PG_INSERT, (line.conversation_id, found[0], line.payload, line.client_id,
                            line.ts_ms))
    return int(found[0])


def psycopg_group(conn: psycopg.Connection[Any], group: list[Line],
                  pipeline: psycopg.Pipeline | None = None) -> None:
    """BEGIN, each job in a savepoint when the group has company, COMMIT: ``Writer._commit``.

    In a pipeline a job's failure would surface in the next job's fetch and abort the rest
    of the pipeline; a sync after each job keeps the failure its own, as savepoints promise."""
    isolate = len(group) > 1
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        for line in group:
            if isolate:
                cur.execute("SAVEPOINT job")
            psycopg_job(cur, line)
            if isolate:
                cur.execute("RELEASE job")
                if pipeline is not None:
                    pipeline.sync()
        cur.execute("COMMIT")


def run_psycopg(url: str, work: list[Line], size: int, pipeline: bool) -> dict[str, float]:
    """Sync psycopg, plain or with the group in one pipeline (statements whose result the
    job needs still wait for it: the seq comes back from the UPDATE)."""
    with psycopg.connect(url, autocommit=True) as conn:
        clock = Clock(conn.info.backend_pid)
        for group in groups(work, size):
            if pipeline:
                with conn.pipeline() as pipe:
                    psycopg_group(conn, group, pipe)
            else:
                psycopg_group(conn, group)
        return clock.stop()


async def run_psycopg_async(url: str, work: list[Line], size: int) -> dict[str, float]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        clock = Clock(conn.info.backend_pid)
        for group in groups(work, size):
            isolate = len(group) > 1
            async with conn.cursor() as cur:
                await cur.execute("BEGIN")
                for line in group:
                    if isolate:
                        await cur.execute("SAVEPOINT job")
                    await psycopg_async_job(cur, line)
                    if isolate:
                        await cur.execute("RELEASE job")
                await cur.execute("COMMIT")
        return clock.stop()


async def psycopg_async_job(cur: psycopg.AsyncCursor[Any], line: Line) -> int:
    await cur.execute(PG_DEDUPE, (line.conversation_id, line.client_id))
    if await cur.fetchone() is not None:
        raise AssertionError("no line is sent twice here")
    await cur.execute(PG_BUMP, (line.ts_ms, line.conversation_id))
    found = await cur.fetchone()
    if found is None:
        raise KeyError(line.conversation_id)
    await cur.execute(PG_INSERT, (line.conversation_id, found[0], line.payload, line.client_id,
                                  line.ts_ms))
    return int(found[0])


async def run_asyncpg(url: str, work: list[Line], size: int) -> dict[str, float]:
    """asyncpg's own way: its statement cache, nested ``transaction()`` for savepoints."""
    conn = await asyncpg.connect(url)
    try:
        clock = Clock(conn.get_server_pid())
        for group in groups(work, size):
            isolate = len(group) > 1
            async with conn.transaction():
                for line in group:
                    if isolate:
                        async with conn.transaction():  # a SAVEPOINT, released on exit
                            await asyncpg_job(conn, line)
                    else:
                        await asyncpg_job(conn, line)
        return clock.stop()
    finally:
        await conn.close()


async def asyncpg_job(conn: asyncpg.Connection, line: Line) -> int:
    """Arguments make asyncpg prepare each statement once and keep it in its cache."""
    if await conn.fetchrow(DEDUPE, line.conversation_id, line.client_id) is not None:
        raise AssertionError("no line is sent twice here")
    seq = await conn.fetchval(BUMP, line.ts_ms, line.conversation_id)
    if seq is None:
        raise KeyError(line.conversation_id)
    await conn.execute(INSERT, line.conversation_id, seq, line.payload, line.client_id,
                       line.ts_ms)
    return int(seq)


Runner = Callable[[str, list[Line], int], dict[str, float]]
VARIANTS: dict[str, Runner] = {
    "psycopg sync": lambda url, w, n: run_psycopg(url, w, n, pipeline=False),
    "psycopg sync pipeline": lambda url, w, n: run_psycopg(url, w, n, pipeline=True),
    "asyncpg": lambda url, w, n: asyncio.run(run_asyncpg(url, w, n)),
    "psycopg async": lambda url, w, n: asyncio.run(run_psycopg_async(url, w, n)),
}


def reset(url: str, work: list[Line]) -> None:
    """Empty tables and fresh conversation rows, so every run starts from the same state."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE events, conversations")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO conversations (id, visitor_id, state, created_ms, updated_ms) "
                "VALUES (%s, %s, 'bot', 0, 0)",
                [(cid, cid) for cid in dict.fromkeys(line.conversation_id for line in work)])
        conn.execute("VACUUM ANALYZE conversations")
        conn.execute("CHECKPOINT")  # no run pays for the previous one's dirty pages


def check(url: str, work: list[Line]) -> None:
    """Every line stored once, seqs 1..n without gaps in each conversation."""
    with psycopg.connect(url) as conn:
        stored, gaps = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE c.last_seq != e.n) FROM "
            "(SELECT conversation_id, count(*) AS n FROM events GROUP BY 1) e "
            "JOIN conversations c ON c.id = e.conversation_id").fetchone() or (0, 0)
        total = conn.execute("SELECT count(*) FROM events").fetchone()
    if total != (len(work),) or gaps:
        raise AssertionError(f"stored {total}, {gaps} conversations with gaps of {stored}")


def measure(url: str, work: list[Line], variant: str, size: int) -> dict[str, float]:
    reset(url, work)
    return {k: v / len(work) for k, v in VARIANTS[variant](url, work, size).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    name = f"bench_pgdrivers_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER + "postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = SERVER + name
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
        work = lines(args.messages)
        samples: dict[tuple[int, str], list[dict[str, float]]] = {}
        for _ in range(args.reps):  # interleaved: drift in the machine hits every variant
            for size in BATCHES:
                for variant in VARIANTS:
                    samples.setdefault((size, variant), []).append(
                        measure(url, work, variant, size))
                    check(url, work)
        print(f"{args.messages:,} lines over {CONVERSATIONS} conversations, "
              f"median of {args.reps}, per message")
        print(f"{'jobs/txn':>8} {'driver':<22} {'wall us':>9} {'client CPU us':>14} "
              f"{'server CPU us':>14}")
        for (size, variant), runs in samples.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"{size:>8} {variant:<22} {med['wall']:>9.1f} {med['client']:>14.1f} "
                  f"{med['server']:>14.1f}")
    finally:
        with psycopg.connect(SERVER + "postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
