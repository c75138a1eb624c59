"""The reports page on a year of a busy desk: 1 million events, about 78,000 conversations.

Generates the log into a temporary SQLite file with the real schema (`migrate_file`), or with
`--postgres` into a PostgreSQL database of its own (the real schema, loaded with COPY), shaped
like real traffic: a daily and weekly rhythm, half the chats answered by the bot alone, the rest
queued for 25 agents (some declined, transferred, abandoned), surveys on a third. Then times:

- reading the facts cold (one SQL pass + `facts_from_events`) and warm (the closed-chat cache),
- the report for the whole year (tiles, charts, per-agent table), median of 3 runs,
- the page and the JSON API for that year through the real app in-process (httpx ASGI).

    .venv/bin/python -m bench.reports_bench [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chatserver.store.postgres import PostgresBackend
from chatserver.store.sqlite import SqliteBackend
from chatserver.store.store import migrate_file

from .servers import PostgresDatabase, cpu_since, scratch_database

DAY_MS = 86_400_000
LANGS = [("en", 60), ("fa", 10), ("ar", 10), ("zh", 8), ("de", 7), ("es", 5)]
TOPICS = ["orders", "shipping", "returns", "billing", "accounts", "general"]
AGENTS = 25
# Share of chats per hour of the day (UTC): quiet nights, a morning and an afternoon peak.
HOURLY = [1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 10, 9, 10, 11, 10, 9, 8, 6, 5, 4, 3, 2, 1]
WEEKDAY = [1.15, 1.1, 1.1, 1.05, 1.0, 0.6, 0.5]  # Monday first: weekends are quieter
BOT_TITLES = ["Where is my order?", "Return an item", "Change my address",
              "Payment failed", "Reset my password", "Delivery times", "Refund status"]


class _Gen:
    """One conversation's events, each `gap` seconds after the last."""

    def __init__(self, cid: str, start_ms: int, rng: random.Random) -> None:
        self.cid, self.ts, self.rng = cid, start_ms, rng
        self.rows: list[tuple[Any, ...]] = []

    def add(self, kind: str, author: str, payload: dict[str, Any], gap: float = 0.0) -> None:
        self.ts += int(gap * 1000)
        self.rows.append((self.cid, len(self.rows) + 1, kind, author,
                          json.dumps(payload, ensure_ascii=False), None, self.ts))

    def visitor(self, gap: float) -> None:
        self.add("message", "visitor", {"from": "visitor", "author": "Visitor",
                                        "text": "I have a question about my order " * 2}, gap)

    def bot(self, decision: str, gap: float = 0.8) -> None:
        matches = [{"entry_id": self.rng.randint(1, 200), "title": t,
                    "score": round(self.rng.random(), 3)}
                   for t in self.rng.sample(BOT_TITLES, 3)]
        line: dict[str, Any] = {"from": "bot", "author": "Bot", "decision": decision,
                                "text": "Here is what I found about that. " * 3,
                                "matches": matches}
        if decision == "handoff":
            line["reason"] = "asked_for_human"
        self.add("message", "bot", line, gap)


