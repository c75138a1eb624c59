"""Webhooks in the store: endpoints, their leases, the outbox and the delivery log (SQL only).

The append path writes an outbox row per (endpoint, event) in the event's own transaction
(store.py `_OUTBOX`); this module reads the due ones and settles them. A row leaves the outbox
only once its endpoint answered 2xx: the outbox is each endpoint's cursor, and a crash at any
point delivers a row again rather than never (at least once; receivers de-duplicate on the
event id).

Order per conversation: a round starts each conversation at its lowest outstanding row and
sends its rows one after another, stopping at the first failure, so seq n+1 is never sent
before seq n was delivered (it waits behind n's retries).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatserver.core.webhooks import EVENT_TYPES
from chatserver.store.backend import Conn, Row
from chatserver.store.store import Store

from .webhook_client import Answer

# Deliveries kept per endpoint for its page: the last 200 (pruned once a minute).
KEPT_DELIVERIES = 200
ENDPOINT_COLUMNS = ("id, url, description, enabled, disabled_reason, disabled_ms, "
                    "failing_since_ms, created_ms")


@dataclass(frozen=True)
class Leased:
    """An endpoint this process delivers until its lease runs out."""

    id: int
    url: str
    secret: str


@dataclass(frozen=True)
class Due:
    """An outbox row ready to send, with its event (None: erased from the log meanwhile)."""

    conversation_id: str
    seq: int
    attempts: int
    kind: str | None
    author: str
    payload: dict[str, Any]
    ts_ms: int


@dataclass(frozen=True)
class Outcome:
    due: Due
    answer: Answer | None  # None: the event is gone, nothing was sent
    retry_ms: int = 0  # when to try again after a failure


async def lease(store: Store, owner: str, now_ms: int, lease_ms: int) -> list[Leased]:
    """Take or renew the lease of every enabled endpoint no other process holds: the ones
    returned are this process's to deliver until `now_ms + lease_ms`. One statement, so of
    two processes racing for an expired lease exactly one gets it."""
    def job(conn: Conn) -> list[Leased]:
        rows = conn.execute(
            "UPDATE webhook_endpoints SET lease_owner = ?, lease_expires_ms = ? "
            "WHERE enabled = 1 AND (lease_owner = ? OR lease_expires_ms < ?) "
            "RETURNING id, url, secret", (owner, now_ms + lease_ms, owner, now_ms)).fetchall()
        return [Leased(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    return await store.write(job)


async def release(store: Store, owner: str) -> None:
    """Give up this process's leases (a clean stop), so another takes them at once."""
    await store.write(lambda conn: conn.execute(
        "UPDATE webhook_endpoints SET lease_owner = '', lease_expires_ms = 0 "
        "WHERE lease_owner = ?", (owner,)))


_DUE_COLUMNS = ("o.conversation_id, o.seq, o.attempts, e.type, e.author, e.payload, e.ts_ms "
                "FROM webhook_outbox o LEFT JOIN events e "
                "ON e.conversation_id = o.conversation_id AND e.seq = o.seq ")


def _due_row(r: Row) -> Due:
    return Due(str(r[0]), int(r[1]), int(r[2]), r[3], r[4] or "",
               json.loads(r[5]) if r[5] else {}, int(r[6] or 0))


# The endpoint as a task leased it: still enabled, still this process's lease, still the same
# URL and secret (an admin's change, or a delete and a new endpoint with the same id, made
# through another process is seen at the task's next round, not at the next lease renewal).
_HELD = ("SELECT 1 FROM webhook_endpoints w WHERE w.id = ? AND w.enabled = 1 "
         "AND w.lease_owner = ? AND w.url = ? AND w.secret = ?")


