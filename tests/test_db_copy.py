"""`chatserver db copy`: a SQLite desk with a row in every table moves into a fresh PostgreSQL
database through the real command, and the server's store then reads and continues it there."""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot import Bot
from chatserver.core.conversation import Event
from chatserver.core.mail_content import offline_alert
from chatserver.privacy import audit
from chatserver.service import webhook_outbox
from chatserver.service.api_tokens import ApiTokens
from chatserver.service.canned import CannedResponses
from chatserver.service.webhook_client import Answer
from chatserver.store import copy, mail_outbox
from chatserver.store.kb_store import KnowledgeBase
from chatserver.store.schema import MIGRATIONS
from chatserver.store.search import index_named, index_waiting_lines
from chatserver.store.store import NewEvent, Store, migrate_file

from .databases import postgres_database

pytestmark = pytest.mark.anyio
NOW = 1_760_000_000_000
DAY = 86_400_000
# trust authentication accepts any password: this one must never reach the output
PASSWORD = "s3cret-Copy-pw"
SCHEMA_TABLES = sorted(set(re.findall(r"CREATE TABLE (\w+)", "".join(MIGRATIONS))))


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def run_copy(cwd: Path, source: str, target: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "chatserver", "db", "copy", "--from", source,
                           "--to", target], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert PASSWORD not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def line(text: str) -> NewEvent:
    return NewEvent("message", "visitor", {"from": "visitor", "author": "V", "text": text})


async def build_desk(path: Path) -> dict[str, list[Event]]:
    """A desk with rows in every table, through the store as the server writes them; returns
    each conversation's transcript."""
    store = Store(str(path))
    await store.open()
    try:
        kb = KnowledgeBase(store, Bot())
        await kb.load(NOW)  # the shipped entries, their versions and the meta marks
        await CannedResponses(store).seed(NOW)  # the team's canned responses, versions
        admin = await store.add_user("admin", role="admin", password_hash="h", display_name="A",
                                     skills={}, capacity=1, now_ms=NOW)
        agent = await store.add_user("sara", role="agent", password_hash="h", display_name="S",
                                     skills={"lang:en": 5}, capacity=3, now_ms=NOW)
        await store.add_session("session-1", agent, "csrf-1", NOW, NOW + DAY)
        entry = await kb.create({"title": "Refunds", "questions": ["how do I get a refund"],
                                 "answer": "Within 30 days.", "language": "en"}, admin, NOW)
        await kb.update(entry.id or 0, {"answer": "Within 60 days.", "version": 1}, admin, NOW)
        # a webhook before the chats: their appends write its outbox rows
        hook = await webhook_outbox.create(store, "https://hooks.example/chat", "CRM",
                                           "whsec_0123456789abcdef", ["message"], admin,
                                           NOW)
        for n in range(3):
            cid, visitor = f"conv-{n}", f"visitor-{n}"
            await store.upsert_visitor(visitor, {"name": f"Visitor {n}", "email": "v@x.io"}, NOW)
            await store.create_conversation(cid, visitor, {"language": "en"}, NOW)
            for i in range(5):
                await store.append(cid, [line(f"line {i} — «ünïcode» 你好")], now_ms=NOW + i,
                                   client_id=f"c{i}")
            await store.append(cid, [NewEvent("closed", "system", {"resolved": True})],
                               now_ms=NOW + 9)
            if n == 1:  # two chats' lines indexed, the third's waiting for the indexer
                await index_waiting_lines(store)
        await index_named(store)  # the visitor filter's terms, as a search or start-up does
        first = (await webhook_outbox.due(store, hook, NOW + DAY, 1))[0][0]
        await webhook_outbox.settle(store, hook, [webhook_outbox.Outcome(
            first, Answer(200, 12))], NOW, DAY, prune=True)  # one delivered, logged
        await store.add_offline_message("visitor-0", "off-1", {"email": "v@x.io",
                                                              "text": "call me"}, NOW)
        await audit.record(store, {"id": admin, "username": "admin"}, "kb.create",
                           f"kb:{entry.id}", {"entry": entry.id}, "127.0.0.1", now_ms=NOW)
        await store.write(lambda conn: conn.execute(
            "INSERT INTO kb_proposals (entry_id, conversation_id, language, text, source, "
            "agent_id, created_ms) VALUES (?, 'conv-0', 'en', 'refund please', 'message', ?, ?)",
            (entry.id, agent, NOW)))
        await store.write(lambda conn: conn.execute(
            "INSERT INTO agent_presence (agent_id, ts_ms, status) VALUES (?, ?, 'online')",
            (agent, NOW)))
        await store.write(lambda conn: conn.execute(
            "INSERT INTO attachments (id, conversation_id, visitor_id, author, name, media_type, "
            "size, data, created_ms) VALUES ('att-1', 'conv-0', 'visitor-0', 'visitor', "
            "'note.txt', 'text/plain', 3, ?, ?)", (b"\x00\xffz", NOW)))
        await store.write(lambda conn: conn.execute(
            "UPDATE visitors SET external_id = 'shop-7', verified = 1 WHERE id = 'visitor-1'"))
        await store.write(lambda conn: conn.execute(
            "INSERT INTO labels (name, colour, created_ms) VALUES ('billing', '#aa3300', ?)",
            (NOW,)))
        await store.write(lambda conn: conn.execute(
            "INSERT INTO conversation_labels (conversation_id, label_id, added_ms) "
            "SELECT 'conv-0', id, ? FROM labels", (NOW,)))
        await ApiTokens(store, lambda: NOW).create("CRM", ("read", "write"), admin)
        await mail_outbox.add(store, offline_alert(  # the team's e-mail, queued
            visitor_id="visitor-0", client_id="off-1", email="v@x.io", text="call me", topic="",
            visitor_language="en", page_url="", ts_ms=NOW, to="team@shop.example",
            sender="support@shop.example", language="en"), NOW)
        return {cid: await store.events_after(cid, 0) for cid in ("conv-0", "conv-1", "conv-2")}
    finally:
        await store.close()


