"""A supervisor demoted through one process of a Redis cluster is an agent on every process:
no whisper, no take-over, and no longer every chat's live events (issue 20's review)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .harness import PASSWORD, Client, Server, add_user
from .test_cluster import Redis, pair, redis
from .test_supervision_cluster import una_with_sara

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
__all__ = ["redis"]


def demote(a: Server, user_id: int) -> None:
    """The admin makes the user an agent on the team page, served by process A."""
    with httpx.Client(base_url=a.url) as admin:
        logged = admin.post("/login", data={"username": "root", "password": PASSWORD},
                            headers={"accept": "application/json"})
        demoted = admin.put(f"/api/users/{user_id}", json={"role": "agent"},
                            headers={"x-csrf-token": logged.json()["csrf_token"]})
        assert demoted.status_code == 200 and demoted.json()["role"] == "agent", demoted.text


async def refused_both(sue: Client, cid: str) -> None:
    whispered = await sue.request("whisper", conversation_id=cid, text="still a boss?")
    taken = await sue.request("take_over", conversation_id=cid)
    assert (whispered["type"], taken["type"]) == ("error", "error"), (whispered, taken)
    assert (whispered["code"], taken["code"]) == ("forbidden", "forbidden")


async def test_a_supervisor_demoted_on_another_process_can_no_longer_supervise(
        tmp_path: Path, redis: Redis, clients: list) -> None:
    """An admin on process A changes Sue from supervisor to agent. Sue's supervisor view is
    connected to process B, which never heard of the change (update_profile ran only where
    the admin's PUT was served): she could still whisper and take Una's chat over, and kept
    receiving every chat, until she reconnected. Her live feed of others' chats stops by B's
    next session check, and both frames are refused."""
    # 0.3 s: B's session check reads the user again well within the test's waits.
    with pair(tmp_path, redis, CHATSERVER_SERVER_SESSION_CHECK_SECONDS="0.3") as (a, b):
        add_user(a.db, "root", role="admin")
        una, sara, sue, cid, sue_id = await una_with_sara(a, b, clients)
        # As a supervisor she follows Una's chat live (the feed the demotion must end).
        await sara.request("message", text="first line")
        await sue.expect("message", where=lambda f: f.get("text") == "first line")
        demote(a, sue_id)

        await sue.nothing("message", seconds=1.0)  # past a session check on B
        await sara.request("message", text="second line")
        await una.expect("message", where=lambda f: f.get("text") == "second line")
        await sue.nothing("message", seconds=0.5)
        assert "second line" not in str(sue.seen)
        await refused_both(sue, cid)
        # Nor may she read it back: a chat she never held is not hers to resume.
        await sue.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
        refused = await sue.expect("error")
        assert refused["code"] == "not_found", refused


async def test_a_supervisor_demoted_on_another_process_is_refused_at_once(
        tmp_path: Path, redis: Redis, clients: list) -> None:
    """The same demotion with the default session check (30 s): Sue's whisper and take-over on
    B right after it are refused, the role being read from the store for these frames."""
    with pair(tmp_path, redis) as (a, b):
        add_user(a.db, "root", role="admin")
        una, sara, sue, cid, sue_id = await una_with_sara(a, b, clients)
        demote(a, sue_id)
        await refused_both(sue, cid)
        # The reload also ended her feed of every chat on B.
        await sara.request("message", text="after the demotion")
        await una.expect("message", where=lambda f: f.get("text") == "after the demotion")
        await sue.nothing("message", seconds=0.5)
