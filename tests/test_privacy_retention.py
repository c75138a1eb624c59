"""Retention on both backends (a real SQLite file, a real PostgreSQL database): the purge
removes exactly what is past each period, in batches that let chat writes through, reports it,
and never moves a metric."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest

from chatserver.config import Config, RetentionConfig, StorageConfig
from chatserver.privacy import audit, retention
from chatserver.privacy import data_rights as privacy
from chatserver.store.store import NewEvent, Store

from .databases import db_location, postgres_database
from .store_rows import is_postgres
from .test_privacy import T0, heap_holds, metrics, propose

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

DAY = retention.DAY_MS
NOW = T0 + 400 * DAY
TEXTS = RetentionConfig(message_text_days=30, offline_message_days=0, visitor_profile_days=0,
                        presence_days=0)


@pytest.fixture
async def store(db_location: str) -> Any:
    s = Store(db_location)
    await s.open()
    yield s
    await s.close()


def line(text: str) -> NewEvent:
    return NewEvent("message", "visitor", {"from": "visitor", "author": "Kim", "text": text})


async def chat(store: Store, cid: str, visitor: str, start_ms: int, *texts_at: int) -> None:
    """A conversation started at `start_ms` with one visitor line at each given time."""
    await store.create_conversation(cid, visitor, {"language": "en", "topic": "orders",
                                                   "visitor_name": "Kim",
                                                   "page_url": f"https://x/{cid}"}, start_ms)
    for ts in texts_at:
        await store.append(cid, [line(f"{cid} said at {ts}")], now_ms=ts)


async def texts(store: Store) -> dict[int, str]:
    rows = await store.fetchall("SELECT ts_ms, payload FROM events WHERE type = 'message'")
    return {r[0]: json.loads(r[1])["text"] for r in rows}


async def test_message_texts_past_retention_and_only_those_are_tombstoned(store: Store) -> None:
    cutoff = NOW - 30 * DAY
    await store.upsert_visitor("v", {"name": "Kim"}, T0)
    await chat(store, "old", "v", cutoff - 10, cutoff - 1, cutoff, cutoff + 1)
    await chat(store, "new", "v", cutoff + 5, cutoff + 6)
    before = await metrics(store)

    report = await retention.purge(store, TEXTS, NOW)
    assert report.message_texts == 2  # the `started` of "old" and its line at cutoff - 1
    assert report.cutoffs_ms == {"message_text": cutoff}
    assert await texts(store) == {cutoff - 1: privacy.TOMBSTONE, cutoff: f"old said at {cutoff}",
                                  cutoff + 1: f"old said at {cutoff + 1}",
                                  cutoff + 6: f"new said at {cutoff + 6}"}
    old = await store.conversation_row("old")
    new = await store.conversation_row("new")
    assert old is not None and new is not None
    assert old["page_url"] == "" and new["page_url"] == "https://x/new"
    started = (await store.events_after("old", 0))[0].payload
    assert started == {"language": "en", "topic": "orders", "visitor_name": "", "page_url": ""}
    assert await metrics(store) == before

    assert (await retention.purge(store, TEXTS, NOW)).removed == 0  # nothing more to do
    later = await retention.purge(store, TEXTS, NOW + 2)  # two more milliseconds cross
    assert later.message_texts == 2
    assert (await texts(store))[cutoff + 1] == privacy.TOMBSTONE


async def test_proposed_phrasings_past_retention_lose_the_visitors_words(store: Store) -> None:
    cutoff = NOW - 30 * DAY
    await store.upsert_visitor("v", {"name": "Kim"}, T0)
    for cid, ts in (("a", cutoff - 1), ("b", cutoff - 1), ("c", cutoff)):
        await chat(store, cid, "v", ts - 10)
        await propose(store, cid, f"where is parcel {cid}", ts)
    await store.write(lambda c: c.execute(
        "UPDATE kb_proposals SET status = 'approved', added_text = text "
        "WHERE conversation_id = 'b'"))
    report = await retention.purge(store, TEXTS, NOW)
    assert report.proposal_texts == 2
    rows = {r[0]: tuple(r)[1:] for r in await store.fetchall(
        "SELECT conversation_id, text, status, added_text FROM kb_proposals")}
    assert rows == {"a": (privacy.TOMBSTONE, "expired", None),
                    "b": (privacy.TOMBSTONE, "approved", privacy.TOMBSTONE),
                    "c": ("where is parcel c", "pending", None)}
    assert (await retention.purge(store, TEXTS, NOW)).proposal_texts == 0


async def test_on_postgresql_purged_texts_leave_no_dead_row_version() -> None:
    """As an erasure does: the purge's scrubbed and deleted rows are vacuumed away."""
    cutoff = NOW - 30 * DAY
    config = RetentionConfig(message_text_days=30, offline_message_days=30,
                             visitor_profile_days=0, presence_days=0)
    with postgres_database() as url:
        store = Store(url)
        await store.open()
        try:
            await store.upsert_visitor("v", {"name": "Kim"}, T0)
            await chat(store, "old", "v", cutoff - 10, cutoff - 1)
            await store.add_offline_message("v", "o", {"email": "kim@pelican.example",
                                                       "text": "a pelican ate it"}, cutoff - 1)
            needles = [f"old said at {cutoff - 1}", "https://x/old", "kim@pelican.example",
                       "a pelican ate it"]
            assert heap_holds(url, privacy.ERASED_TABLES, needles)[0] == set(needles)
            report = await retention.purge(store, config, NOW)
            assert (report.message_texts, report.offline_messages) == (2, 1)
            assert heap_holds(url, privacy.ERASED_TABLES, needles)[0] == set()
        finally:
            await store.close()


