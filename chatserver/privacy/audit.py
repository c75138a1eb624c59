"""The audit log: who did what to which record, and when, for every admin action.

Rows are only ever added. `user_id` has no foreign key and the username is copied in, so an
entry still names its author after that account is renamed or removed. `detail` holds counts
and ids, never personal text: the log must survive every erasure it records.

Actions are dotted names, grouped by their first part so `?action=kb.` lists a whole group:
kb.create, kb.update, kb.publish, kb.delete, kb.restore, kb.import, kb.export, kb.learn.approve,
kb.learn.reject (a phrasing proposed from an agent's answer, learning_api.py); user.create,
user.update, user.password; label.create, label.update, label.delete (labels_api.py);
canned.create, canned.update, canned.delete, canned.restore (the team's canned responses,
canned_api.py; one's own are not audited);
privacy.export, privacy.erase; retention.purge; supervisor.whisper, supervisor.take_over (a
supervisor's note to the agent holding a chat, and taking the chat over: agent_socket.py; the
whisper's text stays in the conversation's log, never here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import HTTPConnection

from chatserver.store.store import Conn, Row, Store

SYSTEM = "system"  # the author of entries made by the server itself (the purge job, the CLI)
MAX_LIMIT = 500


def _now_ms() -> int:
    return int(time.time() * 1000)


def address_of(conn: HTTPConnection) -> str:
    """The client's address as the server sees it (the proxy's X-Forwarded-For, when trusted)."""
    return conn.client.host if conn.client else ""


async def record(
    store: Store,
    user: Mapping[str, Any] | Row | None,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    address: str,
    *,
    now_ms: int | None = None,
) -> int:
    """Append one entry (durable when this returns); `user` None means the server itself."""
    return await store.write(entry_job(user, action, target, detail, address, now_ms=now_ms))


def entry_job(user: Mapping[str, Any] | Row | None, action: str, target: str,
              detail: Mapping[str, Any], address: str, *,
              now_ms: int | None = None) -> Callable[[Conn], int]:
    """The write of one entry, for a caller that commits it with its own change (a whisper's
    event and its entry are stored together or not at all)."""
    user_id = None if user is None else int(user["id"])
    username = SYSTEM if user is None else str(user["username"])
    ts = _now_ms() if now_ms is None else now_ms
    text = json.dumps(dict(detail), ensure_ascii=False, sort_keys=True)

    def job(conn: Conn) -> int:
        cursor = conn.execute(
            "INSERT INTO audit_log (ts_ms, user_id, username, action, target, detail, address) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (ts, user_id, username, action, target, text, address or ""))
        return int(cursor.fetchone()[0])

    return job


def entry_json(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "ts_ms": row["ts_ms"], "user_id": row["user_id"],
            "username": row["username"], "action": row["action"], "target": row["target"],
            "detail": json.loads(row["detail"]), "address": row["address"]}


async def entries(
    store: Store,
    *,
    action: str | None = None,
    username: str | None = None,
    target: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first. `action` ending in "." matches the whole group; `before_id` pages on."""
    where, params = [], []
    if action:
        if action.endswith("."):
            where.append("substr(action, 1, ?) = ?")
            params += [len(action), action]
        else:
            where.append("action = ?")
            params.append(action)
    for clause, value in (("lower(username) = lower(?)", username), ("target = ?", target),
                          ("ts_ms >= ?", since_ms), ("ts_ms < ?", until_ms),
                          ("id < ?", before_id)):
        if value is not None and value != "":
            where.append(clause)
            params.append(value)
    sql = "SELECT * FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(max(1, min(limit, MAX_LIMIT)))
    return [entry_json(row) for row in await store.fetchall(sql, params)]
