"""API tokens in the store: made (shown once), listed, revoked, and looked up per request.

Every request reads the token's row, so a revocation takes effect at once in every process
sharing the database; `last_used_ms` is written at most once a minute per token and process,
so a busy integration does not turn each read into a write.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any

from chatserver.core import api_tokens as shape
from chatserver.store.store import Conn, Row, Store

TOUCH_EVERY_MS = 60_000  # the list shows "last used" to the minute; no write per request
_ALPHANUMERIC = string.ascii_letters + string.digits
_COLUMNS = ("id, token_id, name, scopes, created_by, created_ms, last_used_ms, revoked_ms, "
            "revoked_by")


def token_json(row: Row) -> dict[str, Any]:
    """What an admin sees of a token: never the secret, nor its digest."""
    return {"id": row["id"], "prefix": shape.PREFIX + row["token_id"], "name": row["name"],
            "scopes": row["scopes"].split(), "created_by": row["created_by"],
            "created_ms": row["created_ms"], "last_used_ms": row["last_used_ms"],
            "revoked_ms": row["revoked_ms"], "revoked": row["revoked_ms"] is not None}


class ApiTokens:
    """The tokens of one database; `clock` gives milliseconds."""

    def __init__(self, store: Store, clock: Callable[[], int]) -> None:
        self.store = store
        self.clock = clock
        self._touched: dict[int, int] = {}  # token row id -> when this process last wrote it

    async def create(self, name: str, scopes: tuple[str, ...], user_id: int
                     ) -> tuple[dict[str, Any], str]:
        """The new token's row and the token itself, which is never stored nor shown again."""
        token_id = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(shape.ID_LENGTH))
        secret = secrets.token_urlsafe(32)
        now = self.clock()

        def job(conn: Conn) -> int:
            return int(conn.execute(
                "INSERT INTO api_tokens (token_id, name, digest, scopes, created_by, created_ms)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (token_id, name, shape.digest(secret), " ".join(scopes), user_id, now),
            ).fetchone()[0])

        row = await self.get(await self.store.write(job))
        assert row is not None
        return row, shape.compose(token_id, secret)

    async def get(self, row_id: int) -> dict[str, Any] | None:
        row = await self.store.fetchone(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", (row_id,))  # noqa: S608
        return None if row is None else token_json(row)

    async def listing(self) -> list[dict[str, Any]]:
        """Live tokens first, newest first; revoked ones stay listed (the audit log names
        them)."""
        rows = await self.store.fetchall(
            f"SELECT {_COLUMNS} FROM api_tokens "  # noqa: S608 (fixed column list)
            "ORDER BY revoked_ms IS NOT NULL, created_ms DESC, id DESC")
        return [token_json(r) for r in rows]

    async def revoke(self, row_id: int, user_id: int) -> dict[str, Any] | None:
        """Revoked from now on, everywhere; None when there is no such token. Revoking twice
        keeps the first time."""
        now = self.clock()
        await self.store.write(lambda conn: conn.execute(
            "UPDATE api_tokens SET revoked_ms = ?, revoked_by = ? "
            "WHERE id = ? AND revoked_ms IS NULL", (now, user_id, row_id)))
        self._touched.pop(row_id, None)
        return await self.get(row_id)

    async def authenticate(self, token_id: str, secret: str) -> Row | None:
        """The live token's row when the secret is right; None otherwise (unknown, revoked
        and wrong look alike to the caller). A token acts for the admin who made it, so it
        works only while they are an enabled admin: disabled, deleted or no longer an admin,
        their tokens are refused as their sessions are."""
        row = await self.store.fetchone(
            "SELECT t.id, t.token_id, t.name, t.digest, t.scopes, t.created_by, t.revoked_ms, "
            "u.username AS creator FROM api_tokens t JOIN users u ON u.id = t.created_by "
            "AND u.disabled = 0 AND u.role = 'admin' WHERE t.token_id = ?", (token_id,))
        # Compared even for an unknown id, so timing does not tell which ids exist.
        stored = row["digest"] if row is not None else "0" * 64
        if not shape.matches(secret, stored) or row is None or row["revoked_ms"] is not None:
            return None
        await self._touch(int(row["id"]))
        return row

    async def _touch(self, row_id: int) -> None:
        now = self.clock()
        if now - self._touched.get(row_id, -TOUCH_EVERY_MS) < TOUCH_EVERY_MS:
            return
        self._touched[row_id] = now
        await self.store.write(lambda conn: conn.execute(
            "UPDATE api_tokens SET last_used_ms = ? WHERE id = ?", (now, row_id)))
