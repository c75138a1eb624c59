"""Data rights on both backends (a real SQLite file, a real PostgreSQL database): find, export
exactly one visitor, erase leaving no personal text in any table (nor in the SQLite file's bytes,
nor in PostgreSQL's heap pages, dead row versions included) while every metric stays the same."""

from __future__ import annotations

import json
import random
import string
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.core.conversation import Event
from chatserver.core.metrics import facts_from_events
from chatserver.core.metrics_report import summarize
from chatserver.privacy import data_rights as privacy
from chatserver.reports.reports_facts import FactsCache
from chatserver.store.store import Conn, NewEvent, Store

from .databases import db_location, postgres_database
from .store_rows import columns_and_rows, connection, table_names

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

T0 = 1_700_000_000_000  # Nov 2023; no timestamp below contains the order number
ZED_NAME, ZED_EMAIL = "Zed Quimby", "zed.quimby@example.org"
CARD_LINE = "my card 4111 1111 1111 1111 and order 123456789012"
SENTENCE = "The purple giraffe left my parcel in Llanfairpwllgwyngyll"
ZED_STRINGS = [ZED_NAME, "Quimby", ZED_EMAIL, CARD_LINE, "4111 1111 1111 1111", "123456789012",
               SENTENCE, "purple giraffe", "Llanfairpwllgwyngyll", "zed-account-page",
               "Quimby's refund", "giraffe service was fine", "call Zed back"]
ADA_STRINGS = ["Ada Lovelace", "ada@example.com", "Analytical engine", "Bernoulli numbers",
               "ada-page"]


@pytest.fixture
async def store(db_location: str) -> Any:
    s = Store(db_location)
    await s.open()
    yield s
    await s.close()


async def add(store: Store, cid: str, ts: int, kind: str, by: str,
              payload: dict[str, Any]) -> None:
    await store.append(cid, [NewEvent(kind, by, payload)], now_ms=ts)


async def populate(store: Store) -> None:
    """Zed: a handled, transferred, surveyed chat; a bot-only chat; an offline message.
    Ada: a chat and an offline message of her own, which must come through untouched."""
    await store.upsert_visitor("vz", {"name": ZED_NAME, "email": ZED_EMAIL, "language": "en"},
                               T0)
    await store.create_conversation("cz1", "vz", {
        "language": "en", "topic": "billing", "visitor_name": ZED_NAME,
        "page_url": f"https://shop.example/zed-account-page?email={ZED_EMAIL}"}, T0)
    t = T0
    for kind, author, payload in [
        ("message", "visitor", {"from": "visitor", "author": ZED_NAME, "text": CARD_LINE}),
        ("message", "bot", {"from": "bot", "author": "Bot", "text": "Let me find a person.",
                            "decision": "handoff", "reason": "asked_for_human",
                            "matches": [{"entry_id": 3, "title": "Refunds", "score": 0.4}]}),
        ("queued", "system", {"reason": "asked_for_human", "skills": ["billing"],
                              "language": "en"}),
        ("eta", "system", {"eta_seconds": 30, "position": 1}),
        ("offered", "system", {"agent_id": 1}),
        ("assigned", "agent:1", {"agent_id": 1, "agent": "Alice"}),
        ("message", "visitor", {"from": "visitor", "author": ZED_NAME, "text": SENTENCE}),
        ("message", "agent:1", {"from": "agent", "author": "Alice",
                                "text": f"Hi {ZED_NAME}, I see {ZED_EMAIL}"}),
        ("note", "agent:1", {"from": "agent", "author": "Alice",
                             "text": "purple giraffe again, see Quimby's refund"}),
        ("transferred", "agent:1", {"from_agent": 1, "to_agent": 2, "to_skill": None,
                                    "note": f"{ZED_NAME} wants Quimby's refund"}),
        ("queued", "agent:1", {"reason": "transfer", "skills": ["billing"], "language": "en"}),
        ("assigned", "agent:2", {"agent_id": 2, "agent": "Bob"}),
        ("message", "agent:2", {"from": "agent", "author": "Bob", "text": "Refund sent."}),
        ("closed", "agent:2", {"by": "agent", "resolved": True}),
        ("survey", "visitor", {"rating": 4, "nps": 9,
                               "comment": "the purple giraffe service was fine"}),
    ]:
        t += 7_000
        await add(store, "cz1", t, kind, author, payload)
    await store.create_conversation("cz2", "vz", {"language": "en", "topic": "",
                                                  "visitor_name": ZED_NAME, "page_url": ""},
                                    T0 + 600_000)
    await add(store, "cz2", T0 + 601_000, "message", "visitor", {
        "from": "visitor", "author": ZED_NAME, "text": f"{ZED_NAME} again: {SENTENCE}"})
    await add(store, "cz2", T0 + 602_000, "closed", "visitor", {"by": "visitor"})
    await store.add_offline_message("vz", "off-1", {
        "email": ZED_EMAIL, "text": "Please call Zed back about the purple giraffe",
        "language": "en", "page_url": "https://shop.example/zed-account-page"}, T0 + 700_000)

    await store.upsert_visitor("va", {"name": "Ada Lovelace", "email": "ada@example.com"},
                               T0 + 1000)
    await store.create_conversation("ca1", "va", {"language": "en", "topic": "orders",
                                                  "visitor_name": "Ada Lovelace",
                                                  "page_url": "https://shop.example/ada-page"},
                                    T0 + 1000)
    await add(store, "ca1", T0 + 2000, "message", "visitor",
              {"from": "visitor", "author": "Ada Lovelace", "text": "Analytical engine"})
    await add(store, "ca1", T0 + 3000, "closed", "visitor", {"by": "visitor"})
    await add(store, "ca1", T0 + 4000, "survey", "visitor",
              {"rating": 5, "comment": "Bernoulli numbers are lovely"})
    await store.add_offline_message("va", "off-a", {
        "email": "ada@example.com", "text": "Analytical engine, part two", "language": "en"},
        T0 + 5000)
    # The agents answered both chats with entry 3: each visitor's question is a proposal.
    await propose(store, "cz1", SENTENCE, T0 + 800_000)
    await propose(store, "ca1", "Analytical engine", T0 + 6000)


