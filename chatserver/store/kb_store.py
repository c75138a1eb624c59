"""Knowledge-base storage: current entries plus every version, and the bot kept in step.

Each change writes the entry row and a version snapshot in one transaction (through the
store's writer), then updates the in-memory bot index for that one entry — no rebuild. Deleting
is soft, so a deleted entry's history stays readable and restorable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from bot import Bot
from bot import Entry as BotEntry
from bot.smalltalk import kind_of
from chatserver.core.errors import Conflict, NotFound
from knowledge_base.defaults import load_default_entries
from knowledge_base.model import CONTENT_FIELDS, Entry, EntryError, validate

from .backend import Conn, Row
from .store import Store

SEEDED = "kb_default_loaded"
# The small-talk replies came later (issue 15): a knowledge base seeded before them gets them
# once, and an admin who deletes them afterwards is not overruled.
SMALLTALK_SEEDED = "kb_smalltalk_loaded"


def _entry_from_row(row: Row) -> Entry:
    return Entry(
        id=row["id"], title=row["title"], questions=tuple(json.loads(row["questions"])),
        answer=row["answer"], language=row["language"], tags=tuple(json.loads(row["tags"])),
        skill=row["skill"], status=row["status"], version=row["version"],
    )


def _columns(entry: Entry) -> tuple[Any, ...]:
    return (entry.title, entry.language, entry.status, entry.skill,
            json.dumps(list(entry.tags), ensure_ascii=False),
            json.dumps(list(entry.questions), ensure_ascii=False), entry.answer, entry.version)


def _write(conn: Conn, entry: Entry, action: str, user_id: int | None,
           now_ms: int) -> Entry:
    """Insert or update the row and record the version; returns the stored entry.

    An update applies only to the version before `entry.version`, in the one statement: a job
    that read the version first would, at PostgreSQL's READ COMMITTED, let two machines both
    read it and collide on the kb_versions key. The loser's UPDATE waits for the winner's row,
    finds the version changed and matches nothing: Conflict. A deleted entry is only restored.
    """
    if entry.id is None:
        cursor = conn.execute(
            "INSERT INTO kb_entries (title, language, status, skill, tags, questions, answer, "
            "version, updated_ms, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (*_columns(entry), now_ms, user_id),
        )
        entry = replace(entry, id=int(cursor.fetchone()[0]))
    else:
        changed = conn.execute(
            "UPDATE kb_entries SET title = ?, language = ?, status = ?, skill = ?, tags = ?, "
            "questions = ?, answer = ?, version = ?, deleted = ?, updated_ms = ?, "
            "updated_by = ? WHERE id = ? AND version = ? AND deleted <= ?",
            (*_columns(entry), int(action == "delete"), now_ms, user_id, entry.id,
             entry.version - 1, int(action == "restore")),  # deleted is 0 or 1
        )
        if changed.rowcount == 0:
            raise _refusal(conn, entry.id, action)
    conn.execute(
        "INSERT INTO kb_versions (entry_id, version, action, snapshot, changed_by, changed_ms) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (entry.id, entry.version, action, json.dumps(entry.to_dict(), ensure_ascii=False),
         user_id, now_ms),
    )
    return entry


def _refusal(conn: Conn, entry_id: int, action: str) -> NotFound | Conflict:
    """Why a conditional update matched no row: the entry is gone, or it changed."""
    row = conn.execute("SELECT version, deleted FROM kb_entries WHERE id = ?",
                       (entry_id,)).fetchone()
    if row is None or (row[1] and action != "restore"):
        return NotFound(f"no knowledge-base entry {entry_id}")
    return _changed(entry_id, row[0])


def _changed(entry_id: int, version: int) -> Conflict:
    return Conflict(f"entry {entry_id} changed meanwhile (now version {version}); "
                    "reload and edit again")


def to_bot(entry: Entry) -> BotEntry:
    assert entry.id is not None
    return BotEntry(id=entry.id, language=entry.language, title=entry.title,
                    questions=entry.questions, answer=entry.answer, skill=entry.skill,
                    tags=entry.tags)


class KnowledgeBase:
    """The entries in the database and, for the published ones, in the bot's index."""

    def __init__(self, store: Store, bot: Bot) -> None:
        self.store = store
        self.bot = bot
        self.answers: dict[int, tuple[str, str]] = {}  # published id -> (title, answer)

    async def load(self, now_ms: int) -> None:
        """At start-up: ship the default entries once, then index every published entry."""
        defaults = load_default_entries()

        def claim(conn: Conn, mark: str) -> bool:
            """Set the mark; True only for the one machine that set it. A read of `meta`
            would not do: at PostgreSQL's READ COMMITTED two machines starting together both
            read 'not seeded'; the insert of the second waits for the first and finds it."""
            return conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key",
                (mark, str(now_ms))).fetchone() is not None

        def seed(conn: Conn) -> None:
            if claim(conn, SEEDED):
                claim(conn, SMALLTALK_SEEDED)  # the full set holds the small talk
                new = defaults
            elif claim(conn, SMALLTALK_SEEDED):
                new = [e for e in defaults if kind_of(e.tags) is not None]
            else:
                return
            for entry in new:
                _write(conn, replace(entry, id=None, version=1), "create", None, now_ms)

        await self.store.write(seed)
        for entry in await self.entries(status="published"):
            self._index(entry)

    def _index(self, entry: Entry) -> None:
        assert entry.id is not None
        if entry.status == "published":
            self.bot.upsert(to_bot(entry))
            self.answers[entry.id] = (entry.title, entry.answer)
        else:
            self._unindex(entry.id)

    def _unindex(self, entry_id: int) -> None:
        if entry_id in self.answers:
            self.bot.remove(entry_id)
            del self.answers[entry_id]

    # --- reading -------------------------------------------------------------------------

    async def entries(self, *, language: str | None = None, status: str | None = None,
                      query: str | None = None, limit: int = 1000) -> list[Entry]:
        sql, params = "SELECT * FROM kb_entries WHERE deleted = 0", list[Any]()
        if language is not None:
            sql, params = sql + " AND language = ?", [*params, language]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        if query:
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (" AND (title LIKE ? ESCAPE '\\' OR questions LIKE ? ESCAPE '\\' "
                    "OR answer LIKE ? ESCAPE '\\')")
            params += [like, like, like]
        rows = await self.store.fetchall(sql + " ORDER BY language, title LIMIT ?",
                                         (*params, limit))
        return [_entry_from_row(r) for r in rows]

    async def get(self, entry_id: int) -> Entry:
        row = await self.store.fetchone(
            "SELECT * FROM kb_entries WHERE id = ? AND deleted = 0", (entry_id,))
        if row is None:
            raise NotFound(f"no knowledge-base entry {entry_id}")
        return _entry_from_row(row)

    async def history(self, entry_id: int) -> list[dict[str, Any]]:
        rows = await self.store.fetchall(
            "SELECT kb_versions.*, users.username FROM kb_versions "
            "LEFT JOIN users ON users.id = kb_versions.changed_by "
            "WHERE entry_id = ? ORDER BY version DESC", (entry_id,))
        if not rows:
            raise NotFound(f"no knowledge-base entry {entry_id}")
        return [{"version": r["version"], "action": r["action"], "changed_by": r["username"],
                 "changed_ms": r["changed_ms"], "entry": json.loads(r["snapshot"])}
                for r in rows]

    # --- changing ------------------------------------------------------------------------

    async def create(self, data: Mapping[str, Any], user_id: int | None, now_ms: int) -> Entry:
        entry = validate({**data, "id": None, "version": 1})
        stored = await self.store.write(lambda c: _write(c, entry, "create", user_id, now_ms))
        self._index(stored)
        return stored

    async def update(self, entry_id: int, data: Mapping[str, Any], user_id: int | None,
                     now_ms: int, *, action: str = "update") -> Entry:
        """Change an entry; `data["version"]` must be the version the editor started from."""
        if "version" not in data:
            raise EntryError("version", "required: the version you edited, to catch "
                             "concurrent edits")
        current = await self.get(entry_id)
        if current.version != data["version"]:
            raise _changed(entry_id, current.version)
        merged = {**current.to_dict(), **{k: v for k, v in data.items() if k in CONTENT_FIELDS}}
        entry = validate({**merged, "id": entry_id, "version": current.version + 1})
        stored = await self.store.write(lambda c: _write(c, entry, action, user_id, now_ms))
        self._index(stored)
        return stored

    async def publish(self, entry_id: int, user_id: int | None, now_ms: int) -> Entry:
        current = await self.get(entry_id)
        return await self.update(entry_id, {"status": "published", "version": current.version},
                                 user_id, now_ms, action="publish")

    async def delete(self, entry_id: int, user_id: int | None, now_ms: int) -> None:
        current = await self.get(entry_id)
        gone = replace(current, version=current.version + 1)
        await self.store.write(lambda c: _write(c, gone, "delete", user_id, now_ms))
        self._unindex(entry_id)

    async def restore(self, entry_id: int, version: int, user_id: int | None,
                      now_ms: int) -> Entry:
        """Make an earlier version current again (as a new version; history is never lost)."""
        row = await self.store.fetchone(
            "SELECT snapshot FROM kb_versions WHERE entry_id = ? AND version = ?",
            (entry_id, version))
        if row is None:
            raise NotFound(f"entry {entry_id} has no version {version}")
        old = json.loads(row["snapshot"])
        latest = await self.store.fetchone("SELECT version FROM kb_entries WHERE id = ?",
                                           (entry_id,))
        assert latest is not None
        entry = validate({**old, "id": entry_id, "version": latest["version"] + 1})
        stored = await self.store.write(lambda c: _write(c, entry, "restore", user_id, now_ms))
        self._index(stored)
        return stored

    async def import_entries(self, entries: Iterable[Entry], user_id: int | None,
                             now_ms: int) -> list[Entry]:
        """Add every entry in one transaction: all of them or, on any failure, none."""
        fresh = [replace(e, id=None, version=1) for e in entries]

        def job(conn: Conn) -> list[Entry]:
            return [_write(conn, e, "import", user_id, now_ms) for e in fresh]

        stored = await self.store.write(job)
        for entry in stored:
            self._index(entry)
        return stored