def conversation(cid: str, start_ms: int, agents: list[tuple[int, str]],
                 rng: random.Random) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """The events of one chat and its conversations row."""
    lang = rng.choices([code for code, _ in LANGS], [w for _, w in LANGS])[0]
    topic = rng.choice(TOPICS)
    g = _Gen(cid, start_ms, rng)
    g.add("started", "system", {"language": lang, "topic": topic, "visitor_name": "Sam",
                                "page_url": "https://shop.example/checkout"})
    kind = rng.random()
    resolved = None
    agent_id: int | None = None
    if kind < 0.48:  # the bot answers, the visitor leaves
        for _ in range(rng.randint(1, 4)):
            g.visitor(rng.uniform(5, 60))
            g.bot(rng.choice(["answer", "answer", "suggest"]))
        g.add("closed", rng.choice(["visitor", "system"]), {"by": "visitor"},
              rng.uniform(10, 300))
        if rng.random() < 0.12:
            g.add("survey", "visitor", {"rating": rng.randint(2, 5)}, rng.uniform(3, 30))
    else:
        g.visitor(rng.uniform(5, 40))
        g.bot("handoff")
        skills = [topic, f"lang:{lang}"]
        queued = {"reason": rng.choice(["asked", "low_confidence"]), "skills": skills,
                  "language": lang}
        g.add("queued", "system", queued, 0.1)
        g.add("eta", "system", {"eta_seconds": rng.choice([20, 45, 60, 90, 120]),
                                "position": rng.randint(1, 6)}, 0.2)
        wait = rng.expovariate(1 / 45)
        if kind < 0.56:  # abandoned: the visitor gives up
            if rng.random() < 0.4:
                g.add("offered", "system", {"agent_id": rng.choice(agents)[0]}, wait / 2)
                g.add("queued", "system", dict(queued, reason="offer_expired"), 20)
            g.add("closed", "visitor", {"by": "visitor"}, rng.uniform(2, 240))
        else:
            agent_id, name = rng.choice(agents)
            if rng.random() < 0.08:  # one agent lets it go first
                other = rng.choice(agents)[0]
                g.add("offered", "system", {"agent_id": other}, wait / 2)
                g.add("queued", f"agent:{other}", dict(queued, reason="declined"), 6)
            g.add("offered", "system", {"agent_id": agent_id}, wait / 2)
            g.add("assigned", f"agent:{agent_id}", {"agent_id": agent_id, "agent": name},
                  rng.uniform(1, 12))
            for turn in range(rng.randint(3, 8)):
                if turn:
                    g.visitor(rng.uniform(10, 90))
                g.add("message", f"agent:{agent_id}",
                      {"from": "agent", "author": name, "text": "Let me check that for you."},
                      rng.expovariate(1 / 35))
            if rng.random() < 0.06:  # passed on to a colleague
                g.add("transferred", f"agent:{agent_id}",
                      {"from_agent": agent_id, "to_agent": None, "to_skill": topic, "note": ""},
                      5)
                g.add("queued", f"agent:{agent_id}", dict(queued, reason="transfer"), 0)
                agent_id, name = rng.choice(agents)
                g.add("offered", "system", {"agent_id": agent_id}, rng.uniform(2, 60))
                g.add("assigned", f"agent:{agent_id}", {"agent_id": agent_id, "agent": name}, 4)
                g.visitor(10)
                g.add("message", f"agent:{agent_id}", {"from": "agent", "author": name,
                                                       "text": "Hi, I can help."}, 25)
            if rng.random() < 0.1:
                g.add("note", f"agent:{agent_id}", {"from": "agent", "author": name,
                                                    "text": "follow up"}, 3)
            resolved = rng.random() < 0.8
            g.add("closed", f"agent:{agent_id}", {"by": "agent", "resolved": resolved},
                  rng.uniform(10, 120))
            if rng.random() < 0.35:
                good = rng.random() < 0.82
                g.add("survey", "visitor", {"rating": rng.randint(4, 5) if good
                                            else rng.randint(1, 3),
                                            "nps": rng.randint(8, 10) if good
                                            else rng.randint(0, 7)}, rng.uniform(3, 30))
    closed_ms = next(r[6] for r in g.rows if r[2] == "closed")
    row = (cid, "", "closed", agent_id, len(g.rows), lang, topic, "", start_ms, g.ts, closed_ms,
           None if resolved is None else int(resolved))
    return g.rows, row


def arrivals(end_ms: int, days: int, per_day: float, rng: random.Random) -> Iterator[int]:
    """Chat start times with the daily and weekly rhythm, in order, over whole UTC days
    ending with the one `end_ms` falls in (cut at `end_ms`)."""
    total = sum(HOURLY)
    start_ms = end_ms - end_ms % DAY_MS - (days - 1) * DAY_MS
    for day in range(days):
        day_ms = start_ms + day * DAY_MS
        weekday = datetime.fromtimestamp(day_ms / 1000, UTC).weekday()
        for hour, weight in enumerate(HOURLY):
            expected = per_day * WEEKDAY[weekday] * weight / total * rng.uniform(0.8, 1.2)
            n = int(expected + rng.random())  # rounded at random: small desks keep their chats
            for ms in sorted(rng.randrange(3_600_000) for _ in range(n)):
                if day_ms + hour * 3_600_000 + ms < end_ms:
                    yield day_ms + hour * 3_600_000 + ms


_CONVERSATION_COLUMNS = ("id", "visitor_id", "state", "agent_id", "last_seq", "language",
                         "topic", "page_url", "created_ms", "updated_ms", "closed_ms",
                         "resolved")
_EVENT_COLUMNS = ("conversation_id", "seq", "type", "author", "payload", "client_id", "ts_ms")
Batch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


def traffic(target_events: int, end: datetime, seed: int = 7) -> Iterator[Batch]:
    """A year (ending at `end`) of about `target_events` events, in batches of new
    (visitors, conversations, events) rows, each batch's rows only referring to its own or
    earlier ones. The agents are `AGENTS` users with ids 1.."""
    rng = random.Random(seed)
    now_ms = int(end.timestamp() * 1000)
    agents = [(i + 1, f"Agent {i + 1:02d}") for i in range(AGENTS)]
    days = 365
    per_day = target_events / 11.4 / days  # ~12.3 events a chat; 11.4 lands on the target
    visitors: list[str] = []
    batch: Batch = ([], [], [])
    for number, start in enumerate(arrivals(now_ms, days, per_day, rng)):
        # One visitor in five comes back: the repeat contacts first-contact resolution needs.
        if visitors and rng.random() < 0.2:
            visitor = rng.choice(visitors[-500:])
        else:
            visitor = f"v{len(visitors):06d}"
            visitors.append(visitor)
            batch[0].append((visitor, start, start))
        rows, row = conversation(f"c{number:07d}", start, agents, rng)
        batch[1].append((row[0], visitor, *row[2:]))
        batch[2].extend(rows)
        if len(batch[2]) > 50_000:
            yield batch
            batch = ([], [], [])
    yield batch


