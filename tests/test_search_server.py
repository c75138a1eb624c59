"""Search against the real server, on SQLite and PostgreSQL alike: text in four scripts, each
filter, snippets, pages, bad parameters, who may see what, and that erased, purged and
pre-existing lines are handled (docs/console.md, "Search")."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatserver.config import RetentionConfig
from chatserver.privacy import data_rights, retention
from chatserver.store import search_index
from chatserver.store.postgres import connect as pg_connect
from chatserver.store.schema import MIGRATIONS as SQLITE_MIGRATIONS
from chatserver.store.schema_postgres import MIGRATIONS as PG_MIGRATIONS
from chatserver.store.store import NewEvent, Store

from .databases import BACKENDS, db_location, location
from .harness import PASSWORD, Server, add_user, sql, visitor

__all__ = ["db_location"]  # the fixture: each test below runs on SQLite and PostgreSQL
DAY = 86_400_000
T0 = 1_772_323_200_000  # 2026-03-01 00:00 UTC
# id: (visitor id, name, email, day after T0, agent, rating, labels, lines)
CHATS: dict[str, tuple[str, str, str, int, str | None, int | None, tuple[str, ...],
                       tuple[str, ...]]] = {
    "c-fa": ("v-sara", "Sara Ahmadi", "sara@example.com", 0, "ann", 5, ("billing",),
             ("سلام، می‌خواهم سفارش ۴۷۱۱ را پیگیری کنم", "Your order 4711 ships tomorrow")),
    "c-ar": ("v-omar", "Omar Haddad", "omar@example.com", 1, "bob", 2, ("billing", "urgent"),
             ("كيف يمكنني استرداد المبلغ للطلب رقم 4711؟",)),
    "c-zh": ("v-li", "Li Wei", "li@example.cn", 2, "ann", 4, (),
             ("我要退款，订单号是4711",)),
    "c-en": ("v-sara", "Sara Ahmadi", "sara@example.com", 3, None, None, (),
             ("Where is my REFUND? Order #4711", "<b>not bold</b> & co")),
}
PAGED = 23  # conversations holding "pagination": more than one page of 20


async def seed(where: str, agents: dict[str, int]) -> None:
    """The desk's history, written through the store as the server writes it."""
    store = Store(where)
    await store.open()
    try:
        await store.write(lambda conn: conn.executemany(
            "INSERT INTO labels (name, name_key, colour, created_ms) "
            "VALUES (?, ?, '#336699', ?)", [("billing", "billing", T0), ("urgent", "urgent", T0)]))
        for cid, (vid, name, email, day, agent, rating, labels, lines) in CHATS.items():
            start = T0 + day * DAY + 3_600_000
            await store.upsert_visitor(vid, {"name": name, "email": email}, start)
            await store.create_conversation(cid, vid, {"language": "en"}, start)
            if agent:
                await store.append(cid, [NewEvent("assigned", f"agent:{agents[agent]}", {
                    "agent_id": agents[agent], "agent": agent.title()})], now_ms=start + 1)
            for i, text in enumerate(lines):
                who = "visitor" if i % 2 == 0 else "agent"
                await store.append(cid, [NewEvent("message", who, {
                    "from": who, "author": name if who == "visitor" else "Ann", "text": text})],
                    now_ms=start + 10 + i)
            for label in labels:
                await store.write(lambda conn, cid=cid, label=label: conn.execute(
                    "INSERT INTO conversation_labels (conversation_id, label_id, added_ms) "
                    "SELECT ?, id, ? FROM labels WHERE name = ?", (cid, T0, label)))
            await store.append(cid, [NewEvent("closed", "system", {
                "by": "agent", "resolved": True})], now_ms=start + 100)
            if rating:
                await store.append(cid, [NewEvent("survey", "visitor", {"rating": rating})],
                                   now_ms=start + 200)
        await store.upsert_visitor("v-many", {"name": "Many"}, T0)
        for n in range(PAGED):
            cid, start = f"p-{n:02d}", T0 + 10 * DAY + n * 60_000
            await store.create_conversation(cid, "v-many", {"language": "en"}, start)
            await store.append(cid, [NewEvent("message", "visitor", {
                "from": "visitor", "author": "Many", "text": f"pagination test {n}"})],
                now_ms=start + 1)
    finally:
        await store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"search-{request.param}")
    with location(request.param, folder) as where:
        add_user(where, "root", "admin")
        add_user(where, "sue", "supervisor")
        agents = {name: add_user(where, name, "agent") for name in ("ann", "bob")}
        asyncio.run(seed(where, agents))
        server = Server(folder, database=where).start()
        try:
            yield server
        finally:
            stopped(server)


