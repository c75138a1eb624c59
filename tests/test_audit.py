"""The audit log on both backends (a real SQLite file, a real PostgreSQL database): entries
kept, filtered by group, paged."""

from __future__ import annotations

from typing import Any

import pytest

from chatserver.privacy import audit
from chatserver.store.store import Store

from .databases import db_location

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]


@pytest.fixture
async def store(db_location: str) -> Any:
    s = Store(db_location)
    await s.open()
    yield s
    await s.close()


ROOT = {"id": 1, "username": "root"}
ANN = {"id": 2, "username": "ann"}


async def test_entries_name_who_did_what_to_which_record_and_when(store: Store) -> None:
    first = await audit.record(store, ROOT, "kb.update", "kb:7", {"version": 3}, "192.0.2.1",
                               now_ms=1000)
    await audit.record(store, None, "retention.purge", "", {"message_texts": 5}, "", now_ms=2000)
    entries = await audit.entries(store)
    assert [e["action"] for e in entries] == ["retention.purge", "kb.update"]  # newest first
    assert entries[1] == {"id": first, "ts_ms": 1000, "user_id": 1, "username": "root",
                          "action": "kb.update", "target": "kb:7", "detail": {"version": 3},
                          "address": "192.0.2.1"}
    assert entries[0]["username"] == audit.SYSTEM and entries[0]["user_id"] is None


async def test_filters_by_group_exact_action_user_target_and_time(store: Store) -> None:
    for i, (user, action, target) in enumerate([
            (ROOT, "kb.create", "kb:1"), (ANN, "kb.update", "kb:1"),
            (ROOT, "user.create", "user:5"), (ANN, "privacy.erase", "v1"),
            (ROOT, "kbx.odd", "x")]):
        await audit.record(store, user, action, target, {}, "", now_ms=1000 * (i + 1))

    async def actions(**filters: Any) -> list[str]:
        return [e["action"] for e in await audit.entries(store, **filters)]

    assert await actions(action="kb.") == ["kb.update", "kb.create"]  # not "kbx."
    assert await actions(action="kb.update") == ["kb.update"]
    assert await actions(username="ANN") == ["privacy.erase", "kb.update"]
    assert await actions(target="kb:1") == ["kb.update", "kb.create"]
    assert await actions(since_ms=2000, until_ms=4000) == ["user.create", "kb.update"]


async def test_paging_back_with_before(store: Store) -> None:
    for i in range(7):
        await audit.record(store, ROOT, "kb.update", f"kb:{i}", {}, "", now_ms=i)
    page = await audit.entries(store, limit=3)
    assert [e["target"] for e in page] == ["kb:6", "kb:5", "kb:4"]
    page = await audit.entries(store, limit=3, before_id=page[-1]["id"])
    assert [e["target"] for e in page] == ["kb:3", "kb:2", "kb:1"]
    assert len(await audit.entries(store, limit=10_000)) == 7  # capped, not refused


def test_admins_read_the_audit_log_as_a_page_and_others_cannot(shared_server) -> None:
    from .harness import add_user
    from .test_kb_api import NEW, Session

    add_user(shared_server.db, "auditor", role="admin")
    add_user(shared_server.db, "plainagent")
    admin = Session(shared_server, "auditor")
    created = admin.send("POST", "/api/kb", json={
        **NEW, "title": "<script>alert(1)</script> Audit me", "questions": ["audit page q"]})
    assert created.status_code == 201
    page = admin.get("/admin/audit", params={"action": "kb."})
    assert page.status_code == 200
    assert "kb.create" in page.text and "auditor" in page.text
    assert "<script>alert(1)</script>" not in page.text  # shown as text, escaped
    admin.close()
    agent = Session(shared_server, "plainagent")
    assert agent.get("/admin/audit").status_code == 403
    agent.close()
