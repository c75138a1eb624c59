"""Canned responses: the team's, which admins edit, and each staff user's own; every version
kept as the knowledge base keeps its entries, deletes soft, concurrent edits caught.

Who may do what is decided here, so every caller gets the same answer: everyone on staff reads
the team's and their own (another user's own is a 404, as if it did not exist); admins change
the team's; each user changes only their own. Each change writes the row and a version
snapshot in one transaction; an update applies only to the version the editor started from
(409 otherwise), in the one statement, as kb_store._write explains.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from chatserver.core.canned import (
    MAX_TEXT,
    Canned,
    CannedError,
    convert_legacy,
    matches,
    validate,
)
from chatserver.core.canned_seed import SEED
from chatserver.core.errors import Conflict, Forbidden, NotFound
from chatserver.core.msgids import N_
from chatserver.store.store import Conn, Row, Store

SEEDED = "canned_default_loaded"  # the meta mark: the team's set was seeded once
_COLUMNS = "id, owner_id, shortcut, title, entry_id, variants, version, updated_ms"
# The most rows a list shows, and so the most a search looks through.
MAX_LISTED = 2000
_TAKEN_SQL = ("SELECT 1 FROM canned_responses WHERE coalesce(owner_id, 0) = ? AND shortcut = ? "
              "AND deleted = 0 AND id <> ?")


# The audit entry of a change to a team response, given it as stored: written in the change's
# transaction (privacy/audit.py entry_job), so neither is kept without the other.
Record = Callable[[Canned], Callable[[Conn], object]]


def _taken_error() -> CannedError:
    return CannedError("shortcut", N_("another response of the same list has this shortcut"))


def _from_row(row: Row) -> Canned:
    return Canned(id=row["id"], owner_id=row["owner_id"], shortcut=row["shortcut"],
                  title=row["title"], entry_id=row["entry_id"],
                  variants=json.loads(row["variants"]), version=row["version"])


def to_json(row: Row) -> dict[str, Any]:
    return {**_from_row(row).to_dict(), "updated_ms": row["updated_ms"]}


def _snapshot(canned: Canned) -> str:
    data = canned.to_dict()
    return json.dumps({k: data[k] for k in ("shortcut", "title", "entry_id", "variants")},
                      ensure_ascii=False)


def _taken(conn: Conn, canned: Canned) -> bool:
    """Another live response of the same list (the team's, or this owner's) has the shortcut:
    what the unique index says, asked first so the usual case is a 422, not an error."""
    return conn.execute(_TAKEN_SQL, _taken_params(canned)).fetchone() is not None


def _taken_params(canned: Canned) -> tuple[int, str, int]:
    return (canned.owner_id or 0, canned.shortcut, canned.id or 0)


def _write(conn: Conn, canned: Canned, action: str, user_id: int | None, now_ms: int,
           record: Record | None = None) -> Canned:
    """Insert or conditionally update the row and record the version (kb_store._write), and
    for a team response the audit entry `record` makes."""
    if canned.entry_id is not None and conn.execute(
            "SELECT 1 FROM kb_entries WHERE id = ? AND deleted = 0",
            (canned.entry_id,)).fetchone() is None:
        raise CannedError("entry_id", f"no knowledge-base entry {canned.entry_id}")
    if action != "delete" and _taken(conn, canned):
        raise _taken_error()
    variants = json.dumps(dict(canned.variants), ensure_ascii=False)
    if canned.id is None:
        row = conn.execute(
            "INSERT INTO canned_responses (owner_id, shortcut, title, entry_id, variants, "
            "version, updated_ms, updated_by) VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING id",
            (canned.owner_id, canned.shortcut, canned.title, canned.entry_id, variants, now_ms,
             user_id)).fetchone()
        canned = replace(canned, id=int(row[0]), version=1)
    else:
        changed = conn.execute(
            "UPDATE canned_responses SET shortcut = ?, title = ?, entry_id = ?, variants = ?, "
            "version = ?, deleted = ?, updated_ms = ?, updated_by = ? "
            "WHERE id = ? AND version = ? AND deleted <= ?",
            (canned.shortcut, canned.title, canned.entry_id, variants, canned.version,
             int(action == "delete"), now_ms, user_id, canned.id, canned.version - 1,
             int(action == "restore")))  # deleted is 0 or 1: only a restore revives
        if changed.rowcount == 0:
            raise _refusal(conn, canned.id, action)
    conn.execute(
        "INSERT INTO canned_versions (response_id, version, action, snapshot, changed_by, "
        "changed_ms) VALUES (?, ?, ?, ?, ?, ?)",
        (canned.id, canned.version, action, _snapshot(canned), user_id, now_ms))
    if record is not None and canned.owner_id is None:  # one's own are not audited
        record(canned)(conn)
    return canned


def _refusal(conn: Conn, response_id: int, action: str) -> NotFound | Conflict:
    """Why a conditional update matched no row: the response is gone, or it changed."""
    row = conn.execute("SELECT version, deleted FROM canned_responses WHERE id = ?",
                       (response_id,)).fetchone()
    if row is None or (row[1] and action != "restore"):
        return NotFound(f"no canned response {response_id}")
    return _changed(response_id, row[0])


def _changed(response_id: int, version: int) -> Conflict:
    return Conflict(f"canned response {response_id} changed meanwhile (now version "
                    f"{version}); reload and edit again")


def _may_change(owner_id: int | None, user: Mapping[str, Any]) -> None:
    if owner_id is None and user["role"] != "admin":
        raise Forbidden(N_("only admins change the team's canned responses"))


class CannedResponses:
    """The canned responses in the store, as each staff user may see and change them."""

    def __init__(self, store: Store, *, max_text: int = MAX_TEXT) -> None:
        self.store = store
        self.max_text = max_text  # the desk's limits.max_text_chars: a text is one chat line

    async def seed(self, now_ms: int) -> int:
        """At start-up: the team's set, once per database (how many were added). The meta
        insert claims it: of two processes starting together only one sets the mark (a read
        of `meta` would let both see 'not seeded', kb_store.load says why)."""
        responses = [validate({**item, "variants": {
            language: convert_legacy(text) for language, text in
            item["variants"].items()}}) for item in SEED]  # type: ignore[union-attr]

        def job(conn: Conn) -> int:
            claimed = conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING "
                "RETURNING key", (SEEDED, str(now_ms))).fetchone()
            if claimed is None:
                return 0
            for canned in responses:
                _write(conn, canned, "create", None, now_ms)
            return len(responses)

        return await self.store.write(job)

    # --- reading -------------------------------------------------------------------------

    async def visible(self, user_id: int, *, scope: str | None = None,
                      query: str | None = None) -> list[dict[str, Any]]:
        """The team's and the user's own (`scope` "team" or "personal" for one list), own
        first, each list by shortcut; `query` finds words in the shortcut, title or texts.

        The search is Python's (core.canned.matches): SQL's lower() folds ASCII only on
        SQLite, and LIKE over the variants' JSON would find its keys and escapes."""
        sql = f"SELECT {_COLUMNS} FROM canned_responses WHERE deleted = 0 AND "  # noqa: S608
        params: list[Any] = []
        if scope == "team":
            sql += "owner_id IS NULL"
        elif scope == "personal":
            sql, params = sql + "owner_id = ?", [user_id]
        else:
            sql, params = sql + "(owner_id IS NULL OR owner_id = ?)", [user_id]
        rows = await self.store.fetchall(
            sql + f" ORDER BY owner_id IS NULL, shortcut, id LIMIT {MAX_LISTED}", params)
        if query:
            rows = [row for row in rows if matches(_from_row(row), query)]
        return [to_json(row) for row in rows]

    async def _row(self, response_id: int, user: Mapping[str, Any], *,
                   deleted: bool = False) -> Row:
        """The response if this user may see it; another user's own is not found."""
        row = await self.store.fetchone(
            f"SELECT {_COLUMNS}, deleted FROM canned_responses WHERE id = ?",  # noqa: S608
            (response_id,))
        if row is None or (row["deleted"] and not deleted) or (
                row["owner_id"] is not None and row["owner_id"] != user["id"]):
            raise NotFound(f"no canned response {response_id}")
        return row

    async def get(self, response_id: int, user: Mapping[str, Any]) -> dict[str, Any]:
        return to_json(await self._row(response_id, user))

    async def history(self, response_id: int, user: Mapping[str, Any]) -> list[dict[str, Any]]:
        await self._row(response_id, user, deleted=True)
        rows = await self.store.fetchall(
            "SELECT canned_versions.*, users.username FROM canned_versions "
            "LEFT JOIN users ON users.id = canned_versions.changed_by "
            "WHERE response_id = ? ORDER BY version DESC", (response_id,))
        return [{"version": r["version"], "action": r["action"], "changed_by": r["username"],
                 "changed_ms": r["changed_ms"], "response": json.loads(r["snapshot"])}
                for r in rows]

    # --- changing ------------------------------------------------------------------------

    async def create(self, data: Mapping[str, Any], user: Mapping[str, Any], *, team: bool,
                     now_ms: int, record: Record | None = None) -> dict[str, Any]:
        """A new response: the team's (admins only) or the user's own."""
        owner_id = None if team else int(user["id"])
        _may_change(owner_id, user)
        canned = validate(data, owner_id=owner_id, max_text=self.max_text)
        stored = await self._store(canned, "create", user, now_ms, record)
        return await self.get(stored, user)

    async def update(self, response_id: int, data: Mapping[str, Any], user: Mapping[str, Any],
                     now_ms: int, record: Record | None = None) -> dict[str, Any]:
        """Change a response; `data["version"]` must be the version the editor started from.
        Fields left out keep their value."""
        row = await self._row(response_id, user)
        _may_change(row["owner_id"], user)
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise CannedError("version", "required: the version you edited, to catch "
                              "concurrent edits")
        if version != row["version"]:
            raise _changed(response_id, row["version"])
        current = _from_row(row).to_dict()
        merged = {k: data.get(k, current[k]) for k in ("shortcut", "title", "entry_id",
                                                       "variants")}
        unknown = [k for k in data if k not in merged and k != "version"]
        if unknown:
            raise CannedError(unknown[0], "unknown field")
        canned = validate(merged, owner_id=row["owner_id"], response_id=response_id,
                          version=version + 1, max_text=self.max_text)
        await self._store(canned, "update", user, now_ms, record)
        return await self.get(response_id, user)

    async def delete(self, response_id: int, user: Mapping[str, Any],
                     now_ms: int, record: Record | None = None) -> dict[str, Any]:
        """Soft: the history stays readable and restorable. Returns what was deleted."""
        row = await self._row(response_id, user)
        _may_change(row["owner_id"], user)
        gone = replace(_from_row(row), version=row["version"] + 1)
        await self._store(gone, "delete", user, now_ms, record)
        return to_json(row)

    async def restore(self, response_id: int, version: int, user: Mapping[str, Any],
                      now_ms: int, record: Record | None = None) -> dict[str, Any]:
        """Make an earlier version current again, as a new version (a deleted one revives)."""
        row = await self._row(response_id, user, deleted=True)
        _may_change(row["owner_id"], user)
        old = await self.store.fetchone(
            "SELECT snapshot FROM canned_versions WHERE response_id = ? AND version = ?",
            (response_id, version))
        if old is None:
            raise NotFound(f"canned response {response_id} has no version {version}")
        canned = validate(json.loads(old["snapshot"]), owner_id=row["owner_id"],
                          response_id=response_id, version=row["version"] + 1,
                          max_text=self.max_text)
        await self._store(canned, "restore", user, now_ms, record)
        return await self.get(response_id, user)

    async def _store(self, canned: Canned, action: str, user: Mapping[str, Any],
                     now_ms: int, record: Record | None = None) -> int:
        """Write it; a shortcut another process took since the check is a 422 too."""
        user_id = int(user["id"])
        try:
            stored = await self.store.write(
                lambda c: _write(c, canned, action, user_id, now_ms, record))
        except self.store.backend.errors:
            if action == "delete" or await self.store.fetchone(
                    _TAKEN_SQL, _taken_params(canned)) is None:
                raise
            raise _taken_error() from None
        assert stored.id is not None
        return stored.id
