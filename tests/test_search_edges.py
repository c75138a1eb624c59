"""Search at its edges (found by the issue 19 review): noncharacters, case and letter variants
in the visitor and label filters, words spread over lines, the article in a prefix, upgraded
databases — against the real server, on SQLite and PostgreSQL alike (each test runs on both
through the backend-parametrised fixture)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatserver.store.store import NewEvent, Store

from .databases import BACKENDS, db_location, location
from .harness import PASSWORD, Server, add_user, sql, visitor

__all__ = ["db_location"]
T0 = 1_772_323_200_000  # 2026-03-01 00:00 UTC
# id: (visitor name, lines, label)
CHATS = {
    "c-elise": ("Élise Durand", ("bonjour",), "Über"),
    "c-dima": ("Дмитрий Иванов", ("privet",), None),
    "c-ali": ("علي رضايي", ("سلام",), None),  # typed on an Arabic keyboard: ي
    "c-split": ("Sam", ("I want a refund please", "my order number is 4711"), None),
    "c-book": ("Omar", ("أريد إلغاء الكتاب",), None),
}


async def seed(where: str, agents: dict[str, int]) -> None:
    store = Store(where)
    await store.open()
    try:
        await store.write(lambda conn: conn.execute(
            "INSERT INTO labels (name, name_key, colour, created_ms) "
            "VALUES ('Über', 'über', '#336699', ?)",
            (T0,)))
        for n, (cid, (name, lines, label)) in enumerate(CHATS.items()):
            start = T0 + n * 60_000
            await store.upsert_visitor(f"v-{cid}", {"name": name}, start)
            await store.create_conversation(cid, f"v-{cid}", {"language": "en"}, start)
            for i, text in enumerate(lines):
                await store.append(cid, [NewEvent("message", "visitor", {
                    "from": "visitor", "author": name, "text": text})], now_ms=start + 10 + i)
            if label:
                await store.write(lambda conn, cid=cid, label=label: conn.execute(
                    "INSERT INTO conversation_labels (conversation_id, label_id, added_ms) "
                    "SELECT ?, id, ? FROM labels WHERE name = ?", (cid, T0, label)))
        # Ann took the chat, then transferred it to Bob; it closed without saying by whom
        # (a closed event written before `by` was required).
        start = T0 + 3_600_000
        await store.upsert_visitor("v-moved", {"name": "Zoë Martin"}, start)
        await store.create_conversation("c-moved", "v-moved", {"language": "en"}, start)
        await store.append("c-moved", [NewEvent("assigned", f"agent:{agents[who]}", {
            "agent_id": agents[who], "agent": who.title()}) for who in ("ann", "bob")],
            now_ms=start + 1)
        await store.append("c-moved", [NewEvent("message", "visitor", {
            "from": "visitor", "author": "Zoë", "text": "transferred twice"})],
            now_ms=start + 2)
        await store.append("c-moved", [NewEvent("closed", "system", {})], now_ms=start + 3)
    finally:
        await store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"search-review-{request.param}")
    with location(request.param, folder) as where:
        add_user(where, "sue", "supervisor")
        agents = {who: add_user(where, who, "agent") for who in ("ann", "bob")}
        asyncio.run(seed(where, agents))
        server = Server(folder, database=where).start()
        try:
            yield server
        finally:
            server.stop()


def search(server: Server, **params: str) -> httpx.Response:
    """GET /api/search as the supervisor sue (a fresh login each time: simple, closed)."""
    with httpx.Client(base_url=server.url) as client:
        answer = client.post("/login", data={"username": "sue", "password": PASSWORD},
                             headers={"accept": "application/json"})
        assert answer.status_code == 200, answer.text
        return client.get("/api/search", params=params)


def found(server: Server, **params: str) -> list[str]:
    answer = search(server, **params)
    assert answer.status_code == 200, answer.text
    return [c["id"] for c in answer.json()["conversations"]]


# --- 1. U+FFFE / U+FFFF: a 500 on SQLite, and a line indexed differently on each backend ----

def test_a_noncharacter_inside_a_word_of_the_query_is_not_a_500(desk: Server) -> None:
    """words() keeps U+FFFF inside a token (category Cn), FTS5's unicode61 splits on it:
    the quoted term becomes a 2-token phrase, which detail=none refuses (OperationalError)."""
    answer = search(desk, q="order\uffff4711")
    assert answer.status_code in (200, 400), answer.text
    assert "Traceback" not in desk.log.read_text()


@pytest.mark.anyio
async def test_a_line_with_a_noncharacter_is_found_alike_on_both_backends(desk: Server) -> None:
    """A visitor may send U+FFFE in a line (frames refuse controls and surrogates only). The
    tokeniser's rule (and PostgreSQL) keeps 'parcel\\ufffeqzv' as one term; SQLite's FTS5
    indexes 'parcel' and 'qzv', so 'qzv' finds the chat on SQLite only."""
    client = await visitor(desk, name="Nina", language="en")
    try:
        ack = await client.request("message", text="my parcel\ufffeqzv is late")
        assert ack["type"] == "ack"
    finally:
        await client.ws.close()
    assert found(desk, q="late") == [ack["conversation_id"]]
    assert found(desk, q="qzv") == []  # the pure rule: Query.matches says no


# --- 2. visitor and label filters: "ignoring case" only for ASCII on SQLite ------------------

@pytest.mark.parametrize(("params", "expected"), [
    ({"visitor": "élise"}, ["c-elise"]),  # the name is Élise
    ({"visitor": "дмитрий"}, ["c-dima"]),  # the name is Дмитрий
    ({"label": "über"}, ["c-elise"]),  # the label is Über
])
def test_visitor_and_label_filters_ignore_case_in_every_script(
        desk: Server, params: dict[str, str], expected: list[str]) -> None:
    assert found(desk, **params) == expected


# --- 3. visitor filter: Persian / Arabic letter variants not folded -------------------------

@pytest.mark.parametrize("typed", ["علی", "علی رضایی"])  # Persian keyboard: ی
def test_the_visitor_filter_folds_yeh_like_the_text_search(desk: Server, typed: str) -> None:
    assert found(desk, visitor=typed) == ["c-ali"]


# --- 4. every word of the query in the conversation, not all in one line ------------------

def test_words_in_different_lines_of_one_chat_find_it(desk: Server) -> None:
    """docs/console.md: 'Every word of the query must be in the conversation's lines'."""
    assert found(desk, q="refund") == ["c-split"]
    assert found(desk, q="4711") == ["c-split"]
    assert found(desk, q="refund 4711") == ["c-split"]


