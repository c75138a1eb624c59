"""Data rights over the store: find a visitor, export everything held about them, erase it.

Erasure replaces personal text in place and keeps everything a metric reads (event types,
authors, times, ratings, NPS, language, topic, the visitor id that links a returning visitor's
chats), so every report for every period reads the same before and after; the `last_seq` of
each conversation is untouched, so cached facts stay valid too. Retention (`retention.py`) uses
the same scrubbing on everything older than its cut-off.

Files sent in a visitor's chats (either way) are exported with their bytes and deleted by an
erasure, bytes and thumbnails; their lines keep type and size, the name scrubbed with the text.

A verified customer also covers the anonymous visitors merged into them (`visitors.merged_into`,
set when a browser proves the customer's site user id, service/identity.py): what such a browser
typed before logging in, and a chat of it that could not follow, are exported and erased with
the customer.

Phrasings proposed from a visitor's chat (`kb_proposals`, learning.py) hold the visitor's words:
they are exported, and erasure tombstones them (a pending one can no longer be approved). A
phrasing an admin already approved is knowledge-base content they reviewed (the inbox tells
them to take out anything personal first) and stays in its entry.

An erasure's first job marks the visitor (and the rows merged into it) erased and clears the
site user id, so no login can merge a chat into it while it runs; at the end it walks again
whatever chat or line reached the visitor meanwhile, until none is left unscrubbed.

All writes are short jobs of at most `batch_size` rows through the store's single writer, so a
visitor with years of chats is erased without holding up anyone's messages. Each job turns on
SQLite's secure_delete so replaced text is overwritten on disk, not just unlinked, and an
erasure ends with `Store.after_erase`: a WAL checkpoint on SQLite so the old pages leave the
write-ahead log as well, a VACUUM on PostgreSQL so the replaced rows' old versions leave the
tables (docs/privacy.md says what stays in PostgreSQL's WAL and backups).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from chatserver.store import mail_outbox as outbox
from chatserver.store.search_index import forget_lines
from chatserver.store.store import Conn, Store, secure_delete

log = logging.getLogger(__name__)

TOMBSTONE = "[erased]"
# Every table an erasure rewrites, for Store.after_erase.
ERASED_TABLES = ("events", "conversations", "offline_messages", "mail_outbox", "visitors",
                 "kb_proposals", "search_lines", "visitor_terms", "attachments")
# Files deleted per job: at most 50 MB (5 × the 10 MB limit) overwritten by secure_delete in
# one write, so a visitor with many files is erased without holding up the chats.
FILE_BATCH = 5
VISITOR_AUTHOR = "Visitor"  # what a visitor's lines show as author once their name is gone
FORMAT = "chatserver-visitor-export/1"
# A file's bytes are base64-encoded 3 × 256 KiB at a time (a multiple of 3: no padding inside).
EXPORT_CHUNK = 3 * 256 * 1024
# Payload keys holding free text anyone may have typed: replaced by the tombstone.
TEXT_KEYS = frozenset({"text", "markdown", "comment", "note"})
# Payload keys that identify or locate the visitor: emptied.
IDENTITY_KEYS = frozenset({"visitor_name", "name", "email", "phone", "page_url", "url",
                           "referrer", "user_agent", "ip", "address"})
# Event types whose payloads hold routing facts only (skills, agent ids, reasons, ETAs) or
# the desk's own words (a label's name from the admins' list, who put it on); every other
# type, including ones added later, is scrubbed by key.
TEXT_FREE_TYPES = frozenset({"queued", "offered", "assigned", "closed", "eta", "label"})
# 10 ms between batches: a 500-row job takes ~5 ms, so a long erasure or purge uses at most
# about a third of the writer and chat appends queue behind one short job at worst.
PAUSE_S = 0.01


def scrub(value: Any, key: str = "") -> Any:
    """`value` with personal text replaced: text keys get the tombstone, identity keys are
    emptied, dicts and lists are walked (payloads are small; depth is two at most)."""
    if isinstance(value, Mapping):
        return {k: scrub(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, key) for v in value]
    if isinstance(value, str) and value:
        if key in TEXT_KEYS:
            return TOMBSTONE
        if key in IDENTITY_KEYS:
            return ""
    return value


def scrub_payload(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """An event payload without personal text; metric-bearing fields are left as they were."""
    if kind in TEXT_FREE_TYPES:
        return dict(payload)
    clean: dict[str, Any] = scrub(payload)
    if kind == "message" and payload.get("from") == "visitor" and clean.get("author"):
        clean["author"] = VISITOR_AUTHOR  # a visitor's line carries the name they gave
    return clean


def rewrite_events(conn: Conn, rows: list[tuple[str, int, str, str]]) -> int:
    """Scrub each (conversation_id, seq, type, payload) row; returns how many changed. A
    `started` event also clears its conversation's copy of the page URL. The rows' updates
    and their search lines' deletions go as two batches: on PostgreSQL one pipelined round
    trip each, not two a line (290 of the 310 µs a line an erasure took, docs/performance.md)."""
    updates: list[tuple[str, str, int]] = []
    forgotten: list[tuple[str, int]] = []
    for cid, seq, kind, raw in rows:
        payload = json.loads(raw)
        clean = scrub_payload(kind, payload)
        if kind == "started":
            conn.execute("UPDATE conversations SET page_url = '' WHERE id = ? AND page_url != ''",
                         (cid,))
        if clean != payload:
            updates.append((json.dumps(clean, ensure_ascii=False), cid, seq))
            if kind == "message":  # the erased words leave the search index too
                forgotten.append((cid, seq))
    if updates:
        conn.executemany("UPDATE events SET payload = ? WHERE conversation_id = ? AND seq = ?",
                         updates)
    if forgotten:
        forget_lines(conn, forgotten)
    return len(updates)


# --- finding ---------------------------------------------------------------------------------


def _marks(values: list[str]) -> str:
    return ", ".join("?" * len(values))


async def merged_from(store: Store, visitor_id: str) -> list[str]:
    """The anonymous visitors merged into `visitor_id` (browsers that proved its site user
    id while another row held it): theirs is the same person's data."""
    return [str(row[0]) for row in await store.fetchall(
        "SELECT id FROM visitors WHERE merged_into = ? ORDER BY created_ms, id", (visitor_id,))]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def find_visitors(
    store: Store, query: str, *, token_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Visitors whose id, email (profile or offline message) or site user id (external_id, a
    verified identity) is `query`, whose name contains it, or whose signed token it is
    (`token_id`, unsigned by the caller); newest first."""
    q = query.strip()
    ids = [q, token_id or q]
    rows = await store.fetchall(
        "SELECT id FROM visitors WHERE id IN (?, ?) OR lower(email) = lower(?) "
        "OR external_id = ? OR name LIKE ? ESCAPE '\\' "
        "UNION SELECT visitor_id FROM offline_messages WHERE lower(email) = lower(?) "
        "OR visitor_id IN (?, ?) "
        "UNION SELECT visitor_id FROM conversations WHERE visitor_id IN (?, ?) LIMIT ?",
        (*ids, q, q, _like(q), q, *ids, *ids, limit))
    found = [await summary(store, row[0]) for row in rows]
    return sorted(found, key=lambda v: -(v["last_seen_ms"] or 0))


async def summary(store: Store, visitor_id: str) -> dict[str, Any]:
    """The profile and how much is held, for a search result; blank when no profile row.
    `merged_from`: the anonymous visitors whose data goes with this one's export and erasure;
    `merged_into`: the verified visitor this one's goes with."""
    row = await store.fetchone(
        "SELECT v.name, v.email, v.language, v.created_ms, v.last_seen_ms, v.erased_ms, "
        "v.external_id, v.verified, v.merged_into, "
        "(SELECT count(*) FROM conversations c WHERE c.visitor_id = k.id), "
        "(SELECT count(*) FROM offline_messages o WHERE o.visitor_id = k.id) "
        "FROM (SELECT ? AS id) AS k LEFT JOIN visitors v ON v.id = k.id", (visitor_id,))
    assert row is not None
    (name, email, language, created, seen, erased, external, verified, merged, chats,
     offline) = tuple(row)
    return {"id": visitor_id, "name": name or "", "email": email or "",
            "language": language or "", "created_ms": created, "last_seen_ms": seen,
            "erased_ms": erased, "external_id": external, "verified": bool(verified),
            "merged_into": merged, "merged_from": await merged_from(store, visitor_id),
            "conversations": chats, "offline_messages": offline}


async def _holds_anything(store: Store, visitor_id: str) -> bool:
    row = await store.fetchone(
        "SELECT EXISTS(SELECT 1 FROM visitors WHERE id = k.id) "
        "OR EXISTS(SELECT 1 FROM conversations WHERE visitor_id = k.id) "
        "OR EXISTS(SELECT 1 FROM offline_messages WHERE visitor_id = k.id) "
        "FROM (SELECT ? AS id) AS k", (visitor_id,))
    return bool(row and row[0])


# --- export ----------------------------------------------------------------------------------


async def export_visitor(store: Store, visitor_id: str, now_ms: int) -> dict[str, Any] | None:
    """Everything held about one visitor (profile, conversations with every event, survey
    answers, offline messages, files sent either way) as JSON-ready data; None when nothing
    is held. Internal notes are included: they are data about the visitor, which an access
    request covers. So is what the anonymous visitors merged into them hold (their profiles
    in `merged_visitors`, their chats, messages and files with the visitor's own)."""
    if not await _holds_anything(store, visitor_id):
        return None
    profile = await store.visitor(visitor_id)
    group = [visitor_id, *await merged_from(store, visitor_id)]
    merged = [{"id": vid, **dict(await store.visitor(vid) or {})} for vid in group[1:]]
    within = f"IN ({_marks(group)})"
    conversations, surveys = [], []
    for conv in await store.fetchall(
            f"SELECT * FROM conversations WHERE visitor_id {within} "  # noqa: S608
            "ORDER BY created_ms, id", group):
        events = await store.events_after(conv["id"], 0, limit=1_000_000)
        conversations.append({**dict(conv), "events": [
            {"seq": e.seq, "type": e.type, "author": e.author, "ts_ms": e.ts_ms,
             "payload": dict(e.payload)} for e in events]})
        surveys += [{"conversation_id": e.conversation_id, "ts_ms": e.ts_ms, **dict(e.payload)}
                    for e in events if e.type == "survey"]
    offline = await store.fetchall(
        "SELECT id, email, text, language, page_url, created_ms, handled_by, handled_ms "  # noqa: S608
        f"FROM offline_messages WHERE visitor_id {within} "
        "ORDER BY created_ms, id", group)
    proposals = await store.fetchall(
        "SELECT id, entry_id, conversation_id, language, text, source, status, created_ms, "  # noqa: S608
        "decided_ms, added_text FROM kb_proposals WHERE conversation_id IN "
        f"(SELECT id FROM conversations WHERE visitor_id {within}) ORDER BY created_ms, id",
        group)
    files = await store.fetchall(
        "SELECT id, conversation_id, author, name, media_type, size, width, height, "  # noqa: S608
        "created_ms FROM attachments WHERE conversation_id IN "
        f"(SELECT id FROM conversations WHERE visitor_id {within}) ORDER BY created_ms, id",
        group)
    mails = await store.fetchall(
        "SELECT kind, recipient, reply_to, subject, body_text, message_id, state, "  # noqa: S608
        f"created_ms, done_ms FROM mail_outbox WHERE visitor_id {within} ORDER BY id", group)
    return {
        "format": FORMAT,
        "exported_ms": now_ms,
        "visitor": {"id": visitor_id, **(dict(profile) if profile is not None else {})},
        "merged_visitors": merged,
        "conversations": conversations,
        "survey_answers": surveys,
        "offline_messages": [dict(r) for r in offline],
        "kb_proposals": [dict(r) for r in proposals],
        # E-mails holding their data, queued or kept (docs/email.md): the HTML part left out,
        # it says what the text part says.
        "emails": [dict(r) for r in mails],
        # Files sent either way, without their bytes: export_json adds each file's, read
        # one at a time as the download is written.
        "attachments": [dict(row) for row in files],
    }


async def export_json(store: Store, data: Mapping[str, Any]) -> AsyncIterator[bytes]:
    """The export as one JSON document, written piece by piece: the records, then each file
    with its bytes in `data_base64`, read from the store one file at a time and encoded in
    chunks, so a visitor's files never sit in memory at once (nor several times over)."""
    records = {k: v for k, v in data.items() if k != "attachments"}
    head = json.dumps(records, ensure_ascii=False, separators=(",", ":"))
    yield f'{head[:-1]},"attachments":['.encode()
    comma = ""
    for file in data["attachments"]:
        row = await store.fetchone("SELECT data FROM attachments WHERE id = ?", (file["id"],))
        if row is None:  # erased or purged since the export began: left out
            continue
        fields = json.dumps(dict(file), ensure_ascii=False, separators=(",", ":"))
        yield f'{comma}{fields[:-1]},"data_base64":"'.encode()
        comma = ","
        body = memoryview(bytes(row["data"]))
        del row
        for start in range(0, len(body), EXPORT_CHUNK):
            yield base64.b64encode(body[start:start + EXPORT_CHUNK])
        yield b'"}'
    yield b"]}"


def export_counts(data: Mapping[str, Any]) -> dict[str, int]:
    """How much an export held, for the audit log (counts only: the log keeps no personal data)."""
    return {"conversations": len(data["conversations"]),
            "events": sum(len(c["events"]) for c in data["conversations"]),
            "offline_messages": len(data["offline_messages"]),
            "kb_proposals": len(data["kb_proposals"]),
            "attachments": len(data.get("attachments", ()))}


# --- erasure ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """What one erasure changed; goes to the audit log and back to the admin."""

    visitor_id: str
    conversations: int
    events_scrubbed: int
    offline_messages: int
    kb_proposals: int
    profile: bool
    erased_ms: int
    attachments: int = 0  # files deleted, bytes and thumbnails

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _seal(conn: Conn, visitor_id: str, now_ms: int) -> None:
    """The erasure's first job: the visitor and the rows merged into it are marked erased and
    the site user id cleared, so no identify merges into them or writes them meanwhile (the
    claim locks the holder's row first: on PostgreSQL one of the two waits for the other)."""
    conn.execute("UPDATE visitors SET external_id = NULL, verified = 0, erased_ms = ? "
                 "WHERE id = ? OR merged_into = ?", (now_ms, visitor_id, visitor_id))


def _events_batch(conn: Conn, chats: list[tuple[str, int, int]], limit: int
                  ) -> tuple[dict[str, int], int, int]:
    """Scrub the events of `chats` ((conversation_id, seq walked to, seq to walk to), in walk
    order), `limit` seqs of them at most; returns the seq each chat was walked to, and how
    many events were read and changed. Each read is a range of at most `limit` seqs of one
    chat's primary key, so a batch reads `limit` lines at most whatever the planner thinks:
    one join over the visitor's chats, `ORDER BY ... LIMIT`, was planned on PostgreSQL as
    "read every line of the chat left, sort, keep 500" (time growing with the square of a
    chat's length), or as a walk of the key through other visitors' chats."""
    rows: list[tuple[str, int, str, str]] = []
    reached: dict[str, int] = {}
    room = limit
    for cid, after, last in chats:
        if room <= 0:
            break
        reached[cid] = upto = min(last, after + room)
        rows += conn.execute(
            "SELECT conversation_id, seq, type, payload FROM events "
            "WHERE conversation_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
            (cid, after, upto)).fetchall()
        room -= upto - after
    with secure_delete(conn):
        changed = rewrite_events(conn, rows)
    return reached, len(rows), changed


def _erase_files_batch(conn: Conn, group: list[str], limit: int) -> int:
    """Delete up to `limit` of the files in the group's conversations (either way)."""
    with secure_delete(conn):
        return int(conn.execute(
            "DELETE FROM attachments WHERE id IN (SELECT id FROM attachments WHERE "  # noqa: S608
            "conversation_id IN (SELECT id FROM conversations WHERE visitor_id IN "
            f"({_marks(group)})) LIMIT ?)", (*group, limit)).rowcount)


def scrub_proposals(conn: Conn, ids: list[int]) -> int:
    """Tombstone the visitor's words in these proposals; a pending one expires (nothing is
    left to approve). Shared with retention."""
    conn.executemany(
        "UPDATE kb_proposals SET text = ?, added_text = CASE WHEN added_text IS NULL "
        "THEN NULL ELSE ? END, status = CASE status WHEN 'pending' THEN 'expired' "
        "ELSE status END WHERE id = ?", [(TOMBSTONE, TOMBSTONE, i) for i in ids])
    return len(ids)


def _erase_rest(conn: Conn, group: list[str], now_ms: int
                ) -> tuple[int, int, int, bool]:
    within = f"IN ({_marks(group)})"
    with secure_delete(conn):
        proposals = scrub_proposals(conn, [r[0] for r in conn.execute(
            "SELECT id FROM kb_proposals WHERE text != ? AND conversation_id IN "  # noqa: S608
            f"(SELECT id FROM conversations WHERE visitor_id {within})", (TOMBSTONE, *group))])
        chats = conn.execute(
            f"UPDATE conversations SET page_url = '' WHERE visitor_id {within}",  # noqa: S608
            group).rowcount
        offline = conn.execute(
            "UPDATE offline_messages SET email = '', text = ?, page_url = '' "  # noqa: S608
            f"WHERE visitor_id {within}", (TOMBSTONE, *group)).rowcount
        outbox.erase(conn, group)  # their mails, queued or kept: never sent after this
        conn.execute(
            "UPDATE visitors SET name = '', email = '', external_id = NULL, "  # noqa: S608
            f"verified = 0, erased_ms = ? WHERE id {within}", (now_ms, *group))
        profile = conn.execute("SELECT 1 FROM visitors WHERE id = ?", (group[0],)).fetchone()
    return chats, offline, proposals, profile is not None


async def _walk_events(store: Store, group: list[str], walked: dict[str, int],
                       batch_size: int, pause_s: float) -> tuple[int, int]:
    """Scrub every event of the group's conversations not walked yet, in conversation id
    order: up to each one's `last_seq` (the store gives seqs from it, so no event is after
    it), from the seq `walked` holds for it (0 the first time: conversations that moved in
    or grew since are walked again). Returns the events read and changed."""
    held = await store.fetchall(
        f"SELECT id, last_seq FROM conversations WHERE visitor_id IN ({_marks(group)})",  # noqa: S608
        group)
    chats = sorted((str(cid), walked.get(str(cid), 0), int(last)) for cid, last in held
                   if int(last) > walked.get(str(cid), 0))
    read = changed = 0
    while chats:
        reached, got, done = await store.write(
            partial(_events_batch, chats=chats, limit=batch_size))
        walked.update(reached)
        read, changed = read + got, changed + done
        chats = [(cid, walked.get(cid, 0), last) for cid, _, last in chats
                 if walked.get(cid, 0) < last]
        if chats:
            await asyncio.sleep(pause_s)
    return read, changed


async def erase_visitor(
    store: Store, visitor_id: str, now_ms: int, *, batch_size: int = 500,
    pause_s: float = PAUSE_S,
) -> Erasure | None:
    """Remove a visitor's personal data (and that of the anonymous visitors merged into
    them), keeping their conversations for metrics; None when nothing is held. Idempotent:
    running it again (say after a crash) finishes the job. Name and email go last, so a
    half-done erasure can still be found by email and re-run. Chats or lines that reached
    the visitor while it ran are walked again at the end, until none is left."""
    if not await _holds_anything(store, visitor_id):
        return None
    await store.write(partial(_seal, visitor_id=visitor_id, now_ms=now_ms))
    walked: dict[str, int] = {}
    scrubbed = files = proposals = 0
    while True:
        group = [visitor_id, *await merged_from(store, visitor_id)]
        read, changed = await _walk_events(store, group, walked, batch_size, pause_s)
        scrubbed += changed
        deleted = 0
        while (batch := await store.write(
                partial(_erase_files_batch, group=group, limit=FILE_BATCH))) > 0:
            deleted += batch
            await asyncio.sleep(pause_s)
        files += deleted
        chats, offline, scrubbed_proposals, profile = await store.write(
            partial(_erase_rest, group=group, now_ms=now_ms))
        proposals += scrubbed_proposals
        if not read and not deleted and group == [visitor_id, *await merged_from(
                store, visitor_id)]:
            break  # a pass found nothing new: nothing reached the visitor meanwhile
    await store.after_erase(ERASED_TABLES)
    return Erasure(visitor_id, chats, scrubbed, offline, proposals, profile, now_ms,
                   attachments=files)
