"""The PostgreSQL benchmarks cannot rot: the scenarios run end to end at the tiny scale, the
database's CPU is really measured, the bench databases are dropped, and the reports benchmark
reads the same facts from a PostgreSQL log as from the SQLite one (not a timing test).

Skipped, saying why, where PostgreSQL does not answer at 127.0.0.1:5432 (or
BENCH_POSTGRES_URL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.__main__ import run
from bench.reports_bench import generate, generate_postgres
from bench.scenarios.scale import SCALES
from bench.servers import POSTGRES_ADMIN, PostgresDatabase, RedisServer, cpu_since
from chatserver.reports.reports_facts import FactsCache
from chatserver.store.postgres import PostgresBackend
from chatserver.store.sqlite import SqliteBackend

_BENCH_NAME = re.compile(r"bench_[0-9a-f]{16}")  # PostgresDatabase's names, nobody else's


@pytest.fixture(autouse=True)
def _postgres() -> None:
    reason = PostgresDatabase.unavailable()
    if reason:
        pytest.skip(reason)


def _bench_databases() -> set[str]:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN) as conn:
        names = conn.execute("SELECT datname FROM pg_database").fetchall()
    return {name for (name,) in names if _BENCH_NAME.fullmatch(name)}


def test_backend_cpu_counts_what_a_connection_to_the_database_costs() -> None:
    import psycopg

    database = PostgresDatabase()
    try:
        database.create()
        with psycopg.connect(database.url) as conn:
            before = database.backend_cpu()
            assert conn.info.backend_pid in before
            conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
            spent = cpu_since(before, database.backend_cpu())
        assert spent >= 0.05  # 3 M rows counted: several hundred ms on any machine
    finally:
        database.drop()
    assert database.name not in _bench_databases()


def test_pg_conversations_runs_at_tiny_scale_and_drops_its_database(tmp_path: Path) -> None:
    before = _bench_databases()
    results = run(SCALES["tiny"], only=["pg_conversations"], out=tmp_path, micro=False)
    scenario = results["scenarios"]["pg_conversations"]
    assert "summary" in scenario, scenario
    assert [s["server"] for s in scenario["slices"]] == ["postgres", "sqlite"]
    for s in scenario["slices"]:
        assert 0 < s["sent"] <= 20 and s["lost_or_late"] == 0, s
        assert s["total_cpu_us_per_msg"] >= s["cpu_us_per_msg"] > 0, s
    [sqlite] = [s for s in scenario["slices"] if s["server"] == "sqlite"]
    assert sqlite["db_cpu_pct"] == 0 and sqlite["total_cpu_us_per_msg"] == sqlite[
        "cpu_us_per_msg"]
    assert "| pg_conversations | latency_p99_ms |" in (tmp_path / "latest.md").read_text()
    assert _bench_databases() <= before


@pytest.mark.redis
def test_pg_two_process_runs_at_tiny_scale(tmp_path: Path) -> None:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed: pg_two_process needs its own")
    before = _bench_databases()
    results = run(SCALES["tiny"], only=["pg_two_process"], out=tmp_path, micro=False)
    scenario = results["scenarios"]["pg_two_process"]
    assert "summary" in scenario, scenario
    assert [s["processes"] for s in scenario["slices"]] == [1, 2]
    for ramp in scenario["slices"]:
        assert ramp["sustained_per_s"] > 0, ramp
        for step in ramp["ramp"]:
            assert 0 < step["sent"] <= 20 and step["lost_or_late"] == 0, step
    assert _bench_databases() <= before


def test_reports_read_the_same_facts_from_either_backend(tmp_path: Path) -> None:
    """The same generated log in SQLite and in PostgreSQL (COPY) folds to the same facts."""
    end = datetime(2026, 6, 1, tzinfo=UTC)
    path = str(tmp_path / "chat.db")
    sizes = generate(Path(path), target_events=5000, end=end)
    database = PostgresDatabase()
    try:
        database.create()
        assert generate_postgres(database.url, target_events=5000, end=end) == sizes
        start, stop = 0, int(end.timestamp() * 1000) + 1
        found = {}
        for name, backend in (("sqlite", SqliteBackend(path)),
                              ("postgres", PostgresBackend(database.url))):
            conn = backend.read_only()
            try:
                found[name] = FactsCache().facts(conn, start, stop)
            finally:
                conn.close()
    finally:
        database.drop()
    assert len(found["sqlite"]) == sizes["conversations"] > 100
    assert found["postgres"] == found["sqlite"]