# --- 5. the visitor filter as words: Latin diacritics, e-mail, several words -------------

@pytest.mark.parametrize(("typed", "expected"), [
    ("zoe", ["c-moved"]), ("ZOË mar", ["c-moved"]), ("martin zo", ["c-moved"]),
    ("zoe dur", []), ("oë", []),  # a word's beginning, not any part of it
])
def test_the_visitor_filter_finds_the_beginnings_of_the_names_words(
        desk: Server, typed: str, expected: list[str]) -> None:
    assert found(desk, visitor=typed) == expected


# --- builder's notes: earlier agents, a closed event without `by` ----------------------------

@pytest.mark.parametrize("agent", ["ann", "bob"])
def test_the_agent_filter_finds_a_chat_each_agent_had_before_a_transfer(
        desk: Server, agent: str) -> None:
    assert found(desk, agent=agent) == ["c-moved"]


def test_the_transcript_of_a_chat_closed_without_by_is_shown(desk: Server) -> None:
    with httpx.Client(base_url=desk.url) as client:
        client.post("/login", data={"username": "sue", "password": PASSWORD},
                    headers={"accept": "application/json"})
        answer = client.get("/api/conversations/c-moved/transcript")
    assert answer.status_code == 200, answer.text
    assert answer.json()["events"][-1]["type"] == "closed"
    assert "Traceback" not in desk.log.read_text()


# --- 5. as-you-type prefix: the Arabic article is folded off the line, not off the prefix -----

@pytest.mark.parametrize("typed", ["الكت"])  # الكتا (stem of 3) and الكتاب find it
def test_the_last_word_matches_as_a_prefix_with_the_arabic_article(desk: Server,
                                                                   typed: str) -> None:
    assert found(desk, q=typed) == ["c-book"]


# --- 6. the backfill of an old database indexes tombstones ---------------------------------

def test_backfill_does_not_index_erased_tombstones(db_location: str, tmp_path: Path) -> None:
    """A database from before search whose old lines the retention purge already tombstoned
    ('[erased]'): after the upgrade, 'erased' finds every such chat, while on a database
    that had search all along (forget_lines) it finds none."""
    from .test_search_server import old_desk

    where = db_location
    old_desk(where)
    sql(where, "INSERT INTO visitors (id, name, email, created_ms, last_seen_ms) "
               "VALUES ('v-gone', '', '', ?, ?)", (T0, T0))
    sql(where, "INSERT INTO conversations (id, visitor_id, state, last_seq, created_ms, "
               "updated_ms) VALUES ('c-gone', 'v-gone', 'closed', 1, ?, ?)", (T0, T0))
    sql(where, "INSERT INTO events (conversation_id, seq, type, author, payload, ts_ms) "
               "VALUES ('c-gone', 1, 'message', 'visitor', ?, ?)",
        (json.dumps({"from": "visitor", "author": "Visitor", "text": "[erased]"}), T0))
    add_user(where, "sue", "supervisor")
    server = Server(tmp_path, database=where).start()
    try:
        for _ in range(100):
            if found(server, q="退款"):
                break
            time.sleep(0.05)
        assert found(server, q="退款") == ["c-old"]  # the backfill ran
        assert found(server, q="erased") == []
    finally:
        server.stop()