SESSIONS: dict[tuple[str, str], tuple[httpx.Client, str]] = {}


def session(server: Server, username: str) -> tuple[httpx.Client, str]:
    """A logged-in client and its CSRF token, one per server and user (closed with the
    server: logging in hashes a password)."""
    key = (server.url, username)
    if key not in SESSIONS:
        client = httpx.Client(base_url=server.url)
        answer = client.post("/login", data={"username": username, "password": PASSWORD},
                             headers={"accept": "application/json"})
        assert answer.status_code == 200, answer.text
        SESSIONS[key] = (client, answer.json()["csrf_token"])
    return SESSIONS[key]


def stopped(server: Server) -> None:
    server.stop()
    for key in [k for k in SESSIONS if k[0] == server.url]:
        SESSIONS.pop(key)[0].close()
    assert "Traceback" not in server.log.read_text()


def found(server: Server, user: str = "sue", **params: str) -> list[str]:
    """The ids a search answers, in order (one page)."""
    client, _ = session(server, user)
    answer = client.get("/api/search", params=params)
    assert answer.status_code == 200, answer.text
    return [c["id"] for c in answer.json()["conversations"]]


@pytest.mark.parametrize(("q", "expected"), [
    ("میخواهم", {"c-fa"}),  # typed without the ZWNJ the line has
    ("می خواهم", {"c-fa"}),
    ("کیف", {"c-ar"}),  # Persian keheh and yeh find the Arabic kaf and yeh
    ("طلب", {"c-ar"}),  # the Arabic article and a preposition folded off للطلب
    ("退款", {"c-zh"}),  # two characters inside 我要退款, no spaces
    ("订单", {"c-zh"}),
    ("refund", {"c-en"}),
    ("REFUND", {"c-en"}),
    ("refu", {"c-en"}),  # the last word as a prefix
    ("4711", {"c-fa", "c-ar", "c-zh", "c-en"}),  # ۴۷۱۱, 4711؟, 是4711 and #4711
    ("#4711", {"c-fa", "c-ar", "c-zh", "c-en"}),
    ('"4711"', {"c-fa", "c-ar", "c-zh", "c-en"}),
    ("order 4711", {"c-fa", "c-en"}),  # every word, in any of the conversation's lines
    ("refund 4711", {"c-en"}),
    ("nowhere", set()),
])
def test_text_in_four_scripts_finds_the_same_conversations(
        desk: Server, q: str, expected: set[str]) -> None:
    assert set(found(desk, q=q)) == expected


@pytest.mark.parametrize(("params", "expected"), [
    ({"visitor": "sara"}, {"c-fa", "c-en"}),
    ({"visitor": "SARA AHMADI"}, {"c-fa", "c-en"}),
    ({"visitor": "example.cn"}, {"c-zh"}),
    ({"visitor": "50%"}, set()),  # % and _ are letters here, not wildcards
    ({"agent": "ann"}, {"c-fa", "c-zh"}),
    ({"agent": "BOB"}, {"c-ar"}),
    ({"label": "billing"}, {"c-fa", "c-ar"}),
    ({"label": "Urgent"}, {"c-ar"}),
    ({"rating": "5"}, {"c-fa"}),
    ({"rating": "2"}, {"c-ar"}),
    ({"from": "2026-03-02", "to": "2026-03-03"}, {"c-ar", "c-zh"}),
    ({"to": "2026-03-01"}, {"c-fa"}),
    ({"q": "4711", "agent": "bob"}, {"c-ar"}),
    ({"q": "4711", "label": "billing", "rating": "5"}, {"c-fa"}),
    ({"q": "4711", "from": "2026-03-03"}, {"c-zh", "c-en"}),
])
def test_each_filter_alone_and_with_text(desk: Server, params: dict[str, str],
                                         expected: set[str]) -> None:
    assert set(found(desk, **params)) == expected