def _agent_rows() -> list[tuple[int, str, str]]:
    return [(i + 1, f"agent{i + 1}", f"Agent {i + 1:02d}") for i in range(AGENTS)]


def generate(path: Path, *, target_events: int, end: datetime, seed: int = 7) -> dict[str, int]:
    """Fill the SQLite file `path` with a year (ending at `end`) of about `target_events`
    events."""
    migrate_file(str(path))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO users (id, username, display_name, role, password_hash, created_ms) "
        "VALUES (?, ?, ?, 'agent', 'x', 0)", _agent_rows())
    sizes = {"events": 0, "conversations": 0, "visitors": 0}
    for visitors, conversations, events in traffic(target_events, end, seed):
        conn.executemany("INSERT INTO visitors (id, created_ms, last_seen_ms) VALUES (?, ?, ?)",
                         visitors)
        conn.executemany(f"INSERT INTO conversations ({', '.join(_CONVERSATION_COLUMNS)}) "
                         f"VALUES ({', '.join('?' * len(_CONVERSATION_COLUMNS))})",
                         conversations)
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", events)
        _count(sizes, visitors, conversations, events)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return sizes


def generate_postgres(url: str, *, target_events: int, end: datetime,
                      seed: int = 7) -> dict[str, int]:
    """The same year into the PostgreSQL database `url` (the real schema, then COPY)."""
    import psycopg

    PostgresBackend(url).migrate()
    sizes = {"events": 0, "conversations": 0, "visitors": 0}
    with psycopg.connect(url) as conn:
        # The rows are consistent by construction: skipping the foreign-key triggers makes
        # loading a million events minutes faster (a superuser setting, this session only).
        conn.execute("SET session_replication_role = replica")
        _copy(conn, "users (id, username, display_name, role, password_hash, created_ms)",
              [(*row, "agent", "x", 0) for row in _agent_rows()])
        for visitors, conversations, events in traffic(target_events, end, seed):
            _copy(conn, "visitors (id, created_ms, last_seen_ms)", visitors)
            _copy(conn, f"conversations ({', '.join(_CONVERSATION_COLUMNS)})", conversations)
            _copy(conn, f"events ({', '.join(_EVENT_COLUMNS)})", events)
            _count(sizes, visitors, conversations, events)
        conn.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), %s)", (AGENTS,))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # statistics and the visibility map, as a live desk has
    return sizes


def _copy(conn: Any, target: str, rows: list[tuple[Any, ...]]) -> None:
    with conn.cursor().copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _count(sizes: dict[str, int], *batch: list[Any]) -> None:
    for key, rows in zip(("visitors", "conversations", "events"), batch, strict=True):
        sizes[key] += len(rows)


def timed(runs: int, step: Callable[[], Any],
          database: PostgresDatabase | None = None) -> tuple[float, float]:
    """Median wall and CPU seconds of `runs` calls. CPU is this process's own (every thread)
    plus, on PostgreSQL, that of the backends serving `database`: on a shared machine the wall
    time also counts other processes' turns."""
    wall, cpu = [], []
    for _ in range(runs):
        db0 = database.backend_cpu() if database else {}
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start)
        db = cpu_since(db0, database.backend_cpu()) if database else 0.0
        cpu.append(time.process_time() - start_cpu + db)
    return statistics.median(wall), statistics.median(cpu)


async def _through_app(db: str, query: str, runs: int) -> dict[str, float]:
    """The page and the API via the real app in-process: first load, then median of `runs`.
    `db`: the SQLite file, or the PostgreSQL database's URL."""
    import httpx

    from chatserver.config import load
    from chatserver.passwords import hash_password
    from chatserver.web.app import create_app

    conn = _backend(db).writer_connection()  # autocommit on both backends
    try:
        conn.execute("INSERT INTO users (username, display_name, role, password_hash, "
                     "created_ms) VALUES ('boss', 'Boss', 'supervisor', ?, 0)",
                     (hash_password("bench-password"),))
    finally:
        conn.close()
    storage = ({"CHATSERVER_STORAGE_BACKEND": "postgres", "CHATSERVER_STORAGE_URL": db}
               if _is_url(db) else {"CHATSERVER_STORAGE_PATH": db})
    config = load(None, environ={**storage, "CHATSERVER_SERVER_SECRET_KEY": "b" * 64})
    app = create_app(config)
    out: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            r = await client.post("/login", data={"username": "boss",
                                                  "password": "bench-password"},
                                  headers={"accept": "application/json"})
            r.raise_for_status()
            for name, url in (("page", "/admin/reports?" + query),
                              ("api", "/api/reports?" + query)):
                wall, cpu = [], []
                for _ in range(runs + 1):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    response = await client.get(url)
                    wall.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
                    assert response.status_code == 200, response.text[:300]
                out[f"{name}_first_s"], out[f"{name}_first_cpu_s"] = wall[0], cpu[0]
                out[f"{name}_s"] = statistics.median(wall[1:])
                out[f"{name}_cpu_s"] = statistics.median(cpu[1:])
    return out