def printed_counts(stdout: str) -> dict[str, tuple[int, int, str]]:
    rows = re.findall(r"^(\w+)\s+([\d,]+)\s+([\d,]+)\s+(yes|NO)$", stdout, re.MULTILINE)
    return {t: (int(s.replace(",", "")), int(d.replace(",", "")), ok) for t, s, d, ok in rows}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_desk_moves_whole_and_the_store_continues_it_on_postgresql(
        tmp_path: Path) -> None:
    source = tmp_path / "chat.db"
    transcripts = await build_desk(source)
    before = digest(source)
    with postgres_database() as url:
        done = run_copy(tmp_path, str(source), with_password(url))
        assert done.returncode == 0, done.stderr
        assert "postgres:***@" in done.stdout
        counts = printed_counts(done.stdout)
        assert sorted(counts) == SCHEMA_TABLES  # a table added to schema.py must be copied
        for table, (mine, theirs, ok) in counts.items():
            assert mine == theirs > 0 and ok == "yes", table
        assert digest(source) == before  # the source was only read

        store = Store(url)
        await store.open()
        try:
            for cid, events in transcripts.items():
                assert await store.events_after(cid, 0) == events
            appended = await store.append("conv-1", [line("after the move")], now_ms=NOW + 10,
                                          client_id="c-new")
            assert appended.events[0].seq == transcripts["conv-1"][-1].seq + 1
            repeat = await store.append("conv-1", [line("line 0")], now_ms=NOW, client_id="c0")
            assert repeat.duplicate  # client ids came along: a retry stores nothing twice
            session = await store.session("session-1", NOW)
            assert session is not None and session["username"] == "sara"
            # the identity sequences moved past the copied ids
            users = await store.users()
            added = await store.add_user("omid", role="agent", password_hash="h",
                                         display_name="O", skills={}, capacity=2, now_ms=NOW)
            assert added == max(u["id"] for u in users) + 1
            kb = KnowledgeBase(store, Bot())
            await kb.load(NOW)  # the meta marks came along: nothing is seeded twice
            assert len(await kb.entries()) == counts["kb_entries"][0]
            entry = await kb.create({"title": "Hours", "questions": ["when are you open"],
                                     "answer": "9-17", "language": "en"}, added, NOW)
            assert entry.id == counts["kb_entries"][0] + 1
            audit_id = await audit.record(store, None, "retention.purge", "", {}, "", now_ms=NOW)
            assert audit_id == counts["audit_log"][0] + 1
            assert await store.add_offline_message("visitor-2", "off-2", {
                "email": "w@x.io", "text": "later"}, NOW)
        finally:
            await store.close()