def test_a_result_says_who_when_and_how_with_marked_snippets(desk: Server) -> None:
    client, _ = session(desk, "root")
    answer = client.get("/api/search", params={"q": "4711", "agent": "ann"})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    by_id = {c["id"]: c for c in answer.json()["conversations"]}
    fa, zh = by_id["c-fa"], by_id["c-zh"]
    assert fa["visitor"] == {"name": "Sara Ahmadi", "email": "sara@example.com"}
    assert (fa["agent"], fa["rating"], fa["state"]) == ("Ann", 5, "closed")
    assert fa["labels"] == [{"name": "billing", "colour": "#336699"}]
    assert fa["started_ms"] == T0 + 3_600_000
    hits = [[s["text"] for s in snippet if s["hit"]] for snippet in fa["snippets"]]
    assert hits == [["۴۷۱۱"], ["4711"]]  # the digits as the visitor wrote them
    assert [[s["text"] for s in snippet if s["hit"]] for snippet in zh["snippets"]] == [["4711"]]
    chinese = found_one(desk, q="退款")["snippets"]
    assert chinese == [[{"text": "我要", "hit": False}, {"text": "退款", "hit": True},
                        {"text": "，订单号是4711", "hit": False}]]


def found_one(server: Server, **params: str) -> dict[str, Any]:
    client, _ = session(server, "sue")
    (one,) = client.get("/api/search", params=params).json()["conversations"]
    return dict(one)


def test_snippets_are_text_never_html(desk: Server) -> None:
    one = found_one(desk, q="bold")
    assert one["snippets"] == [[{"text": "<b>not ", "hit": False}, {"text": "bold", "hit": True},
                                {"text": "</b> & co", "hit": False}]]


def test_filters_alone_show_the_first_visitor_line(desk: Server) -> None:
    one = found_one(desk, rating="4")
    assert one["snippets"] == [[{"text": "我要退款，订单号是4711", "hit": False}]]


def test_pages_go_newest_first_without_repeats(desk: Server) -> None:
    client, _ = session(desk, "sue")
    first = client.get("/api/search", params={"q": "pagination"}).json()
    assert len(first["conversations"]) == 20 and first["next_cursor"]
    second = client.get("/api/search", params={"q": "pagination",
                                               "cursor": first["next_cursor"]}).json()
    assert second["next_cursor"] is None
    ids = [c["id"] for c in first["conversations"] + second["conversations"]]
    assert ids == [f"p-{n:02d}" for n in reversed(range(PAGED))]
    started = [c["started_ms"] for c in first["conversations"] + second["conversations"]]
    assert started == sorted(started, reverse=True)


@pytest.mark.parametrize(("params", "message"), [
    ({"q": "x" * 201}, "q: at most 200 characters"),
    ({"q": "?!… ،؟"}, "q: give a word"),
    ({"rating": "6"}, "rating: a whole number from 1 to 5"),
    ({"rating": "-1"}, "rating"),
    ({"from": "2026-02-30"}, "from: 2026-02-30 is not a date"),
    ({"to": "03/01/2026"}, "to: a date as YYYY-MM-DD"),
    ({"from": "2026-03-04", "to": "2026-03-01"}, "from: must not be after to"),
    ({"cursor": "'; DROP TABLE events"}, "cursor"),
    ({"agent": "a" * 121}, "agent: at most 120 characters"),
    ({"sort": "oldest"}, "sort: not a search parameter"),
    ({"q": "a\x00b"}, "'q'"),
])
def test_bad_parameters_are_a_400_saying_which(desk: Server, params: dict[str, str],
                                              message: str) -> None:
    client, _ = session(desk, "sue")
    answer = client.get("/api/search", params=params)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["message"]
    assert client.get("/api/search", params={"q": "refund"}).status_code == 200


