"""A returning visitor's hello writes only what changed (issue 22): last_seen_ms moves at most
every SEEN_EVERY_MS, so a reconnect storm costs no write per socket; anything the visitor tells
(name, e-mail, language) is still stored at once, and a new visitor's row is written before the
welcome."""

from __future__ import annotations

import pytest

from chatserver.store.store import NewEvent, Store
from chatserver.web.visitor_socket import SEEN_EVERY_MS, VISITOR_AND_OPEN_CHAT

from .databases import db_location
from .harness import Server, shared_server, sql, visitor

__all__ = ["db_location", "shared_server"]
pytestmark = pytest.mark.anyio


def row(server: Server, visitor_id: str) -> tuple[str, int]:
    ((name, seen),) = sql(server.db, "SELECT name, last_seen_ms FROM visitors WHERE id = ?",
                          (visitor_id,))
    return name, seen


async def test_a_quick_return_writes_nothing_and_a_new_name_is_stored(
        shared_server: Server) -> None:
    first = await visitor(shared_server, language="en")
    token = first.welcome["visitor_token"]
    await first.ws.close()
    ((vid,),) = sql(shared_server.db, "SELECT id FROM visitors ORDER BY created_ms DESC LIMIT 1")
    name, seen = row(shared_server, vid)  # the new visitor was stored before its welcome
    assert name == ""
    again = await visitor(shared_server, visitor_token=token)
    assert row(shared_server, vid) == ("", seen)  # back within minutes: no write
    await again.ws.close()
    named = await visitor(shared_server, visitor_token=token, name="Leila")
    assert row(shared_server, vid)[0] == "Leila"  # what the visitor tells is stored at once
    await named.ws.close()


async def test_a_return_after_the_interval_moves_last_seen(shared_server: Server) -> None:
    first = await visitor(shared_server, language="en")
    token = first.welcome["visitor_token"]
    await first.ws.close()
    ((vid,),) = sql(shared_server.db, "SELECT id FROM visitors ORDER BY created_ms DESC LIMIT 1")
    long_ago = row(shared_server, vid)[1] - SEEN_EVERY_MS - 1
    sql(shared_server.db, "UPDATE visitors SET last_seen_ms = ? WHERE id = ?", (long_ago, vid))
    again = await visitor(shared_server, visitor_token=token)
    assert row(shared_server, vid)[1] > long_ago + SEEN_EVERY_MS
    await again.ws.close()


async def test_a_return_repeating_what_is_stored_writes_nothing(shared_server: Server) -> None:
    """The widget sends its language (and a signed-in page its name) in every hello: telling
    the server what it already holds is not news, so a reconnect storm of widgets writes
    nothing either; a different language is still stored at once."""
    first = await visitor(shared_server, language="fa", name="Leila")
    token = first.welcome["visitor_token"]
    await first.ws.close()
    ((vid,),) = sql(shared_server.db, "SELECT id FROM visitors ORDER BY created_ms DESC LIMIT 1")
    seen = row(shared_server, vid)[1]
    sql(shared_server.db, "UPDATE visitors SET last_seen_ms = ? WHERE id = ?", (seen - 1, vid))
    again = await visitor(shared_server, visitor_token=token, language="fa", name="Leila")
    assert row(shared_server, vid) == ("Leila", seen - 1)  # nothing new: no write
    await again.ws.close()
    changed = await visitor(shared_server, visitor_token=token, language="ar")
    assert sql(shared_server.db, "SELECT language FROM visitors WHERE id = ?",
               (vid,)) == [("ar",)]
    await changed.ws.close()


async def test_the_one_read_finds_the_open_chat_the_store_names_on_both_backends(
        db_location: str) -> None:
    """A quiet return takes its open chat from the read of the visitor's row (one query on
    both backends, rows read by column name): the newest chat not closed, as
    `open_conversation_of` names it, a newer closed one aside; none when all are closed."""
    store = Store(db_location)
    await store.open()
    try:
        await store.upsert_visitor("v1", {"name": "Leila", "language": "fa"}, 1_000)

        async def both() -> tuple[tuple[object, ...], tuple[object, ...] | None]:
            row = await store.fetchone(VISITOR_AND_OPEN_CHAT, ("v1",))
            assert row is not None and (row["id"], row["name"], row["erased_ms"]) == (
                "v1", "Leila", None)
            own = await store.open_conversation_of("v1")
            return ((row["open_id"], row["open_state"], row["open_seq"]),
                    None if own is None else (own["id"], own["state"], own["last_seq"]))

        assert await both() == ((None, None, None), None)
        for cid, at in (("older", 2_000), ("newer", 3_000), ("closed", 4_000)):
            await store.create_conversation(cid, "v1", {"language": "fa"}, at)
        await store.append("newer", [NewEvent("message", "visitor", {
            "from": "visitor", "author": "Leila", "text": "salaam"})], now_ms=3_500)
        await store.append("closed", [NewEvent("closed", "system", {"by": "visitor"})],
                           now_ms=4_500)
        read, named = await both()
        assert read == named == ("newer", "bot", 2)
        for cid in ("older", "newer"):
            await store.append(cid, [NewEvent("closed", "system", {"by": "visitor"})],
                               now_ms=5_000)
        assert await both() == ((None, None, None), None)
        assert await store.fetchone(VISITOR_AND_OPEN_CHAT, ("nobody",)) is None
    finally:
        await store.close()