async def due(store: Store, endpoint_id: int, now_ms: int, chats: int, chain: int = 1,
              held: tuple[str, Leased] | None = None) -> list[list[Due]] | None:
    """Up to `chats` conversations whose lowest outstanding row is due, oldest first, each
    with up to `chain` of its rows in seq order from that lowest one: sent one after another,
    stopping at the first failure, they keep the conversation's order.

    `held`: (owner, endpoint) of the task asking; None is returned, and nothing is sent,
    once that endpoint is no longer held as it was leased (disabled, lease lost, URL or secret
    changed, deleted): the task stops and the leases are looked at again."""
    check, values = "", (endpoint_id, now_ms, chats)
    if held is not None:
        owner, leased = held
        check = f"AND EXISTS ({_HELD}) "
        values = (endpoint_id, now_ms, endpoint_id, owner, leased.url, leased.secret, chats)
    heads = [_due_row(r) for r in await store.fetchall(
        f"SELECT {_DUE_COLUMNS}"  # noqa: S608 (fixed columns)
        "WHERE o.endpoint_id = ? AND o.next_ms <= ? AND NOT EXISTS ("
        " SELECT 1 FROM webhook_outbox p WHERE p.endpoint_id = o.endpoint_id"
        f" AND p.conversation_id = o.conversation_id AND p.seq < o.seq) {check}"
        "ORDER BY o.next_ms, o.conversation_id, o.seq LIMIT ?", values)]
    if not heads and held is not None and await store.fetchone(
            _HELD, (endpoint_id, held[0], held[1].url, held[1].secret)) is None:
        return None
    if chain <= 1 or not heads:
        return [[head] for head in heads]
    marks = ", ".join("?" * len(heads))
    rest: dict[str, list[Due]] = {head.conversation_id: [] for head in heads}
    for r in await store.fetchall(
            f"SELECT {_DUE_COLUMNS}WHERE o.endpoint_id = ? "
            f"AND o.conversation_id IN ({marks}) ORDER BY o.conversation_id, o.seq",
            (endpoint_id, *rest)):
        rows = rest[str(r[0])]
        if len(rows) < chain:
            rows.append(_due_row(r))
    # What follows each head (a row written since the first query is simply left for later).
    return [[head, *(row for row in rest[head.conversation_id] if row.seq > head.seq)][:chain]
            for head in heads]


async def settle(store: Store, endpoint_id: int, outcomes: Sequence[Outcome], now_ms: int,
                 disable_after_ms: int, prune: bool) -> bool:
    """Record a round of attempts in one transaction: delivered rows leave the outbox, failed
    ones wait until their retry time, each attempt goes to the delivery log. Returns True
    when this round disabled the endpoint (failing for `disable_after_ms` with no success):
    the one process that did says so in the log, once."""
    def job(conn: Conn) -> bool:
        key = "endpoint_id = ? AND conversation_id = ? AND seq = ?"
        done = [(endpoint_id, o.due.conversation_id, o.due.seq) for o in outcomes
                if o.answer is None or o.answer.ok]
        conn.executemany(f"DELETE FROM webhook_outbox WHERE {key}", done)  # noqa: S608
        conn.executemany(
            f"UPDATE webhook_outbox SET attempts = attempts + 1, next_ms = ? WHERE {key}",  # noqa: S608
            [(o.retry_ms, endpoint_id, o.due.conversation_id, o.due.seq) for o in outcomes
             if o.answer is not None and not o.answer.ok])
        sent = [o for o in outcomes if o.answer is not None]
        conn.executemany(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, attempt, "
            "status, duration_ms, error, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(endpoint_id, f"{o.due.conversation_id}:{o.due.seq}", o.due.kind,
              o.due.attempts + 1, o.answer.status, o.answer.duration_ms, o.answer.error,
              now_ms) for o in sent if o.answer is not None])
        if prune:
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND id < (SELECT "
                "coalesce(min(id), 0) FROM (SELECT id FROM webhook_deliveries WHERE "
                "endpoint_id = ? ORDER BY id DESC LIMIT ?) AS kept)",
                (endpoint_id, endpoint_id, KEPT_DELIVERIES))
        if any(o.answer.ok for o in sent if o.answer is not None):
            conn.execute("UPDATE webhook_endpoints SET failing_since_ms = NULL WHERE id = ?",
                         (endpoint_id,))
            return False
        if not sent:
            return False
        conn.execute("UPDATE webhook_endpoints SET failing_since_ms = "
                     "coalesce(failing_since_ms, ?) WHERE id = ?", (now_ms, endpoint_id))
        return conn.execute(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'failing', "
            "disabled_ms = ?, lease_owner = '', lease_expires_ms = 0 "
            "WHERE id = ? AND enabled = 1 AND failing_since_ms <= ? RETURNING id",
            (now_ms, endpoint_id, now_ms - disable_after_ms)).fetchone() is not None

    return await store.write(job)


# --- what the admin page reads and changes ---------------------------------------------------

async def endpoints(store: Store) -> list[dict[str, Any]]:
    """Every endpoint with its event types and how many events wait for it."""
    rows = await store.fetchall(f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints "  # noqa: S608
                                "ORDER BY id")
    kinds = await store.fetchall("SELECT endpoint_id, type FROM webhook_subscriptions")
    waiting = {int(r[0]): int(r[1]) for r in await store.fetchall(
        "SELECT endpoint_id, count(*) FROM webhook_outbox GROUP BY endpoint_id")}
    return [{**endpoint_json(r),
             "events": sorted((str(k[1]) for k in kinds if k[0] == r["id"]),
                              key=_event_order),
             "waiting": int(waiting.get(r["id"], 0))} for r in rows]