def test_who_may_search_what(desk: Server) -> None:
    assert httpx.get(desk.url + "/api/search", params={"q": "4711"}).status_code == 401
    everyone = {"c-fa", "c-ar", "c-zh", "c-en"}
    assert set(found(desk, "root", q="4711")) == set(found(desk, "sue", q="4711")) == everyone
    assert set(found(desk, "ann", q="4711")) == {"c-fa", "c-zh"}  # an agent: their own chats
    assert set(found(desk, "bob", q="4711")) == {"c-ar"}
    assert found(desk, "ann", agent="bob") == []
    page = httpx.get(desk.url + "/console/search", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    client, _ = session(desk, "ann")
    page = client.get("/console/search")
    assert page.status_code == 200 and 'href="/console/search"' in page.text
    assert "<script>" not in page.text  # scripts come from files (strict CSP)


@pytest.mark.anyio
async def test_a_live_line_is_found_and_an_erased_visitor_is_not(desk: Server) -> None:
    client = await visitor(desk, name="Zed Quill", language="en")
    try:
        ack = await client.request("message", text="the purple giraffe ate my parcel")
        assert ack["type"] == "ack"
        card = await client.request("message", text="card 4111 1111 1111 1111 giraffe")
        assert card["type"] == "ack"
    finally:
        await client.ws.close()
    cid = ack["conversation_id"]
    assert found(desk, q="giraffe") == [cid]
    assert found(desk, q="4111") == []  # the line is indexed as stored: the card masked
    assert found(desk, q="1111 giraffe") == [cid]  # the last four digits are kept
    assert found(desk, visitor="zed quill") == [cid]
    ((vid,),) = sql(desk.db, "SELECT visitor_id FROM conversations WHERE id = ?", (cid,))
    admin, csrf = session(desk, "root")
    answer = admin.post(f"/api/privacy/visitors/{vid}/erase", headers={"x-csrf-token": csrf})
    assert answer.status_code == 200, answer.text
    assert found(desk, q="giraffe") == found(desk, visitor="zed") == []
    assert found(desk, q="parcel") == []
    assert sql(desk.db, "SELECT count(*) FROM search_lines WHERE conversation_id = ? AND "
                        "terms LIKE '%giraffe%'", (cid,)) == [(0,)]
    # The name's terms went with the name (a trigger of migration 11), in the same erasure.
    assert sql(desk.db, "SELECT term FROM visitor_terms WHERE visitor_id = ?", (vid,)) == []
    assert sql(desk.db, "SELECT search_key FROM visitors WHERE id = ?", (vid,)) in (
        [(None,)], [("",)])


def test_the_index_skips_the_tombstone_the_privacy_code_writes() -> None:
    assert search_index.TOMBSTONE == data_rights.TOMBSTONE


@pytest.mark.anyio
async def test_the_retention_purge_takes_old_lines_out_of_the_index(
        db_location: str, tmp_path: Path) -> None:
    where = db_location
    add_user(where, "sue", "supervisor")
    store = Store(where)
    await store.open()
    now = T0 + 400 * DAY
    try:
        for cid, start in (("old", T0), ("new", now - DAY)):
            await store.upsert_visitor(f"v-{cid}", {"name": cid}, start)
            await store.create_conversation(cid, f"v-{cid}", {}, start)
            await store.append(cid, [NewEvent("message", "visitor", {
                "from": "visitor", "author": cid, "text": "kumquat question"})], now_ms=start)
        server = Server(tmp_path, database=where).start()
        try:
            assert set(found(server, q="kumquat")) == {"old", "new"}
            await retention.purge(store, RetentionConfig(message_text_days=365), now,
                                  pause_s=0)
            assert found(server, q="kumquat") == ["new"]
        finally:
            stopped(server)
    finally:
        await store.close()


def old_desk(where: str) -> None:
    """A database at schema 10 (before search) holding a chat, as an upgrade finds it."""
    if where.startswith("postgresql://"):
        conn = pg_connect(where)
        try:
            conn.raw.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            for number, script in enumerate(PG_MIGRATIONS[:10], start=1):
                conn.raw.execute(script)
                conn.raw.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
        finally:
            conn.close()
    else:
        with sqlite3.connect(where) as db:
            for script in SQLITE_MIGRATIONS[:10]:
                db.executescript(script)
            db.execute("PRAGMA user_version = 10")
    sql(where, "INSERT INTO visitors (id, name, email, created_ms, last_seen_ms) "
               "VALUES ('v-old', 'Olde', '', ?, ?)", (T0, T0))
    sql(where, "INSERT INTO conversations (id, visitor_id, state, last_seq, created_ms, "
               "updated_ms) VALUES ('c-old', 'v-old', 'closed', 3, ?, ?)", (T0, T0))
    for seq, (kind, payload) in enumerate([
            ("message", {"from": "visitor", "author": "Olde", "text": "我要退款 please"}),
            ("closed", {"resolved": True}), ("survey", {"rating": 3})], start=1):
        sql(where, "INSERT INTO events (conversation_id, seq, type, author, payload, ts_ms) "
                   "VALUES ('c-old', ?, ?, 'visitor', ?, ?)",
            (seq, kind, json.dumps(payload, ensure_ascii=False), T0 + seq))


def test_a_database_from_before_search_is_indexed_at_start(db_location: str,
                                                          tmp_path: Path) -> None:
    where = db_location
    old_desk(where)
    add_user(where, "sue", "supervisor")  # migrates to the newest schema: 11
    server = Server(tmp_path, database=where).start()
    try:
        for _ in range(100):  # the backfill runs in the background after start
            if found(server, q="退款"):
                break
            time.sleep(0.05)
        assert found(server, q="退款") == ["c-old"]
        assert found(server, rating="3") == ["c-old"]  # the migration read the survey
        assert sql(where, "SELECT count(*) FROM meta WHERE key = 'search_backfill'") == [(0,)]
    finally:
        stopped(server)