async def test_offline_messages_past_retention_are_deleted(store: Store) -> None:
    cutoff = NOW - 90 * DAY
    for i, ts in enumerate((cutoff - 86_400_000, cutoff - 1, cutoff, NOW)):
        await store.add_offline_message("v", f"o{i}", {"email": "k@x.io", "text": f"t{i}"}, ts)
    report = await retention.purge(store, RetentionConfig(0, 90, 0, 0), NOW)
    assert report.offline_messages == 2
    rows = await store.fetchall("SELECT text FROM offline_messages ORDER BY created_ms")
    assert [r[0] for r in rows] == ["t2", "t3"]


async def test_old_profiles_are_anonymised_or_deleted_when_nothing_needs_them(
        store: Store) -> None:
    cutoff = NOW - 395 * DAY
    for vid, seen in (("gone", cutoff - 1), ("kept-chats", cutoff - 1), ("recent", cutoff)):
        await store.upsert_visitor(vid, {"name": vid.title(), "email": f"{vid}@x.io"}, seen)
    await chat(store, "c", "kept-chats", cutoff - 1)
    # the site's user id of a verified customer is profile too (issue 19)
    await store.write(lambda c: c.execute(
        "UPDATE visitors SET external_id = 'cust-1', verified = 1 WHERE id = 'kept-chats'"))
    before = await metrics(store)
    report = await retention.purge(store, RetentionConfig(0, 0, 395, 0), NOW)
    assert (report.visitors_anonymised, report.visitors_deleted) == (1, 1)
    rows = {r[0]: tuple(r)[1:] for r in await store.fetchall(
        "SELECT id, name, email, external_id, verified FROM visitors")}
    assert rows == {"kept-chats": ("", "", None, 0),
                    "recent": ("Recent", "recent@x.io", None, 0)}
    assert await metrics(store) == before
    assert (await retention.purge(store, RetentionConfig(0, 0, 395, 0), NOW)).removed == 0


async def test_agent_presence_past_retention_is_deleted(store: Store) -> None:
    """agent_presence (the staffing report's log of agents' statuses) was never purged."""
    cutoff = NOW - 400 * DAY
    rows = [(1, cutoff - DAY, "online"), (1, cutoff - 1, "offline"), (2, cutoff, "online"),
            (1, NOW, "away")]
    await store.write(lambda c: c.executemany(
        "INSERT INTO agent_presence (agent_id, ts_ms, status) VALUES (?, ?, ?)", rows))
    config = RetentionConfig(0, 0, 0, presence_days=400, batch_size=1)
    assert retention.enabled(config)
    report = await retention.purge(store, config, NOW)
    assert report.presence_rows == 2 and report.removed == 2
    assert report.cutoffs_ms["presence"] == cutoff
    left = await store.fetchall("SELECT agent_id, ts_ms, status FROM agent_presence "
                                "ORDER BY ts_ms")
    assert [tuple(r) for r in left] == rows[2:]
    assert (await retention.purge(store, config, NOW)).removed == 0