async def propose(store: Store, cid: str, text: str, ts: int) -> None:
    def job(conn: Conn) -> None:
        conn.execute("INSERT INTO kb_entries (id, title, language, status, questions, answer, "
                     "version, updated_ms) VALUES (3, 'Refunds', 'en', 'published', "
                     "'[\"refund\"]', 'Yes.', 1, ?) ON CONFLICT DO NOTHING", (ts,))
        conn.execute("INSERT INTO kb_proposals (entry_id, conversation_id, language, text, "
                     "source, agent_id, created_ms) VALUES (3, ?, 'en', ?, 'message', 1, ?)",
                     (cid, text, ts))

    await store.write(job)


def every_value(location: str) -> Iterator[tuple[str, str, str]]:
    """(table, column, text) for every value of every column of every table, with JSON
    documents also walked so a string inside a payload is seen as itself."""
    with connection(location) as conn:
        for table in table_names(conn):
            columns, rows = columns_and_rows(conn, table)
            for row in rows:
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    text = value.decode(errors="replace") if isinstance(value, bytes) \
                        else str(value)
                    yield table, column, text
                    if text[:1] in "[{":
                        try:
                            document = json.loads(text)
                        except ValueError:
                            continue
                        for inner in _strings(document):
                            yield table, column, inner


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def found(location: str, needles: list[str]) -> list[tuple[str, str, str]]:
    lowered = [n.lower() for n in needles]
    return [(table, column, needle) for table, column, text in every_value(location)
            for needle in lowered if needle in text.lower()]