def _event_order(kind: str) -> int:
    return EVENT_TYPES.index(kind) if kind in EVENT_TYPES else len(EVENT_TYPES)


def endpoint_json(row: Row) -> dict[str, Any]:
    return {"id": int(row["id"]), "url": row["url"], "description": row["description"],
            "enabled": bool(row["enabled"]), "disabled_reason": row["disabled_reason"],
            "disabled_ms": row["disabled_ms"], "failing_since_ms": row["failing_since_ms"],
            "created_ms": row["created_ms"]}


async def create(store: Store, url: str, description: str, secret: str, events: list[str],
                 user_id: int | None, now_ms: int) -> int:
    def job(conn: Conn) -> int:
        row = conn.execute(
            "INSERT INTO webhook_endpoints (url, description, secret, created_ms, created_by) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (url, description, secret, now_ms, user_id)).fetchone()
        endpoint_id = int(row[0])
        _subscribe(conn, endpoint_id, events)
        return endpoint_id

    return await store.write(job)


def _subscribe(conn: Conn, endpoint_id: int, events: list[str]) -> None:
    conn.execute("DELETE FROM webhook_subscriptions WHERE endpoint_id = ?", (endpoint_id,))
    conn.executemany("INSERT INTO webhook_subscriptions (type, endpoint_id) VALUES (?, ?)",
                     [(kind, endpoint_id) for kind in events])


async def update(store: Store, endpoint_id: int, changes: dict[str, Any],
                 events: list[str] | None, now_ms: int) -> bool:
    """Change an endpoint's fields (url, description, secret, enabled). Enabling clears the
    failure and makes every waiting row due now: delivery resumes where it stopped."""
    def job(conn: Conn) -> bool:
        if conn.execute("SELECT 1 FROM webhook_endpoints WHERE id = ?",
                        (endpoint_id,)).fetchone() is None:
            return False
        sets = dict(changes)
        if changes.get("enabled") == 1:
            sets.update(disabled_reason="", disabled_ms=None, failing_since_ms=None)
            conn.execute("UPDATE webhook_outbox SET next_ms = ? WHERE endpoint_id = ?",
                         (now_ms, endpoint_id))
        elif changes.get("enabled") == 0:
            sets.update(disabled_reason="admin", disabled_ms=now_ms, lease_owner="",
                        lease_expires_ms=0)
        if sets:
            assignments = ", ".join(f"{column} = ?" for column in sets)
            conn.execute(f"UPDATE webhook_endpoints SET {assignments} WHERE id = ?",  # noqa: S608
                         (*sets.values(), endpoint_id))
        if events is not None:
            _subscribe(conn, endpoint_id, events)
            # The waiting rows of the types taken off go too: they are not sent afterwards.
            marks = ", ".join("?" * len(events))
            conn.execute(
                "DELETE FROM webhook_outbox WHERE endpoint_id = ? AND EXISTS (SELECT 1 FROM "  # noqa: S608
                "events e WHERE e.conversation_id = webhook_outbox.conversation_id AND "
                f"e.seq = webhook_outbox.seq AND e.type NOT IN ({marks}))",
                (endpoint_id, *events))
        return True

    return await store.write(job)


async def delete(store: Store, endpoint_id: int) -> bool:
    """Remove an endpoint with what waits for it and its log."""
    def job(conn: Conn) -> bool:
        for table in ("webhook_subscriptions", "webhook_outbox", "webhook_deliveries"):
            conn.execute(f"DELETE FROM {table} WHERE endpoint_id = ?",  # noqa: S608
                         (endpoint_id,))
        return conn.execute("DELETE FROM webhook_endpoints WHERE id = ? RETURNING id",
                            (endpoint_id,)).fetchone() is not None

    return await store.write(job)


async def deliveries(store: Store, endpoint_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = await store.fetchall(
        "SELECT event_id, event_type, attempt, status, duration_ms, error, ts_ms "
        "FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?",
        (endpoint_id, limit))
    return [{"event_id": r[0], "type": r[1], "attempt": int(r[2]), "status": r[3],
             "duration_ms": int(r[4]), "error": r[5], "ts_ms": int(r[6])} for r in rows]