# --- 7. snippets: found from the index, not by re-reading every line of each chat -----------
# (its speed is a row of bench/search_bench.py, "long chats": speed targets live in bench/)

LONG_LINE = ("Hello, I ordered a parcel last week and it has still not arrived, can you check "
             "it for me please? ")


@pytest.mark.anyio
async def test_the_snippet_of_a_long_chat_is_its_hit_past_the_400th_line(
        db_location: str, tmp_path: Path) -> None:
    """3 chats of 450 lines whose only hit is the last: the result shows that line (the
    snippets were looked for in the first 400 lines only)."""
    where = db_location
    add_user(where, "sue", "supervisor")
    store = Store(where)
    await store.open()
    try:
        await store.upsert_visitor("v-long", {"name": "Long"}, T0)
        for n in range(3):
            cid = f"long-{n:02d}"
            await store.create_conversation(cid, "v-long", {"language": "en"}, T0 + n)
            lines = [NewEvent("message", "visitor", {"from": "visitor", "author": "Long",
                                                     "text": f"{LONG_LINE}{i}"})
                     for i in range(449)]
            lines.append(NewEvent("message", "visitor", {"from": "visitor", "author": "Long",
                                                         "text": "refund please"}))
            await store.append(cid, lines, now_ms=T0 + 1000 + n)
    finally:
        await store.close()
    server = Server(tmp_path, database=where).start()
    try:
        answer = search(server, q="refund")
        assert answer.status_code == 200, answer.text
        chats = answer.json()["conversations"]
        assert [c["id"] for c in chats] == ["long-02", "long-01", "long-00"]
        assert all(c["snippets"] == [[{"text": "refund", "hit": True},
                                      {"text": " please", "hit": False}]] for c in chats)
    finally:
        server.stop()


# --- 8. lines indexed with an older Chinese folding (before OpenCC, issue 23) ---------------

@pytest.mark.anyio
async def test_lines_indexed_before_opencc_are_found_by_todays_queries(
        db_location: str, tmp_path: Path) -> None:
    """Before OpenCC a table of 758 characters folded Chinese: 帐 (simplified, common in
    帐号) and 傘 stayed as written, and an upgraded database keeps those terms. Today a query
    folds them to 账 and 伞, so typing the very words of an old line (or its visitor's
    name) found nothing until the start-up re-indexed what folds differently now."""
    where = db_location
    add_user(where, "sue", "supervisor")
    store = Store(where)
    await store.open()
    try:
        await store.upsert_visitor("v-zh", {"name": "雨傘王"}, T0)
        await store.create_conversation("c-zh", "v-zh", {"language": "zh"}, T0)
        await store.append("c-zh", [NewEvent("message", "visitor", {
            "from": "visitor", "author": "雨傘王", "text": text}) for text in ("我的帐号", "雨傘")],
            now_ms=T0 + 1)
        # The index as the table wrote it (store.append left the keys for the indexer).
        await store.write(lambda conn: conn.execute("DELETE FROM search_pending"))
        for seq, terms in ((2, "我 的 帐 号 我的 的帐 帐号"), (3, "雨 傘 雨傘")):  # 1: started
            await store.write(lambda conn, seq=seq, terms=terms: conn.execute(
                "INSERT INTO search_lines (conversation_id, seq, terms) VALUES ('c-zh', ?, ?)",
                (seq, terms)))
        await store.write(lambda conn: conn.execute(
            "INSERT INTO visitor_terms (term, visitor_id) VALUES ('雨傘王', 'v-zh')"))
        await store.write(lambda conn: conn.execute(
            "UPDATE visitors SET search_key = '雨傘王' WHERE id = 'v-zh'"))
    finally:
        await store.close()
    server = Server(tmp_path, database=where).start()
    try:
        for _ in range(100):  # the re-index runs in the background after start
            if found(server, q="雨傘") and found(server, visitor="雨傘"):
                break
            time.sleep(0.05)
        assert found(server, q="帐号") == ["c-zh"]
        assert found(server, q="账号") == ["c-zh"]
        assert found(server, q="雨傘") == ["c-zh"]
        assert found(server, visitor="雨傘") == ["c-zh"]
    finally:
        server.stop()
