"""Canned responses in the store on both backends (a real SQLite file, a real PostgreSQL
database): the team's set seeded once even by two machines starting together, every change a
version, a stale edit refused, soft delete and restore, who sees and changes what, shortcuts
unique per list, search that takes wildcards as text. test_canned_api.py covers HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from chatserver.core.canned import CannedError
from chatserver.core.errors import Conflict, Forbidden, NotFound
from chatserver.service.canned import CannedResponses
from chatserver.store.store import Store

from .databases import db_location

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

NEW = {"shortcut": "ship", "title": "Shipping 100% free?",
       "variants": {"en": "Shipping is free, {visitor.name}.",
                    "fa": "{visitor.name}، ارسال رایگان است."}}


async def _user(store: Store, name: str, role: str) -> dict[str, Any]:
    user_id = await store.add_user(name, role=role, password_hash="x", display_name=name,
                                   skills={}, capacity=3, now_ms=1)
    return {"id": user_id, "role": role, "username": name}


@pytest.fixture
async def desk(db_location: str) -> AsyncIterator[tuple[CannedResponses, dict[str, Any],
                                                        dict[str, Any], dict[str, Any]]]:
    store = Store(db_location)
    await store.open()
    canned = CannedResponses(store)
    await canned.seed(1)
    admin, agent, other = (await _user(store, "root", "admin"),
                           await _user(store, "maryam", "agent"),
                           await _user(store, "li", "agent"))
    yield canned, admin, agent, other
    await store.close()


async def test_the_team_set_is_seeded_converted_and_only_once(desk: Any) -> None:
    canned, admin, agent, _ = desk
    team = await canned.visible(agent["id"], scope="team")
    assert [r["shortcut"] for r in team] == ["bye", "else", "hi", "look", "order", "refund",
                                             "wait"]
    hello = next(r for r in team if r["shortcut"] == "hi")
    assert hello["variants"]["en"].startswith("Hi {visitor.name},")
    assert "{agent.name}" in hello["variants"]["fa"] and set(hello["variants"]) == {
        "en", "fa", "ar", "zh"}
    assert await canned.seed(2) == 0  # a restart adds nothing
    await canned.delete(hello["id"], admin, 3)
    assert await canned.seed(4) == 0  # nor brings back what an admin deleted
    assert len(await canned.visible(agent["id"])) == 6


async def test_every_change_is_a_version_and_a_stale_edit_is_refused(desk: Any) -> None:
    canned, admin, _, _ = desk
    made = await canned.create(NEW, admin, team=True, now_ms=10)
    assert (made["version"], made["scope"], made["owner_id"]) == (1, "team", None)
    edited = await canned.update(made["id"], {"title": "Free shipping", "version": 1}, admin, 11)
    assert edited["version"] == 2 and edited["variants"] == made["variants"]
    with pytest.raises(Conflict):
        await canned.update(made["id"], {"title": "stale", "version": 1}, admin, 12)
    with pytest.raises(CannedError) as missing:
        await canned.update(made["id"], {"title": "no version"}, admin, 12)
    assert missing.value.field == "version"
    restored = await canned.restore(made["id"], 1, admin, 13)
    assert restored["title"] == NEW["title"] and restored["version"] == 3
    await canned.delete(made["id"], admin, 14)
    with pytest.raises(NotFound):
        await canned.get(made["id"], admin)
    history = await canned.history(made["id"], admin)  # outlives the response
    assert [(v["version"], v["action"]) for v in history] == [
        (4, "delete"), (3, "restore"), (2, "update"), (1, "create")]
    assert history[2]["response"]["title"] == "Free shipping"
    assert history[0]["changed_by"] == "root"
    back = await canned.restore(made["id"], 2, admin, 15)  # a deleted one comes back
    assert back["version"] == 5 and back["title"] == "Free shipping"


async def test_agents_read_the_team_set_and_change_only_their_own(desk: Any) -> None:
    canned, admin, agent, other = desk
    team = await canned.create(NEW, admin, team=True, now_ms=10)
    mine = await canned.create({**NEW, "title": "Mine"}, agent, team=False, now_ms=11)
    theirs = await canned.create({**NEW, "title": "Theirs"}, other, team=False, now_ms=12)
    assert mine["scope"] == "personal" and mine["owner_id"] == agent["id"]
    seen = await canned.visible(agent["id"], query="ship")
    assert [r["id"] for r in seen] == [mine["id"], team["id"]]  # own first
    with pytest.raises(Forbidden):
        await canned.update(team["id"], {"title": "x", "version": 1}, agent, 13)
    with pytest.raises(Forbidden):
        await canned.create(NEW, agent, team=True, now_ms=13)
    for attempt in (canned.get(theirs["id"], agent), canned.history(theirs["id"], agent),
                    canned.delete(theirs["id"], agent, 13),
                    canned.update(theirs["id"], {"title": "x", "version": 1}, admin, 13)):
        with pytest.raises(NotFound):  # another's own: as if it did not exist, even to admins
            await attempt
    await canned.delete(mine["id"], agent, 14)
    assert [r["id"] for r in await canned.visible(agent["id"], scope="personal")] == []


async def test_a_shortcut_is_unique_within_its_list_only(desk: Any) -> None:
    canned, admin, agent, other = desk
    with pytest.raises(CannedError) as taken:
        await canned.create({**NEW, "shortcut": "HI"}, admin, team=True, now_ms=10)
    assert taken.value.field == "shortcut"
    await canned.create({**NEW, "shortcut": "hi"}, agent, team=False, now_ms=10)  # own list
    await canned.create({**NEW, "shortcut": "hi"}, other, team=False, now_ms=10)
    with pytest.raises(CannedError):
        await canned.create({**NEW, "shortcut": "hi"}, agent, team=False, now_ms=11)
    order = next(r for r in await canned.visible(admin["id"]) if r["shortcut"] == "order")
    with pytest.raises(CannedError):
        await canned.update(order["id"], {"shortcut": "bye", "version": 1}, admin, 12)


async def test_a_linked_entry_must_exist(desk: Any) -> None:
    canned, admin, _, _ = desk
    with pytest.raises(CannedError) as missing:
        await canned.create({**NEW, "entry_id": 999_999}, admin, team=True, now_ms=10)
    assert missing.value.field == "entry_id"


async def test_search_takes_wildcards_as_text(desk: Any) -> None:
    canned, admin, agent, _ = desk
    made = await canned.create(NEW, admin, team=True, now_ms=10)
    for query in ("SHIPPING 100%", "ارسال رایگان", "ship"):
        assert [r["id"] for r in await canned.visible(agent["id"], query=query)] == [
            made["id"]], query
    for query in ("100_", "%%", "ship%free"):
        assert await canned.visible(agent["id"], query=query) == [], query


async def test_two_machines_starting_together_seed_the_team_set_once(db_location: str) -> None:
    stores = [Store(db_location), Store(db_location)]
    for store in stores:
        await store.open()
    try:
        added = await asyncio.gather(*(CannedResponses(s).seed(1) for s in stores))
        assert sorted(added) == [0, 7]
        (count,) = await stores[0].fetchone("SELECT count(*) FROM canned_responses")
        assert count == 7
    finally:
        for store in stores:
            await store.close()


@contextlib.contextmanager
def holding(location: str, response_id: int) -> Iterator[None]:
    """Another connection holds the response's row (PostgreSQL) or the write lock (SQLite)
    until the block ends, so that both machines' edits start from the same version."""
    if location.startswith("postgresql://"):
        import psycopg

        conn: Any = psycopg.connect(location, autocommit=True)
        conn.execute("BEGIN")
        conn.execute("SELECT 1 FROM canned_responses WHERE id = %s FOR UPDATE", (response_id,))
    else:
        conn = sqlite3.connect(location, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_two_machines_editing_one_response_get_a_conflict(db_location: str) -> None:
    """Both edit version 1 at once: one is stored, the other is a Conflict (a 409), not a
    clash on canned_versions' key (a 500)."""
    stores = [Store(db_location), Store(db_location)]
    for store in stores:
        await store.open()
    try:
        admin = await _user(stores[0], "root", "admin")
        first, second = (CannedResponses(s) for s in stores)
        made = await first.create(NEW, admin, team=True, now_ms=10)
        with holding(db_location, made["id"]):
            edits = [asyncio.create_task(c.update(made["id"], {"title": f"edit {i}",
                                                               "version": 1}, admin, 11))
                     for i, c in enumerate((first, second))]
            await asyncio.sleep(1)  # both have read version 1 and wait for the lock
        outcomes = await asyncio.gather(*edits, return_exceptions=True)
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "dict"]
        assert [v["version"] for v in await first.history(made["id"], admin)] == [2, 1]
    finally:
        for store in stores:
            await store.close()