async def metrics(store: Store) -> tuple[Any, Any, Any]:
    """Every fact and the summary, two ways: folded here from the whole log, and read through
    the reports' own cached reader over the file."""
    rows = await store.fetchall(
        "SELECT conversation_id, seq, type, author, payload, client_id, ts_ms FROM events "
        "ORDER BY conversation_id, seq")
    visitors = {r[0]: r[1] for r in await store.fetchall(
        "SELECT id, visitor_id FROM conversations")}
    events = [Event(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]
    facts = list(facts_from_events(events, visitors))
    conn = store.backend.read_only()
    try:
        reported = FactsCache().facts(conn, 0, 2 * T0)
    finally:
        conn.close()
    return facts, summarize(facts), summarize(reported)


async def test_find_by_email_name_id_and_offline_email(store: Store) -> None:
    await populate(store)
    for query in (ZED_EMAIL, ZED_EMAIL.upper(), "quimby", "Zed Q", "vz"):
        hits = await privacy.find_visitors(store, query)
        assert [h["id"] for h in hits] == ["vz"], query
    hit = (await privacy.find_visitors(store, ZED_EMAIL))[0]
    assert hit["conversations"] == 2 and hit["offline_messages"] == 1
    assert hit["name"] == ZED_NAME and hit["erased_ms"] is None
    assert [h["id"] for h in await privacy.find_visitors(store, "x", token_id="va")] == ["va"]
    # Someone who left only an offline message, under another email than their profile's.
    await store.upsert_visitor("vo", {"name": "Olga"}, T0)
    await store.add_offline_message("vo", "o1", {"email": "olga@mail.example", "text": "hi"}, T0)
    assert [h["id"] for h in await privacy.find_visitors(store, "OLGA@mail.example")] == ["vo"]
    # LIKE wildcards in the query are literal.
    assert await privacy.find_visitors(store, "%") == []
    assert await privacy.find_visitors(store, "_") == []


async def test_export_holds_every_record_of_the_visitor_and_none_of_another(
        store: Store) -> None:
    await populate(store)
    data = await privacy.export_visitor(store, "vz", T0 + 10**6)
    assert data is not None
    text = json.dumps(data, ensure_ascii=False)
    for needle in ZED_STRINGS:
        assert needle in text, needle
    for needle in ADA_STRINGS:
        assert needle not in text, needle
    assert data["visitor"]["email"] == ZED_EMAIL and data["format"] == privacy.FORMAT
    assert [c["id"] for c in data["conversations"]] == ["cz1", "cz2"]
    held = await store.fetchall(
        "SELECT e.conversation_id, e.seq FROM events e JOIN conversations c "
        "ON c.id = e.conversation_id WHERE c.visitor_id = 'vz' ORDER BY 1, 2")
    exported = [(c["id"], e["seq"]) for c in data["conversations"] for e in c["events"]]
    assert exported == [tuple(r) for r in held]
    assert data["survey_answers"] == [{"conversation_id": "cz1", "ts_ms": T0 + 15 * 7000,
                                       "rating": 4, "nps": 9,
                                       "comment": "the purple giraffe service was fine"}]
    assert [m["text"] for m in data["offline_messages"]] == [
        "Please call Zed back about the purple giraffe"]
    assert [(p["conversation_id"], p["text"], p["status"]) for p in data["kb_proposals"]] == [
        ("cz1", SENTENCE, "pending")]
    assert privacy.export_counts(data) == {"conversations": 2, "events": 19,
                                           "offline_messages": 1, "kb_proposals": 1,
                                           "attachments": 0}
    ada = json.dumps(await privacy.export_visitor(store, "va", T0), ensure_ascii=False)
    assert "Analytical engine, part two" in ada
    for needle in ZED_STRINGS:
        assert needle not in ada, needle
    assert await privacy.export_visitor(store, "nobody", T0) is None


async def test_erase_leaves_no_personal_text_anywhere_and_metrics_unchanged(
        store: Store, db_location: str) -> None:
    await populate(store)
    assert found(db_location, ZED_STRINGS)  # the scan does see them before
    facts_before, summary_before, reported_before = await metrics(store)
    seqs_before = await store.fetchall("SELECT id, last_seq FROM conversations ORDER BY id")

    erased = await privacy.erase_visitor(store, "vz", T0 + 10**6, batch_size=4)
    assert erased is not None
    assert erased.as_dict() == {"visitor_id": "vz", "conversations": 2, "events_scrubbed": 11,
                                "offline_messages": 1, "kb_proposals": 1, "profile": True,
                                "erased_ms": T0 + 10**6, "attachments": 0}

    assert found(db_location, ZED_STRINGS) == []
    assert {needle for *_, needle in found(db_location, ADA_STRINGS)} == {
        n.lower() for n in ADA_STRINGS}  # Ada's data is all still there
    facts_after, summary_after, reported_after = await metrics(store)
    assert facts_after == facts_before
    assert summary_after == summary_before and reported_after == reported_before
    assert summary_after.conversations == 3 and summary_after.handled == 1
    assert [tuple(r) for r in await store.fetchall(
        "SELECT id, last_seq FROM conversations ORDER BY id")] == [tuple(r) for r in seqs_before]

    # What is left reads sensibly: tombstones, a visitor without name, ratings kept.
    events = await store.events_after("cz1", 0)
    lines = [e.payload for e in events if e.type == "message"]
    assert {p["text"] for p in lines} == {privacy.TOMBSTONE}
    assert [p["author"] for p in lines if p["from"] == "visitor"] == ["Visitor", "Visitor"]
    assert events[0].payload == {"language": "en", "topic": "billing", "visitor_name": "",
                                 "page_url": ""}
    assert events[-1].payload == {"rating": 4, "nps": 9, "comment": privacy.TOMBSTONE}
    proposals = {r[0]: (r[1], r[2]) for r in await store.fetchall(
        "SELECT conversation_id, text, status FROM kb_proposals")}
    assert proposals == {"cz1": (privacy.TOMBSTONE, "expired"),  # nothing left to approve
                         "ca1": ("Analytical engine", "pending")}
    visitor = await store.visitor("vz")
    assert visitor is not None and visitor["name"] == visitor["email"] == ""
    assert visitor["erased_ms"] == T0 + 10**6
    assert (await privacy.find_visitors(store, "vz"))[0]["erased_ms"] == T0 + 10**6

    again = await privacy.erase_visitor(store, "vz", T0 + 2 * 10**6)
    assert again is not None and again.events_scrubbed == again.kb_proposals == 0  # idempotent
    assert await privacy.erase_visitor(store, "nobody", T0) is None


async def test_erased_text_is_gone_from_the_sqlite_file_bytes_too(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    store = Store(str(db))
    await store.open()
    try:
        await populate(store)
        await privacy.erase_visitor(store, "vz", T0 + 10**6)
    finally:
        await store.close()
    raw = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    for needle in (ZED_NAME, ZED_EMAIL, "purple giraffe", "Llanfairpwllgwyngyll",
                   "4111 1111 1111 1111"):
        assert needle.encode() not in raw, needle
    assert b"Ada Lovelace" in raw


def test_scrub_payload_keeps_what_metrics_read() -> None:
    assert privacy.scrub_payload("closed", {"by": "agent:2", "resolved": False}) == {
        "by": "agent:2", "resolved": False}
    assert privacy.scrub_payload("survey", {"rating": 2, "nps": 0}) == {"rating": 2, "nps": 0}
    bot = {"from": "bot", "author": "Bot", "text": "Hi", "markdown": "**Hi**",
           "decision": "suggest", "suggestions": [{"entry_id": 1, "title": "Hours"}]}
    assert privacy.scrub_payload("message", bot) == {
        **bot, "text": privacy.TOMBSTONE, "markdown": privacy.TOMBSTONE}
    # A type added later (say, consent) is scrubbed by key without knowing it.
    assert privacy.scrub_payload("consent", {"accepted": True, "page_url": "https://x/?e=a@b",
                                             "notice_version": "2024-01"}) == {
        "accepted": True, "page_url": "", "notice_version": "2024-01"}
    assert privacy.scrub_payload("transferred", {"note": ""}) == {"note": ""}


def heap_holds(url: str, tables: tuple[str, ...], needles: list[str]
               ) -> tuple[set[str], set[str]]:
    """Which needles PostgreSQL's table files still hold, read page by page with pageinspect:
    (those inside some row version, live or dead; those anywhere in the page bytes, free
    space included)."""
    in_rows, in_pages = set(), set()
    with connection(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        for table in tables:
            pages = conn.execute("SELECT pg_relation_size(?) / current_setting('block_size')::int",
                                 (table,)).fetchone()[0]
            for page in range(pages):
                raw = bytes(conn.execute("SELECT get_raw_page(?, ?)", (table, page)).fetchone()[0])
                rows = [bytes(r[0]) for r in conn.execute(
                    "SELECT t_data FROM heap_page_items(get_raw_page(?, ?)) "
                    "WHERE t_data IS NOT NULL", (table, page))]
                for needle in needles:
                    in_pages |= {needle} if needle.encode() in raw else set()
                    in_rows |= {needle} if any(needle.encode() in r for r in rows) else set()
    return in_rows, in_pages


async def test_on_postgresql_erase_leaves_no_row_version_holding_the_text() -> None:
    """UPDATE leaves the old row version in the table (and a long text's chunks in its TOAST
    table) until VACUUM; `after_erase` runs it. A transaction that began before the erase
    still sees the old versions, so the erase waits (up to 5 s) for it to end before its
    VACUUM; the freed bytes stay in the page's free space until new rows reuse it or VACUUM
    FULL rewrites the table (docs/privacy.md, "On PostgreSQL")."""
    rng = random.Random(18)  # a long line that does not compress: stored in the TOAST table
    long_line = "".join(rng.choice(string.ascii_letters + " ") for _ in range(3900))
    needles = [ZED_NAME, ZED_EMAIL, "purple giraffe", "Llanfairpwllgwyngyll",
               "4111 1111 1111 1111", long_line[1000:1040]]
    with postgres_database() as url:
        store = Store(url)
        await store.open()
        try:
            await populate(store)
            await add(store, "cz2", T0 + 603_000, "message", "visitor",
                      {"from": "visitor", "author": ZED_NAME, "text": long_line})
            with connection(url) as conn:
                toasts = [r[0] for r in conn.execute(
                    "SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname IN "
                    f"({', '.join('?' * len(privacy.ERASED_TABLES))}) AND reltoastrelid != 0",
                    privacy.ERASED_TABLES)]
            tables = (*privacy.ERASED_TABLES, *toasts)
            assert heap_holds(url, tables, needles)[0] == set(needles)  # the scan sees them
            with connection(url) as older:  # a report that began before the erase...
                older.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                older.execute("SELECT count(*) FROM events")
                # ...and ends a second into it: the erase waits for it before its VACUUM
                threading.Timer(1.0, older.execute, ("COMMIT",)).start()
                await privacy.erase_visitor(store, "vz", T0 + 10**6)
            assert heap_holds(url, tables, needles)[0] == set()
            assert heap_holds(url, tables, ["Ada Lovelace"])[0] == {"Ada Lovelace"}
            with connection(url) as conn:
                for table in tables:
                    conn.execute(f"VACUUM FULL {table}")
            assert heap_holds(url, tables, needles) == (set(), set())
        finally:
            await store.close()


def _lines_read(plan: dict[str, Any], table: str) -> int:
    """Rows the scans of `table` in an EXPLAIN ANALYZE plan returned, over all their loops."""
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Relation Name") == table \
        else 0
    return int(own) + sum(_lines_read(child, table) for child in plan.get("Plans", ()))


async def test_on_postgresql_an_erasure_reads_each_line_once_in_a_few_round_trips(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Erasing a long chat on PostgreSQL took time growing with the square of its length: a
    batch's read of the visitor's chats was planned as "every line of the chat left, sorted,
    500 kept" (or walked other visitors' chats between theirs), and every line cost two more
    round trips. Counted, not timed: every statement the store's writer sends during the
    erasure, each read of events EXPLAIN ANALYZEd where it ran. No read returns more lines
    than the batch holds, and the statements are a few per batch, not two per line."""
    from chatserver.store.dialect import to_postgres
    from chatserver.store.postgres import PgConnection

    lines, batch = 3000, 500
    sent: list[str] = []
    read_per_statement: list[int] = []
    execute, executemany = PgConnection.execute, PgConnection.executemany

    def counted(self: PgConnection, sql: str, params: Any = ()) -> Any:
        sent.append(sql)
        if sql.lstrip().startswith("SELECT") and "FROM events" in sql:
            (plan,), = self.raw.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + to_postgres(sql),
                                        params).fetchone()  # type: ignore[misc]
            read_per_statement.append(_lines_read(plan["Plan"], "events"))
        return execute(self, sql, params)

    def counted_many(self: PgConnection, sql: str, rows: Any) -> Any:
        sent.append(sql)  # pipelined: one round trip for all the rows
        return executemany(self, sql, rows)

    with postgres_database() as url:
        store = Store(url)
        await store.open()
        try:
            await populate(store)  # Ada's chat "ca1" sorts between Zed's "cz1"...
            await store.create_conversation("cz9", "vz", {"language": "en"}, T0)  # ...and this
            for start in range(0, lines, 100):
                await store.append("cz9", [
                    NewEvent("message", "visitor", {"from": "visitor", "author": ZED_NAME,
                                                    "text": f"{SENTENCE} {i}"})
                    for i in range(start, start + 100)], now_ms=T0 + start)
            monkeypatch.setattr(PgConnection, "execute", counted)
            monkeypatch.setattr(PgConnection, "executemany", counted_many)
            erased = await privacy.erase_visitor(store, "vz", T0 + 10**6, batch_size=batch,
                                                 pause_s=0)
            monkeypatch.undo()
            assert erased is not None and erased.events_scrubbed == lines + 11
            assert await store.fetchall("SELECT 1 FROM events WHERE payload LIKE ?",
                                        (f"%{SENTENCE}%",)) == []
        finally:
            monkeypatch.undo()
            await store.close()
    batches = lines // batch + 1
    assert len(read_per_statement) >= batches and max(read_per_statement) <= batch
    assert len(sent) <= 6 * batches + 30, sent  # BEGIN, reads, 2 batched writes, COMMIT