async def test_a_target_that_holds_data_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    source = tmp_path / "chat.db"
    await build_desk(source)
    with postgres_database() as url:
        assert run_copy(tmp_path, str(source), url).returncode == 0
        again = run_copy(tmp_path, str(source), with_password(url))
        assert again.returncode == 1
        assert "already holds data" in again.stderr and "empty database" in again.stderr
        store = Store(url)
        await store.open()
        try:
            rows = await store.fetchone("SELECT count(*) FROM events")
            assert rows is not None and rows[0] == 3 * 7  # started, 5 lines, closed: not twice
        finally:
            await store.close()


async def test_a_row_postgresql_refuses_rolls_the_whole_copy_back(tmp_path: Path) -> None:
    """One transaction: the tables copied before the failing one (visitors, conversations…)
    are not kept either, so the same command can run again once the row is mended. (The server
    refuses control characters at its edge; such a row comes from editing the file by hand.)"""
    source = tmp_path / "chat.db"
    await build_desk(source)
    with sqlite3.connect(source) as conn:  # a NUL: SQLite keeps it in text, PostgreSQL cannot
        conn.execute("UPDATE events SET author = 'visitor' || char(0) WHERE seq = 3")
    with postgres_database() as url:
        done = run_copy(tmp_path, str(source), with_password(url))
        assert done.returncode == 1 and "nothing was copied" in done.stderr
        store = Store(url)
        await store.open()
        try:
            for table in SCHEMA_TABLES:
                row = await store.fetchone(f"SELECT count(*) FROM {table}")
                assert row is not None and row[0] == 0, table
        finally:
            await store.close()


@pytest.mark.parametrize(("source", "target", "said"), [
    ("missing.db", "postgresql://postgres:{pw}@127.0.0.1:5432/x", "no SQLite database at"),
    ("notes.txt", "postgresql://postgres:{pw}@127.0.0.1:5432/x", "is not a SQLite database"),
    ("chat.db", "mysql://root:{pw}@127.0.0.1/chat", "must be a postgresql:// URL"),
    ("chat.db", "postgresql://postgres:{pw}@127.0.0.1:port/x", "port in the --to URL"),
    ("chat.db", "postgresql://postgres:{pw}@127.0.0.1:5432/no_such_database_for_copy",
     'database "no_such_database_for_copy" does not exist'),
])
def test_bad_arguments_get_one_clear_line_and_exit_1(
        tmp_path: Path, source: str, target: str, said: str) -> None:
    migrate_file(str(tmp_path / "chat.db"))
    (tmp_path / "notes.txt").write_text("not a database, but long enough to look like one " * 9)
    done = run_copy(tmp_path, source, target.format(pw=PASSWORD))
    assert done.returncode == 1
    assert said in done.stderr
    assert done.stderr.startswith("error: ")


def test_an_old_desk_is_asked_to_migrate_first(tmp_path: Path) -> None:
    source = tmp_path / "chat.db"
    migrate_file(str(source))
    with sqlite3.connect(source) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    done = run_copy(tmp_path, str(source), "postgresql://postgres@127.0.0.1:5432/x")
    assert done.returncode == 1 and "chatserver db migrate" in done.stderr


def test_the_count_table_marks_a_difference() -> None:
    out = io.StringIO()
    assert copy.report([("events", 10, 10), ("users", 2, 2)], out)
    assert not copy.report([("events", 10, 9)], out)
    assert printed_counts(out.getvalue())["events"] == (10, 9, "NO")