def _is_url(db: str) -> bool:
    return db.startswith("postgresql://")


def _backend(db: str) -> SqliteBackend | PostgresBackend:
    return PostgresBackend(db) if _is_url(db) else SqliteBackend(db)


def run(quick: bool = False, postgres: bool = False) -> dict[str, float]:
    """Every figure in seconds (and the data's size); `quick` is a week of a small desk.
    `postgres`: the same log in a PostgreSQL database, read by the same code. The CPU figures
    of the direct reads count the database's backends too; those through the app do not (it
    opens a connection per report, whose backend ends with it)."""
    from zoneinfo import ZoneInfo

    from chatserver.core.metrics_report import Thresholds
    from chatserver.reports.reports_aggregate import DayCache
    from chatserver.reports.reports_facts import FactsCache, gc_paused
    from chatserver.reports.reports_query import parse
    from chatserver.reports.reports_view import build

    target = 20_000 if quick else 1_000_000
    now = datetime.now(UTC)
    with scratch_database(postgres) as (db, database):
        start = time.perf_counter()
        fill = generate_postgres if postgres else generate
        sizes = fill(db, target_events=target, end=now)  # type: ignore[operator]
        figures: dict[str, float] = {**sizes, "generate_s": time.perf_counter() - start}
        tz = ZoneInfo(os.environ.get("CHATSERVER_DESK_TIMEZONE", "UTC"))
        today = now.astimezone(tz).date()
        query = parse({"from": (today - timedelta(days=364)).isoformat()}, today)
        now_ms = int(now.timestamp() * 1000)
        conn = _backend(db).read_only()
        try:
            cold = FactsCache()
            a, b = query.previous().bounds_ms(tz)[0], query.bounds_ms(tz)[1]
            figures["facts_cold_s"], figures["facts_cold_cpu_s"] = timed(
                1, lambda: cold.facts(conn, a, b), database)
            figures["facts_warm_s"], figures["facts_warm_cpu_s"] = timed(
                3, lambda: cold.facts(conn, a, b), database)
            days = DayCache()

            def report() -> dict[str, Any]:  # as `reports.compute` runs it
                with gc_paused():
                    counted = days.count(conn, query.previous().first, query.last,
                                         query.filters, Thresholds(), tz, now_ms)
                    return build(counted, query, names={}, timezone=str(tz))

            figures["report_cold_s"], figures["report_cold_cpu_s"] = timed(1, report, database)
            figures["report_warm_s"], figures["report_warm_cpu_s"] = timed(3, report, database)
        finally:
            conn.close()
        figures.update(asyncio.run(_through_app(db, query.query_string(), 3)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20,000 events instead of 1 M")
    parser.add_argument("--postgres", action="store_true",
                        help="the log in a PostgreSQL database of its own (created on "
                        "BENCH_POSTGRES_URL, default 127.0.0.1:5432, then dropped)")
    args = parser.parse_args()
    figures = run(args.quick, args.postgres)
    print(f"{'PostgreSQL' if args.postgres else 'SQLite'}: {figures['events']:,} events, "
          f"{figures['conversations']:,} conversations, {figures['visitors']:,} visitors "
          f"over 365 days (generated in {figures['generate_s']:.1f} s)")
    rows = [
        ("facts, cold (SQL + fold)", "facts_cold_s"),
        ("facts, warm (closed-chat cache)", "facts_warm_s"),
        ("year report, cold (facts + day tallies)", "report_cold_s"),
        ("year report, warm (median of 3)", "report_warm_s"),
        ("GET /admin/reports, first load", "page_first_s"),
        ("GET /admin/reports, warm (median of 3)", "page_s"),
        ("GET /api/reports, warm (median of 3)", "api_s"),
    ]
    print(f"{'a year of reports':<44} {'wall s':>8} {'CPU s':>8}")
    for label, key in rows:
        cpu = figures[key.removesuffix("_s") + "_cpu_s"]
        print(f"{label:<44} {figures[key]:>8.3f} {cpu:>8.3f}")


if __name__ == "__main__":
    main()
