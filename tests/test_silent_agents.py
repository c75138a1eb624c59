"""Silent agents over real sockets (issue 16 part 3), with timers of about a second: an
accepted chat the agent does not answer is a `silent` event (the agent's console and the
supervisors hear it, the overview flags it), then, with `reroute_silent`, it is offered to
another agent with the transcript; the reports count both against the silent agent."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .harness import Server, add_user, agent, assigned, visitor

pytestmark = pytest.mark.anyio

QUICK = {"CHATSERVER_ROUTING_FIRST_REPLY_SECONDS": "1",
         "CHATSERVER_ROUTING_REPLY_SECONDS": "1.5"}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, CHATSERVER_ROUTING_REROUTE_SILENT="true", **QUICK)
    add_user(srv.db, "ann", skills={"lang:en": 5})
    add_user(srv.db, "ben", skills={"lang:en": 5})
    add_user(srv.db, "sue", role="supervisor", display_name="Sue")
    yield srv.start()
    srv.stop()


def kinds(server: Server, cid: str) -> list[tuple[str, str]]:
    with sqlite3.connect(server.db) as db:
        return [(t, r or "") for t, r in db.execute(
            "SELECT type, json_extract(payload, '$.reason') FROM events "
            "WHERE conversation_id = ? ORDER BY seq", (cid,))]


async def test_a_silent_agent_is_nudged_flagged_then_the_chat_moves_on(
        desk: Server, clients: list) -> None:
    ann, sue = await agent(desk, "ann"), await agent(desk, "sue", online=False)
    clients += [ann, sue]
    sara = await visitor(desk, name="Sara", language="en")
    clients.append(sara)
    await sara.request("message", text="my parcel never came")
    cid = (await sara.request("request_human"))["conversation_id"]
    await ann.expect("offer")
    await ann.request("accept", conversation_id=cid)
    accepted = time.monotonic()
    assert (await sara.expect("queue"))["state"] == "offered"  # while Ann was asked

    nudge = await ann.expect("event", where=lambda f: f["event"] == "silent", timeout=5)
    waited = time.monotonic() - accepted
    assert 0.9 <= waited < 2.5, waited  # first_reply_seconds 1; the dispatcher looks each second
    assert nudge["payload"]["turn"] == "first" and nudge["payload"]["agent_id"] == ann.welcome[
        "agent"]["id"]
    await sue.expect("event", where=lambda f: f["event"] == "silent"
                     and f["conversation_id"] == cid)
    with httpx.Client(base_url=desk.url, cookies=desk.login("sue")) as http:
        [row] = http.get("/api/supervisor/overview").json()["conversations"]
    assert row["id"] == cid and row["silent_since_ms"] is not None
    await sara.nothing("queue", seconds=0.3)  # a nudge alone moves nothing

    # Nobody else online: it stays with Ann, flagged. Ben comes: it goes to him.
    await ann.nothing("event", seconds=1.2)
    ben = await agent(desk, "ben")
    clients.append(ben)
    offer = await ben.expect("offer", timeout=5)
    assert offer["conversation"]["id"] == cid
    assert "my parcel never came" in [m["text"] for m in offer["conversation"]["transcript"]]
    gone = await ann.expect("event", where=lambda f: f["event"] == "queued")
    assert gone["payload"]["reason"] == "silent_agent"
    assert (await sara.expect("queue"))["state"] == "offered"  # "connecting you" again
    await ben.request("accept", conversation_id=cid)
    assert await sara.expect("assigned", where=lambda f: f["agent"] == "Ben")
    late = await ann.request("message", conversation_id=cid, text="sorry, here now")
    assert late["type"] == "error"  # no longer hers

    # Later turns: a reply is owed from the visitor's line, reply_seconds (1.5 s).
    await ben.request("message", conversation_id=cid, text="Hello Sara")
    await ben.nothing("event", seconds=1.7)  # nothing unanswered: nothing owed
    await sara.request("message", text="still nothing")
    asked = time.monotonic()
    second = await ben.expect("event", where=lambda f: f["event"] == "silent", timeout=5)
    assert second["payload"]["turn"] == "reply" and time.monotonic() - asked >= 1.4
    await ben.request("close", conversation_id=cid, resolved=True)

    assert [k for k in kinds(desk, cid) if k[0] in ("silent", "queued", "assigned")] == [
        ("queued", "asked"), ("assigned", ""), ("silent", ""), ("queued", "silent_agent"),
        ("assigned", ""), ("silent", "")]
    with httpx.Client(base_url=desk.url, cookies=desk.login("sue")) as http:
        report = http.get("/api/reports").json()
    by_name = {a["name"]: a for a in report["agents"]}
    assert (by_name["Ann"]["nudged"], by_name["Ann"]["rerouted_silent"]) == (1, 1)
    assert (by_name["Ben"]["nudged"], by_name["Ben"]["rerouted_silent"]) == (1, 0)
    assert (report["summary"]["nudged"], report["summary"]["rerouted_silent"]) == (1, 1)


async def test_without_reroute_a_silent_agent_keeps_the_chat(tmp_path: Path,
                                                            clients: list) -> None:
    srv = Server(tmp_path, CHATSERVER_ROUTING_FIRST_REPLY_SECONDS="0.5").start()
    try:
        add_user(srv.db, "ann", skills={"lang:en": 5})
        add_user(srv.db, "ben", skills={"lang:en": 5})
        ann = await agent(srv, "ann")
        clients.append(ann)
        _, cid = await assigned(srv, ann, clients, name="Sara", language="en")
        ben = await agent(srv, "ben")
        clients.append(ben)
        await ann.expect("event", where=lambda f: f["event"] == "silent", timeout=5)
        await ben.nothing("offer", seconds=2.0)
        assert (await ann.request("message", conversation_id=cid, text="hi"))["type"] == "ack"
    finally:
        srv.stop()


async def test_two_silent_agents_do_not_pass_one_chat_back_and_forth(
        desk: Server, clients: list) -> None:
    """Review of issue 16: each re-route forgot the earlier silent agent, so Ann and Ben passed
    one chat between them for ever. Now Ann stays excluded: once Ben is silent too, nobody
    else could take it and it stays with him, flagged."""
    ann, ben = await agent(desk, "ann"), await agent(desk, "ben")
    clients += [ann, ben]
    sara = await visitor(desk, name="Sara", language="en")
    clients.append(sara)
    await sara.request("message", text="hello?")
    cid = (await sara.request("request_human"))["conversation_id"]
    holders = []
    for _ in range(3):  # whoever is offered it accepts and says nothing
        got = None
        for who in (ann, ben):
            try:
                offer = await who.expect("offer", timeout=4)
            except Exception:  # not this one
                continue
            assert offer["conversation"]["id"] == cid
            await who.request("accept", conversation_id=cid)
            got = who
            break
        if got is None:
            break
        holders.append("ann" if got is ann else "ben")
    assert sorted(holders) == ["ann", "ben"], holders
    reasons = [r for t, r in kinds(desk, cid) if t == "queued"]
    assert reasons.count("silent_agent") == 1, reasons
    assert kinds(desk, cid)[-1][0] in ("silent", "assigned")  # still with the second agent


async def test_a_restart_keeps_a_silent_agent_excluded(tmp_path: Path, clients: list) -> None:
    """A chat re-routed for silence, then the server restarted while it waits for Ben: the
    restore used to queue it with a fresh clock and no exclusions, so Ann, back first, was
    offered the chat she had just been silent on. Now she stays excluded."""
    srv = Server(tmp_path, CHATSERVER_ROUTING_REROUTE_SILENT="true",
                 CHATSERVER_ROUTING_REOFFER_AFTER_SECONDS="60", **QUICK)
    add_user(srv.db, "ann", skills={"lang:en": 5})
    add_user(srv.db, "ben", skills={"lang:en": 5})
    srv.start()
    try:
        ann, ben = await agent(srv, "ann"), await agent(srv, "ben")
        clients += [ann, ben]
        sara = await visitor(srv, name="Sara", language="en")
        clients.append(sara)
        await sara.request("message", text="where is my parcel?")
        cid = (await sara.request("request_human"))["conversation_id"]
        first = None
        for who in (ann, ben):
            try:
                offer = await who.expect("offer", timeout=2)
            except Exception:  # not this one
                continue
            first = who
            break
        assert first is not None and offer["conversation"]["id"] == cid
        other = ben if first is ann else ann
        await first.request("accept", conversation_id=cid)
        rerouted = await other.expect("offer", timeout=6)  # silent: to the other agent
        assert rerouted["conversation"]["id"] == cid
        assert ("queued", "silent_agent") in kinds(srv, cid)

        srv.kill()  # while the chat is offered to the other agent
        srv.start()
        silent_name = "ann" if first is ann else "ben"
        back = await agent(srv, silent_name)  # the silent agent is back first
        clients.append(back)
        await back.nothing("offer", seconds=2.5)
        helper = await agent(srv, "ben" if silent_name == "ann" else "ann")
        clients.append(helper)
        offer = await helper.expect("offer", timeout=5)
        assert offer["conversation"]["id"] == cid
    finally:
        srv.stop()
