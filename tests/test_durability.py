"""Retries never duplicate, resume gives exactly what was missed, SIGKILL loses nothing acked."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest

from .databases import BACKENDS, location
from .harness import Server, add_user, agent, sql, visitor

pytestmark = pytest.mark.anyio
# The tests without a kill share `shared_server` (a start costs ~1.5 s of CPU); each waits for
# the offer of its own chat, since an earlier test's may still be queued.


async def test_a_retried_message_is_stored_once_with_the_same_ack(shared_server: Server,
                                                                  clients: list) -> None:
    server = shared_server
    sara = await visitor(server, name="Sara")
    clients.append(sara)
    await sara.request("request_human")
    frame_id = str(uuid.uuid4())
    await sara.send({"type": "message", "id": frame_id, "text": "hello"})
    first = await sara.expect("ack", where=lambda f: f["id"] == frame_id)
    await sara.ws.close()

    again = await visitor(server, visitor_token=sara.welcome["visitor_token"])
    clients.append(again)
    await again.send({"type": "message", "id": frame_id, "text": "hello"})
    second = await again.expect("ack", where=lambda f: f["id"] == frame_id)
    assert second == first
    with sqlite3.connect(server.db) as db:
        rows = db.execute("SELECT count(*) FROM events WHERE client_id = ?",
                          (frame_id,)).fetchone()
    assert rows[0] == 1


async def test_resume_sends_exactly_the_missed_events_in_order(shared_server: Server,
                                                               clients: list) -> None:
    server = shared_server
    add_user(server.db, "bob")
    bob = await agent(server, "bob")
    clients.append(bob)
    sara = await visitor(server, name="Sara")
    ack = await sara.request("request_human")
    cid = ack["conversation_id"]
    await bob.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    await bob.request("accept", conversation_id=cid)
    assigned = await sara.expect("assigned")
    await sara.ws.close()  # the visitor drops; the agent keeps writing

    sent = [await bob.request("message", conversation_id=cid, text=f"line {i}")
            for i in range(5)]
    await bob.request("note", conversation_id=cid, text="private")

    back = await visitor(server, visitor_token=sara.welcome["visitor_token"])
    clients.append(back)
    await back.send({"type": "resume", "conversation_id": cid, "after_seq": assigned["seq"]})
    got = [await back.expect("message") for _ in sent]
    assert [f["text"] for f in got] == [f"line {i}" for i in range(5)]
    assert [f["seq"] for f in got] == [a["seq"] for a in sent]
    await back.nothing(("message", "note"))  # nothing twice, no private note

    # The agent's resume includes the note, and nothing before the seq asked for.
    await bob.send({"type": "resume", "conversation_id": cid, "after_seq": sent[-1]["seq"]})
    note = await bob.expect("note", where=lambda f: f["seq"] > sent[-1]["seq"])
    assert note["text"] == "private"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sigkill_loses_no_acked_message_and_seq_stays_gapless(tmp_path, backend) -> None:
    with location(backend, tmp_path) as db:
        await _sigkill_mid_conversation(Server(tmp_path, database=db))


async def _sigkill_mid_conversation(server: Server) -> None:
    server.start()
    add_user(server.db, "carol")
    try:
        carol = await agent(server, "carol")
        sara = await visitor(server, name="Sara")
        cid = (await sara.request("request_human"))["conversation_id"]
        await carol.expect("offer")
        await carol.request("accept", conversation_id=cid)

        acked: list[str] = []

        async def chatter(client, who: str, **extra) -> None:
            for i in range(1000):
                frame_id = str(uuid.uuid4())
                await client.send({"type": "message", "id": frame_id,
                                   "text": f"{who} {i}", **extra})
                await client.expect("ack", where=lambda f, fid=frame_id: f["id"] == fid)
                acked.append(frame_id)

        tasks = [asyncio.create_task(chatter(sara, "visitor")),
                 asyncio.create_task(chatter(carol, "agent", conversation_id=cid))]
        while len(acked) < 30:
            await asyncio.sleep(0.01)
        server.kill()  # SIGKILL mid-conversation
        await asyncio.gather(*tasks, return_exceptions=True)
        assert len(acked) >= 30

        server.start()  # same database
        stored = {r[0] for r in sql(server.db, "SELECT client_id FROM events "
                                               "WHERE conversation_id = ?", (cid,))}
        seqs = [r[0] for r in sql(server.db, "SELECT seq FROM events WHERE "
                                             "conversation_id = ? ORDER BY seq", (cid,))]
        last_seq = sql(server.db, "SELECT last_seq FROM conversations WHERE id = ?",
                       (cid,))[0][0]
        assert set(acked) <= stored
        assert seqs == list(range(1, len(seqs) + 1))
        assert last_seq == seqs[-1]

        back = await visitor(server, visitor_token=sara.welcome["visitor_token"])
        assert back.welcome["conversation"]["id"] == cid
        assert back.welcome["conversation"]["seq"] == last_seq
        frame = await back.request("message", text="still there?")
        assert frame["type"] == "ack" and frame["seq"] == last_seq + 1
        await back.ws.close()
    finally:
        server.stop()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_restart_keeps_queue_places_and_gives_agents_their_chats_back(tmp_path,
                                                                             backend) -> None:
    with location(backend, tmp_path) as db:
        await _restart_with_a_queue(Server(tmp_path, database=db,
                                           CHATSERVER_ROUTING_GRACE_SECONDS="30"))


async def _restart_with_a_queue(server: Server) -> None:
    server.start()
    add_user(server.db, "olga", skills={"lang:en": 5}, capacity=1)
    try:
        olga = await agent(server, "olga")
        held = await visitor(server, name="Held", language="en")
        held_cid = (await held.request("request_human"))["conversation_id"]
        await olga.expect("offer")
        await olga.request("accept", conversation_id=held_cid)
        waiting = []
        for name in ("First", "Second"):
            v = await visitor(server, name=name, language="en")
            waiting.append((await v.request("request_human"))["conversation_id"])
        server.kill()
        server.start()

        olga = await agent(server, "olga")  # back within grace: her chat is still hers
        assert [c["id"] for c in olga.welcome["conversations"]] == [held_cid]
        reply = await olga.request("message", conversation_id=held_cid, text="sorry, a blip")
        assert reply["type"] == "ack"
        await olga.request("close", conversation_id=held_cid, resolved=True)
        offer = await olga.expect("offer")  # capacity 1: the next in line, in the old order
        assert offer["conversation"]["id"] == waiting[0]
        await olga.ws.close()
    finally:
        server.stop()


async def test_a_retried_request_for_a_person_gets_the_same_ack(shared_server: Server,
                                                                clients: list) -> None:
    server = shared_server
    add_user(server.db, "pat", skills={"lang:en": 5})
    pat = await agent(server, "pat")
    sara = await visitor(server, name="Sara", language="en")
    clients += [pat, sara]
    frame_id = str(uuid.uuid4())
    await sara.send({"type": "request_human", "id": frame_id})
    first = await sara.expect("ack", where=lambda f: f["id"] == frame_id)
    await pat.expect("offer", where=lambda f: f["conversation"]["id"] == first[
        "conversation_id"])  # the state has moved on: offered
    await sara.send({"type": "request_human", "id": frame_id})
    again = await sara.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
    assert again == first
    other = await sara.request("request_human")  # a new request while one is under way
    assert other["type"] == "error" and other["code"] == "conflict"
