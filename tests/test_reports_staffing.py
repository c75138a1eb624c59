"""Staffing advice and the live ETA accuracy on /admin/reports: the pure fold, and the real
server over HTTP reading a seeded log (JSON, page and CSV), plus presence rows written by a real
agent socket."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from chatserver.config import DeskConfig
from chatserver.core.erlang import staff_for
from chatserver.core.staffing import hour_seconds, presence_intervals
from chatserver.reports.reports_csv import BOM
from chatserver.reports.reports_facts import FactsCache
from chatserver.reports.reports_staffing import staffing
from chatserver.store.store import backend_for, migrate_file

from .databases import db_location
from .harness import Server, add_user
from .store_rows import connection

__all__ = ["db_location"]

MONDAY_9 = int(datetime(2026, 1, 5, 9, tzinfo=UTC).timestamp() * 1000)  # a Monday, 09:00 UTC
RANGE = {"from": "2026-01-05", "to": "2026-01-11"}  # that week


def test_presence_intervals_and_hours_of_the_week() -> None:
    rows = [(1, 100, "online"), (1, 300, "away"), (1, 500, "online"), (2, 50, "offline"),
            (2, 150, "online"), (1, 400, "offline")]
    assert sorted(presence_intervals(rows, 0, 1000)) == [(1, 100, 300), (1, 500, 1000),
                                                           (2, 150, 1000)]
    assert presence_intervals(rows, 200, 250) == [(1, 200, 250), (2, 200, 250)]  # clipped
    seconds = hour_seconds(MONDAY_9 - 1_800_000, MONDAY_9 + 3_600_000, UTC)
    assert (seconds[8], seconds[9], sum(seconds)) == (1800.0, 3600.0, 5400.0)


def seed(db: Path | str) -> None:
    """Monday 09:00-10:00: 12 chats answered after 10 s and handled in 300 s (each shown an
    ETA of 15 s), 2 that left after 60 s; agent 1 online 08:30-10:30, agent 2 09:00-09:30.
    `db`: a SQLite file or a PostgreSQL URL."""
    migrate_file(str(db))
    with connection(str(db)) as conn:
        conn.execute("BEGIN")
        for n in range(14):
            cid, start = f"s{n:02d}", MONDAY_9 + n * 240_000
            answered = n < 12
            events: list[tuple[str, str, dict[str, Any], int]] = [
                ("started", "system", {"language": "en", "topic": ""}, start),
                ("queued", "system", {"reason": "asked", "skills": ["lang:en"],
                                      "language": "en"}, start + 1000),
                ("eta", "system", {"eta_seconds": 15, "position": 1}, start + 1000)]
            if answered:
                events += [("assigned", "agent:1", {"agent_id": 1, "agent": "Ana"}, start + 11_000),
                           ("closed", "agent:1", {"by": "agent", "resolved": True},
                            start + 311_000)]
            else:
                events.append(("closed", "visitor", {"by": "visitor"}, start + 61_000))
            conn.execute("INSERT INTO visitors (id, created_ms, last_seen_ms) VALUES (?, ?, ?)",
                         (f"v{n}", start, start))
            conn.execute(
                "INSERT INTO conversations (id, visitor_id, state, agent_id, last_seq, language, "
                "topic, page_url, created_ms, updated_ms, closed_ms, resolved) "
                "VALUES (?, ?, 'closed', ?, ?, 'en', '', '', ?, ?, ?, ?)",
                (cid, f"v{n}", 1 if answered else None, len(events), start, events[-1][3],
                 events[-1][3], 1 if answered else None))
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, NULL, ?)", [
                (cid, seq, kind, author, json.dumps(payload), ts)
                for seq, (kind, author, payload, ts) in enumerate(events, 1)])
        conn.executemany("INSERT INTO agent_presence VALUES (?, ?, ?)", [
            (1, MONDAY_9 - 1_800_000, "online"), (1, MONDAY_9 + 5_400_000, "offline"),
            (2, MONDAY_9, "online"), (2, MONDAY_9 + 1_800_000, "away")])
        conn.execute("COMMIT")


def test_staffing_read_from_either_backend(db_location: str) -> None:
    """The report's own reads (capacities, the log, presence) on each backend; the server
    tests below read the same seed over HTTP."""
    seed(db_location)
    with connection(db_location) as conn:
        conn.executemany("INSERT INTO users (username, display_name, role, password_hash, "
                         "capacity, created_ms) VALUES (?, ?, 'agent', 'x', ?, 0)",
                         [("ana", "Ana", 2), ("bo", "Bo", 3), ("cy", "Cy", 1)])
    start = MONDAY_9 - 9 * 3_600_000
    reader = backend_for(db_location).read_only()
    try:
        report = staffing(reader, FactsCache(), start, start + 7 * 86_400_000,
                          start + 8 * 86_400_000, UTC, DeskConfig())
    finally:
        reader.close()
    assert report["staffing"]["goal"]["concurrency"] == 2
    nine = report["staffing"]["hours"][9]
    assert (nine["requests"], nine["handle_s"], nine["patience_s"], nine["online"]) == (
        14, 300.0, 120.0, 1.5)
    assert report["eta_accuracy"]["count"] == 12


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory):
    server = Server(tmp_path_factory.mktemp("staffing"))
    add_user(server.db, "ana", skills={"lang:en": 5}, capacity=2)
    add_user(server.db, "sue", role="supervisor", capacity=2)
    seed(server.db)
    server.start()
    yield server
    server.stop()


def login(server: Server, username: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, cookies=server.login(username))


def test_the_api_gives_staffing_per_hour_of_the_week(desk: Server) -> None:
    with login(desk, "sue") as sue:
        report = sue.get("/api/reports", params=RANGE).json()
    staffing = report["staffing"]
    assert staffing["goal"] == {"answer_within_s": 20.0, "target": 0.8, "concurrency": 2}
    hours = staffing["hours"]
    assert len(hours) == 168 and hours[0]["label"] == "Mon 00:00"
    nine = hours[9]
    assert (nine["label"], nine["hours"], nine["requests"]) == ("Mon 09:00", 1, 14)
    assert nine["arrivals_per_hour"] == 14.0 and nine["handle_s"] == 300.0
    assert nine["patience_s"] == 120.0  # (12 x 10 s + 2 x 60 s) waited / 2 who left
    assert nine["erlang_c"] == staff_for(14 / 3600, 300.0, 20.0, 0.8, concurrency=2)
    assert nine["erlang_a"] == staff_for(14 / 3600, 300.0, 20.0, 0.8, concurrency=2,
                                         patience=120.0)
    assert nine["erlang_c"] >= 2  # 1.17 Erlangs on 2 slots would wait far too often
    assert (hours[8]["online"], nine["online"], hours[10]["online"]) == (0.5, 1.5, 0.5)
    assert hours[11]["online"] == 0 and hours[11]["requests"] == 0 and hours[11]["erlang_c"] == 0
    assert hours[24 + 9]["hours"] == 1 and hours[24 + 9]["requests"] == 0  # Tuesday 09:00
    # The live ETA: promised 15 s, waited 10 s: (15 - 10) / 10 = +50 % for each answered one.
    assert report["eta_accuracy"] == {"count": 12, "median_ape": 0.5, "within_30": 0.0,
                                      "median_bias": 0.5}


def test_the_csv_and_the_page_show_it(desk: Server) -> None:
    with login(desk, "sue") as sue:
        exported = sue.get("/admin/reports/staffing.csv", params=RANGE)
        page = sue.get("/admin/reports", params=RANGE)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert 'filename="staffing-2026-01-05-2026-01-11.csv"' in exported.headers[
        "content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text.removeprefix(BOM))))
    assert len(rows) == 168
    nine = rows[9]
    assert (nine["weekday"], nine["hour"], nine["requests"], nine["handle_s"],
            nine["patience_s"], nine["online_agents"]) == ("Mon", "9", "14", "300.0", "120.0",
                                                           "1.5")
    assert nine["needed_erlang_c"] == str(staff_for(14 / 3600, 300.0, 20.0, 0.8, concurrency=2))
    html = page.text
    assert page.status_code == 200 and 'id="staffing-table"' in html
    table = html.split('id="staffing-table"')[1].split("</table>")[0]
    assert table.count("<tr data-hour=") == 3  # 08:00, 09:00 and 10:00: the rest is empty
    assert '<tr data-hour="Mon 09:00"><th scope="row">Mon 09:00</th><td class="num">14.00' in table
    assert "Agents online and needed by hour of the week" in html
    assert 'id="eta-median-error">50.0%' in html and "Staffing CSV" in html


def test_a_real_agent_socket_writes_presence(desk: Server) -> None:
    cookie = "; ".join(f"{k}={v}" for k, v in desk.login("ana").items())
    since = int(time.time() * 1000) - 1000
    with connect(desk.ws + "/ws/agent", additional_headers={"Cookie": cookie}) as agent:
        agent.send(json.dumps({"type": "hello"}))
        agent.send(json.dumps({"type": "status", "status": "online"}))
        while json.loads(agent.recv(timeout=10))["type"] != "status":
            pass
        agent.send(json.dumps({"type": "status", "status": "away"}))
        while json.loads(agent.recv(timeout=10)).get("status") != "away":
            pass
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(desk.db) as conn:
            statuses = [s for (s,) in conn.execute(
                "SELECT status FROM agent_presence WHERE ts_ms >= ? ORDER BY rowid", (since,))]
        if statuses[-1:] == ["offline"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    # It starts away (a first login), goes online, away, and the socket closes: offline.
    assert statuses == ["away", "online", "away", "offline"]
