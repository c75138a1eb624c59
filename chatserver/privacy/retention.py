"""Retention: apply `[retention]` by scrubbing or deleting what is older than each period.

- Message texts: every event older than `message_text_days` is scrubbed exactly as an erasure
  scrubs it (texts tombstoned, visitor name and page URL emptied); types, times, authors and
  ratings stay, so metrics never change.
- Files sent in chats (`attachments`) older than `message_text_days` are deleted, bytes and
  thumbnails: they are the lines' content (their lines keep type and size for the transcript).
- Phrasings proposed from chats (`kb_proposals`) older than `message_text_days` lose the
  visitor's words the same way; a pending one expires unapproved.
- Offline messages older than `offline_message_days` are deleted (no metric reads them).
- Visitor profiles not seen for `visitor_profile_days` lose name, email and the site's user id
  of a verified customer (`external_id`); a visitor with no
  conversation left is deleted outright.
- Agents' status changes (`agent_presence`, read by the staffing report) older than
  `presence_days` are deleted.
- E-mails sent or given up on (`mail_outbox`) more than `sent_mail_days` ago are deleted;
  queued ones stay until sent (store/outbox.py).

Runs on a schedule inside the server (`purge_loop`) and on demand (`chatserver purge`), in jobs
of `batch_size` rows through the store's writer, so chats are never held up. A run that removed
personal text ends as an erasure does, with `Store.after_erase` (PostgreSQL's old row versions
vacuumed away, SQLite's write-ahead log checkpointed). Events and visitors
are walked from a watermark kept in `meta` (where the last run finished, less an hour of slack
for clock steps), so a run reads only what crossed its cut-off since the last one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from chatserver.config import Config, RetentionConfig
from chatserver.store import mail_outbox as outbox
from chatserver.store.store import Conn, Store, secure_delete

from . import audit
from .data_rights import (
    ERASED_TABLES,
    FILE_BATCH,
    PAUSE_S,
    TEXT_FREE_TYPES,
    TOMBSTONE,
    rewrite_events,
    scrub_proposals,
)

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
SLACK_MS = 3_600_000  # re-read the last hour before a watermark: a clock step cannot skip rows
FIRST_RUN_DELAY_S = 60.0  # let start-up (restore, reconnecting sockets) finish first
TEXTS_MARK = "retention.texts_before_ms"
VISITORS_MARK = "retention.visitors_before_ms"
_TEXT_FREE = ", ".join(f"'{t}'" for t in sorted(TEXT_FREE_TYPES))


@dataclass
class PurgeReport:
    """What one run removed, for the log, the audit log and `chatserver purge`."""

    message_texts: int = 0  # events whose text was tombstoned
    proposal_texts: int = 0  # proposed phrasings whose visitor text was tombstoned
    offline_messages: int = 0  # deleted
    visitors_anonymised: int = 0  # name and email cleared; conversations kept for metrics
    visitors_deleted: int = 0  # no conversation left to keep them for
    presence_rows: int = 0  # agents' status changes deleted
    attachments: int = 0  # files deleted with their bytes
    mails: int = 0  # e-mails sent or given up on, deleted
    batches: int = 0
    cutoffs_ms: dict[str, int] = field(default_factory=dict)

    @property
    def removed(self) -> int:
        return (self.message_texts + self.proposal_texts + self.offline_messages
                + self.visitors_anonymised + self.visitors_deleted + self.presence_rows
                + self.attachments + self.mails)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mark(conn: Conn, key: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def _set_mark(conn: Conn, key: str, value: int) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))


Key = tuple[int, str, int]  # (ts_ms, conversation_id, seq): the walk's position in the log


def _texts_batch(conn: Conn, after: Key, cutoff_ms: int, limit: int
                 ) -> tuple[int, int, Key]:
    rows = conn.execute(
        "SELECT ts_ms, conversation_id, seq, type, payload FROM events "  # noqa: S608
        "WHERE ts_ms >= ? AND ts_ms < ? AND (ts_ms, conversation_id, seq) > (?, ?, ?) "
        f"AND type NOT IN ({_TEXT_FREE}) ORDER BY ts_ms, conversation_id, seq LIMIT ?",
        (after[0], cutoff_ms, *after, limit)).fetchall()
    with secure_delete(conn):
        changed = rewrite_events(conn, [(cid, seq, kind, raw) for _, cid, seq, kind, raw in rows])
    if len(rows) < limit:  # reached the cut-off: next run starts from here
        _set_mark(conn, TEXTS_MARK, cutoff_ms)
    last = (rows[-1][0], rows[-1][1], rows[-1][2]) if rows else after
    return len(rows), changed, last


def _proposals_batch(conn: Conn, cutoff_ms: int, limit: int) -> int:
    with secure_delete(conn):
        return scrub_proposals(conn, [r[0] for r in conn.execute(
            "SELECT id FROM kb_proposals WHERE created_ms < ? AND text != ? "
            "ORDER BY created_ms LIMIT ?", (cutoff_ms, TOMBSTONE, limit))])


def _files_batch(conn: Conn, cutoff_ms: int, limit: int) -> int:
    with secure_delete(conn):
        return int(conn.execute(
            "DELETE FROM attachments WHERE id IN (SELECT id FROM attachments "
            "WHERE created_ms < ? ORDER BY created_ms LIMIT ?)", (cutoff_ms, limit)).rowcount)


def _offline_batch(conn: Conn, cutoff_ms: int, limit: int) -> int:
    with secure_delete(conn):
        return conn.execute(
            "DELETE FROM offline_messages WHERE id IN (SELECT id FROM offline_messages "
            "WHERE created_ms < ? ORDER BY created_ms LIMIT ?)", (cutoff_ms, limit)).rowcount


def _presence_batch(conn: Conn, cutoff_ms: int, limit: int) -> int:
    with secure_delete(conn):
        return conn.execute(
            "DELETE FROM agent_presence WHERE rowid IN (SELECT rowid FROM agent_presence "
            "WHERE ts_ms < ? ORDER BY ts_ms LIMIT ?)", (cutoff_ms, limit)).rowcount


def _mail_batch(conn: Conn, cutoff_ms: int, limit: int) -> int:
    with secure_delete(conn):
        return outbox.purge_batch(conn, cutoff_ms, limit)


def _visitors_batch(conn: Conn, after: tuple[int, str], cutoff_ms: int,
                    limit: int) -> tuple[int, int, int, tuple[int, str]]:
    rows = conn.execute(
        "SELECT last_seen_ms, id, name != '' OR email != '' OR external_id IS NOT NULL, "
        "EXISTS(SELECT 1 FROM conversations c WHERE c.visitor_id = v.id) FROM visitors v "
        "WHERE last_seen_ms >= ? AND last_seen_ms < ? AND (last_seen_ms, id) > (?, ?) "
        "ORDER BY last_seen_ms, id LIMIT ?", (after[0], cutoff_ms, *after, limit)).fetchall()
    anonymised = deleted = 0
    with secure_delete(conn):
        for _, visitor_id, has_profile, has_chats in rows:
            if not has_chats:
                deleted += conn.execute("DELETE FROM visitors WHERE id = ?",
                                        (visitor_id,)).rowcount
            elif has_profile:
                anonymised += conn.execute(
                    "UPDATE visitors SET name = '', email = '', external_id = NULL, "
                    "verified = 0 WHERE id = ?",
                    (visitor_id,)).rowcount
    if len(rows) < limit:
        _set_mark(conn, VISITORS_MARK, cutoff_ms)
    last = (rows[-1][0], rows[-1][1]) if rows else after
    return len(rows), anonymised, deleted, last


async def purge(store: Store, retention: RetentionConfig, now_ms: int, *,
                pause_s: float = PAUSE_S) -> PurgeReport:
    """Apply every retention period once; each period of 0 days is skipped (kept for ever)."""
    report, size = PurgeReport(), retention.batch_size

    async def run(job: Callable[[Conn], Any]) -> Any:
        if report.batches:
            await asyncio.sleep(pause_s)  # let the chats' own writes through between batches
        report.batches += 1
        return await store.write(job)

    if retention.message_text_days:
        cutoff = report.cutoffs_ms["message_text"] = now_ms - retention.message_text_days * DAY_MS
        start = max(0, await store.write(lambda c: _mark(c, TEXTS_MARK)) - SLACK_MS)
        key: Key = (start, "", -1)
        while True:
            scanned, changed, key = await run(
                partial(_texts_batch, after=key, cutoff_ms=cutoff, limit=size))
            report.message_texts += changed
            if scanned < size:
                break
        while (scrubbed := await run(lambda c: _proposals_batch(c, cutoff, size))) == size:
            report.proposal_texts += scrubbed
        report.proposal_texts += scrubbed
        while (deleted := await run(lambda c: _files_batch(c, cutoff, FILE_BATCH))) == FILE_BATCH:
            report.attachments += deleted
        report.attachments += deleted
    if retention.offline_message_days:
        cutoff = report.cutoffs_ms["offline_message"] = (
            now_ms - retention.offline_message_days * DAY_MS)
        while (deleted := await run(lambda c: _offline_batch(c, cutoff, size))) == size:
            report.offline_messages += deleted
        report.offline_messages += deleted
    if retention.visitor_profile_days:
        cutoff = report.cutoffs_ms["visitor_profile"] = (
            now_ms - retention.visitor_profile_days * DAY_MS)
        start = max(0, await store.write(lambda c: _mark(c, VISITORS_MARK)) - SLACK_MS)
        seen: tuple[int, str] = (start, "")
        while True:
            scanned, anonymised, deleted, seen = await run(
                partial(_visitors_batch, after=seen, cutoff_ms=cutoff, limit=size))
            report.visitors_anonymised += anonymised
            report.visitors_deleted += deleted
            if scanned < size:
                break
    if retention.presence_days:
        cutoff = report.cutoffs_ms["presence"] = now_ms - retention.presence_days * DAY_MS
        while (deleted := await run(lambda c: _presence_batch(c, cutoff, size))) == size:
            report.presence_rows += deleted
        report.presence_rows += deleted
    mail_cutoff = now_ms - retention.sent_mail_days * DAY_MS
    if retention.sent_mail_days and await outbox.any_done_before(store, mail_cutoff):
        cutoff = report.cutoffs_ms["sent_mail"] = mail_cutoff
        while (deleted := await run(lambda c: _mail_batch(c, cutoff, size))) == size:
            report.mails += deleted
        report.mails += deleted
    if report.removed > report.presence_rows:  # personal text was scrubbed or deleted
        await store.after_erase(ERASED_TABLES)
    return report


def _wall_ms() -> int:
    return int(time.time() * 1000)


async def run_purge(store: Store, config: Config, now_ms: int, *, address: str = "") -> PurgeReport:
    """One purge, logged, and written to the audit log when it removed anything."""
    started = time.monotonic()
    report = await purge(store, config.retention, now_ms)
    log.info("retention purge: %d message texts, %d offline messages, %d visitors anonymised, "
             "%d deleted, %d presence rows, in %d batches, %.1f s", report.message_texts,
             report.offline_messages, report.visitors_anonymised, report.visitors_deleted,
             report.presence_rows, report.batches, time.monotonic() - started)
    if report.removed:
        detail = {k: v for k, v in report.as_dict().items() if k != "batches"}
        await audit.record(store, None, "retention.purge", "", detail, address, now_ms=now_ms)
    return report


def enabled(retention: RetentionConfig) -> bool:
    return bool(retention.message_text_days or retention.offline_message_days
                or retention.visitor_profile_days or retention.presence_days
                or retention.sent_mail_days)


async def purge_loop(store: Store, config: Config, stop: asyncio.Event | None = None, *,
                     clock: Callable[[], int] = _wall_ms,
                     first_delay_s: float = FIRST_RUN_DELAY_S) -> None:
    """Purge every `purge_interval_minutes` until `stop` is set (or the task is cancelled).
    A failed run is logged and retried next time; it never takes the server down."""
    if not enabled(config.retention):
        return
    stop = stop or asyncio.Event()
    delay = first_delay_s
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        try:
            await run_purge(store, config, clock())
        except Exception:  # a locked database, a full disk: try again next interval
            log.exception("retention purge failed")
        delay = config.retention.purge_interval_minutes * 60


# --- `chatserver purge` ---------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def command(args: argparse.Namespace, config: Config) -> int:
    """Apply the retention periods now (safe while the server runs: same short jobs)."""
    if not enabled(config.retention):
        print("retention: every period is 0 (keep for ever); nothing to purge")
        return 0

    async def main() -> PurgeReport:
        store = Store(config.storage.location, config.storage.busy_timeout_ms)
        await store.open()
        try:
            return await run_purge(store, config, _wall_ms(), address="cli")
        finally:
            await store.close()

    report = asyncio.run(main())
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        print()
    else:
        print(f"message texts erased: {report.message_texts}\n"
              f"proposed phrasings erased: {report.proposal_texts}\n"
              f"offline messages deleted: {report.offline_messages}\n"
              f"visitor profiles anonymised: {report.visitors_anonymised}\n"
              f"visitor profiles deleted: {report.visitors_deleted}\n"
              f"agent presence rows deleted: {report.presence_rows}\n"
              f"e-mails deleted: {report.mails}")
    return 0
