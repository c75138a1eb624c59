"""The e-mail outbox (migration 17): mails waiting to be sent, sent, or given up on.

A mail is inserted by `enqueue` inside the transaction of what causes it, so a stored offline
message always has its mail and a rolled-back one never does. Senders `claim` due rows under a
lease: the claim is one UPDATE whose WHERE re-checks the lease, so on SQLite (one writer at a
time) and on PostgreSQL (the second UPDATE waits for the row lock, then re-reads the row and
skips it) two processes never hold one row. A sender that dies holding rows loses them only
until the lease ends; they are then sent again under the same Message-ID (at least once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatserver.core.mail_content import OutboxMail

from .backend import Conn, Row
from .store import Store

_COLUMNS = ("id", "kind", "recipient", "reply_to", "subject", "body_text", "body_html",
            "message_id", "attempts", "created_ms")
_CLAIMED = ", ".join(_COLUMNS)


def enqueue(conn: Conn, mail: OutboxMail, now_ms: int) -> bool:
    """Queue `mail` in the caller's transaction; False when its cause already has one."""
    cursor = conn.execute(
        "INSERT INTO mail_outbox (key, kind, visitor_id, recipient, reply_to, subject, "
        "body_text, body_html, message_id, next_ms, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
        (mail.key, mail.kind, mail.visitor_id, mail.recipient, mail.reply_to, mail.subject,
         mail.text, mail.html, mail.message_id, now_ms, now_ms))
    return bool(cursor.rowcount == 1)


async def add(store: Store, mail: OutboxMail, now_ms: int, *,
              replace_failed: bool = False) -> bool:
    """Queue `mail` in a transaction of its own (its cause is the request itself); with
    `replace_failed`, a mail of the same cause that failed (a bounce) gives way to it."""

    def job(conn: Conn) -> bool:
        if replace_failed:
            conn.execute("DELETE FROM mail_outbox WHERE key = ? AND state = 'failed'",
                         (mail.key,))
        return enqueue(conn, mail, now_ms)

    return bool(await store.write(job))


async def claim(store: Store, owner: str, now_ms: int, lease_ms: int,
                limit: int) -> list[dict[str, Any]]:
    """Lease up to `limit` due rows to `owner` until now + `lease_ms`, oldest first; each
    claim counts as an attempt (a sender that dies mid-send still used one)."""

    def job(conn: Conn) -> list[dict[str, Any]]:
        rows = conn.execute(
            "UPDATE mail_outbox SET lease_owner = ?, lease_until_ms = ?, "  # noqa: S608
            "attempts = attempts + 1 WHERE id IN (SELECT id FROM mail_outbox "
            "WHERE state = 'queued' AND next_ms <= ? AND lease_until_ms <= ? "
            "ORDER BY next_ms, id LIMIT ?) "
            f"AND state = 'queued' AND lease_until_ms <= ? RETURNING {_CLAIMED}",
            (owner, now_ms + lease_ms, now_ms, now_ms, limit, now_ms)).fetchall()
        return sorted((dict(zip(_COLUMNS, row, strict=True)) for row in rows),
                      key=lambda row: int(row["id"]))

    claimed: list[dict[str, Any]] = await store.write(job)
    return claimed


async def renew(store: Store, row_ids: Sequence[int], owner: str,
                until_ms: int) -> set[int]:
    """Hold `owner`'s still-queued rows among `row_ids` until `until_ms`; returns the ids it
    still holds (a row whose lease ended and another sender claimed is not among them)."""
    if not row_ids:
        return set()
    marks = ", ".join("?" for _ in row_ids)
    rows = await store.write(lambda conn: conn.execute(
        f"UPDATE mail_outbox SET lease_until_ms = ? WHERE id IN ({marks}) "  # noqa: S608
        "AND lease_owner = ? AND state = 'queued' RETURNING id",
        (until_ms, *row_ids, owner)).fetchall())
    return {int(row[0]) for row in rows}


async def sent(store: Store, row_id: int, owner: str, now_ms: int) -> None:
    await store.write(lambda conn: conn.execute(
        "UPDATE mail_outbox SET state = 'sent', done_ms = ?, lease_owner = '', lease_until_ms = 0, "
        "last_error = '' WHERE id = ? AND lease_owner = ?", (now_ms, row_id, owner)))


async def retry(store: Store, row_id: int, owner: str, next_ms: int, error: str) -> None:
    """Give the row back, due again at `next_ms` (the back-off)."""
    await store.write(lambda conn: conn.execute(
        "UPDATE mail_outbox SET next_ms = ?, lease_owner = '', lease_until_ms = 0, "
        "last_error = ? WHERE id = ? AND lease_owner = ?", (next_ms, error[:500], row_id, owner)))


async def give_up(store: Store, row_id: int, owner: str, now_ms: int, error: str) -> None:
    """A mail that cannot be sent (refused address, too old): kept as failed, with why."""
    await store.write(lambda conn: conn.execute(
        "UPDATE mail_outbox SET state = 'failed', done_ms = ?, lease_owner = '', "
        "lease_until_ms = 0, last_error = ? WHERE id = ? AND lease_owner = ?",
        (now_ms, error[:500], row_id, owner)))


async def next_due_ms(store: Store) -> int | None:
    """When the earliest queued mail may next be claimed (a leased one: when its lease ends),
    or None: nothing is queued."""
    row = await store.fetchone(
        "SELECT min(CASE WHEN lease_until_ms > next_ms THEN lease_until_ms ELSE next_ms END) "
        "FROM mail_outbox WHERE state = 'queued'")
    return None if row is None or row[0] is None else int(row[0])


async def sent_recently(store: Store, visitor_id: str, kind: str, since_ms: int, *,
                        except_key: str = "") -> int:
    """How many mails of `kind` this visitor caused since `since_ms` (the durable per-visitor
    limit: every process counts the same rows), leaving out the one of `except_key`."""
    row = await store.fetchone(
        "SELECT count(*) FROM mail_outbox WHERE visitor_id = ? AND kind = ? AND created_ms >= ? "
        "AND key != ?", (visitor_id, kind, since_ms, except_key))
    return int(row[0]) if row else 0


async def by_key(store: Store, key: str) -> Row | None:
    return await store.fetchone("SELECT id, state, recipient FROM mail_outbox WHERE key = ?",
                                (key,))


async def any_done_before(store: Store, cutoff_ms: int) -> bool:
    """Whether retention has a mail to delete (one index probe; most runs have none)."""
    return await store.fetchone("SELECT 1 FROM mail_outbox WHERE state != 'queued' AND "
                                "done_ms < ? LIMIT 1", (cutoff_ms,)) is not None


def purge_batch(conn: Conn, cutoff_ms: int, limit: int) -> int:
    """Delete up to `limit` mails sent or given up on before `cutoff_ms` (retention)."""
    return int(conn.execute(
        "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox WHERE state != 'queued' "
        "AND done_ms < ? ORDER BY done_ms LIMIT ?)", (cutoff_ms, limit)).rowcount)


def erase(conn: Conn, visitor_ids: Sequence[str]) -> int:
    """Delete every mail, queued or kept, holding these visitors' data (erasure)."""
    marks = ", ".join("?" for _ in visitor_ids)
    return int(conn.execute(
        f"DELETE FROM mail_outbox WHERE visitor_id IN ({marks})",  # noqa: S608
        tuple(visitor_ids)).rowcount)