async def test_zero_days_keeps_everything(store: Store) -> None:
    await store.upsert_visitor("v", {"name": "Kim"}, T0)
    await chat(store, "c", "v", T0, T0 + 1)
    await store.add_offline_message("v", "o", {"email": "k@x.io", "text": "t"}, T0)
    report = await retention.purge(store, RetentionConfig(0, 0, 0, 0, sent_mail_days=0), NOW)
    assert report.removed == 0 and report.batches == 0
    assert not retention.enabled(RetentionConfig(0, 0, 0, 0, sent_mail_days=0))


async def test_batches_are_short_and_chat_writes_go_through_while_a_purge_runs(
        store: Store) -> None:
    await store.upsert_visitor("v", {"name": "Kim"}, T0)
    await store.create_conversation("big", "v", {}, T0)
    for i in range(0, 6000, 500):
        await store.append("big", [line(f"old {j}") for j in range(i, i + 500)], now_ms=T0 + i)
    await store.create_conversation("live", "v", {}, NOW)
    config = dataclasses.replace(TEXTS, batch_size=200)
    purge = asyncio.create_task(retention.purge(store, config, NOW))
    waits = []
    for i in range(10):
        started = time.monotonic()
        await store.append("live", [line(f"live {i}")], now_ms=NOW + i)
        waits.append(time.monotonic() - started)
        await asyncio.sleep(0.005)
    assert not purge.done(), "the purge finished before the chat writes: nothing was measured"
    report = await purge
    assert report.message_texts == 6000 and report.batches >= 30
    assert max(waits) < 0.5, waits  # each write waited at most for one short batch


async def test_purge_loop_runs_on_schedule_records_the_audit_and_stops(store: Store) -> None:
    await store.upsert_visitor("v", {"name": "Kim"}, T0)
    await chat(store, "c", "v", T0, T0 + 1)
    config = Config(retention=TEXTS)
    stop = asyncio.Event()
    loop = asyncio.create_task(retention.purge_loop(store, config, stop, clock=lambda: NOW,
                                                    first_delay_s=0))
    for _ in range(200):
        if await audit.entries(store, action="retention.purge"):
            break
        await asyncio.sleep(0.01)
    entry = (await audit.entries(store, action="retention.purge"))[0]
    assert entry["username"] == "system" and entry["user_id"] is None
    assert entry["detail"]["message_texts"] == 2
    stop.set()
    await asyncio.wait_for(loop, 2)
    # With every period at 0 the loop does not even start.
    await asyncio.wait_for(retention.purge_loop(store, Config(
        retention=RetentionConfig(0, 0, 0, 0, sent_mail_days=0)), asyncio.Event()), 1)


def test_the_purge_command_reports_what_it_removed(db_location: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    storage = (StorageConfig(backend="postgres", url=db_location) if is_postgres(db_location)
               else StorageConfig(path=db_location))
    config = Config(storage=storage, retention=RetentionConfig(
        message_text_days=1, offline_message_days=1, visitor_profile_days=1, presence_days=1))

    async def seed() -> None:
        store = Store(db_location)
        await store.open()
        await store.upsert_visitor("v", {"name": "Kim", "email": "k@x.io"}, T0)
        await chat(store, "c", "v", T0, T0 + 1)
        await store.add_offline_message("v", "o", {"email": "k@x.io", "text": "t"}, T0)
        await store.write(lambda c: c.execute(
            "INSERT INTO agent_presence (agent_id, ts_ms, status) VALUES (1, ?, 'online')",
            (T0,)))
        await store.close()

    asyncio.run(seed())
    parser = argparse.ArgumentParser()
    retention.add_arguments(parser)
    assert retention.command(parser.parse_args(["--json"]), config) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["message_texts"], report["offline_messages"],
            report["visitors_anonymised"], report["presence_rows"]) == (2, 1, 1, 1)
    assert retention.command(parser.parse_args([]), config) == 0
    assert "message texts erased: 0" in capsys.readouterr().out
