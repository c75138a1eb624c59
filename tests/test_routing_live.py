"""Skill-based routing over real sockets: offers, decline, expiry, grace, transfer, offline."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Server, add_user, agent, assigned, stored_unanswered, visitor

pytestmark = pytest.mark.anyio

FAST = {  # short timers so the behaviour shows in seconds, not minutes
    "CHATSERVER_ROUTING_OFFER_TIMEOUT_SECONDS": "1.5",
    "CHATSERVER_ROUTING_GRACE_SECONDS": "1.5",
    "CHATSERVER_ROUTING_REOFFER_AFTER_SECONDS": "30",
}


@pytest.fixture
def fast(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, **FAST)
    yield srv.start()
    srv.stop()


def events(server: Server, cid: str) -> list[tuple[str, dict]]:
    with sqlite3.connect(server.db) as db:
        return [(t, json.loads(p)) for t, p in db.execute(
            "SELECT type, payload FROM events WHERE conversation_id = ? ORDER BY seq", (cid,))]


async def test_a_declined_offer_goes_to_the_next_agent(fast: Server, clients: list) -> None:
    add_user(fast.db, "ann", skills={"lang:en": 5})
    add_user(fast.db, "ben", skills={"lang:en": 5})
    ann, ben = await agent(fast, "ann"), await agent(fast, "ben")
    clients += [ann, ben]
    sara = await visitor(fast, name="Sara", language="en")
    clients.append(sara)
    cid = (await sara.request("request_human"))["conversation_id"]
    first, _ = await first_offer_of([ann, ben])
    # The visitor is told an agent is being asked (issue 16: no queue frame came before).
    offered = {"type": "queue", "conversation_id": cid, "state": "offered", "position": 1,
               "eta_seconds": 0}
    first_frame = await sara.expect("queue")
    assert first_frame.pop("seq") == [t for t, _ in events(fast, cid)].index("offered") + 1
    assert first_frame == offered
    await first.request("decline", conversation_id=cid)
    other = ben if first is ann else ann
    second = await other.expect("offer")
    assert second["conversation"]["id"] == cid
    assert without_seq(await sara.expect("queue")) == offered  # and again after the decline
    # A reload while an agent is asked: the new socket hears it right after its welcome.
    again = await visitor(fast, visitor_token=sara.welcome["visitor_token"], language="en")
    clients.append(again)
    assert again.welcome["conversation"]["state"] == "offered"
    assert without_seq(await again.expect("queue")) == offered
    assert without_seq(again.seen[1]) == offered
    await other.request("accept", conversation_id=cid)
    assert (await sara.expect("assigned"))["agent"] in ("Ann", "Ben")
    kinds = [t for t, _ in events(fast, cid)]
    assert kinds[-4:] == ["offered", "queued", "offered", "assigned"]


def without_seq(frame: dict) -> dict:
    frame = dict(frame)
    assert isinstance(frame.pop("seq"), int)
    return frame


async def first_offer_of(agents: list) -> tuple:
    tasks = {asyncio.create_task(a.expect("offer")): a for a in agents}
    done, pending = await asyncio.wait(tasks, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    task = done.pop()
    return tasks[task], task.result()


async def test_an_expired_offer_is_revoked_and_re_offered(fast: Server, clients: list) -> None:
    add_user(fast.db, "cat", skills={"lang:en": 5})
    cat = await agent(fast, "cat")
    clients.append(cat)
    sara = await visitor(fast, name="Sara", language="en")
    clients.append(sara)
    cid = (await sara.request("request_human"))["conversation_id"]
    await cat.expect("offer")
    revoked = await cat.expect("offer_revoked", timeout=5)
    assert revoked["conversation_id"] == cid and revoked["reason"] == "offer_expired"
    late = await cat.request("accept", conversation_id=cid)
    assert late["type"] == "error" and late["code"] == "conflict"
    add_user(fast.db, "dan", skills={"lang:en": 5})
    dan = await agent(fast, "dan")
    clients.append(dan)
    offer = await dan.expect("offer", timeout=5)
    assert offer["conversation"]["id"] == cid


async def test_an_agent_who_drops_keeps_chats_through_grace_then_they_requeue(
        fast: Server, clients: list) -> None:
    add_user(fast.db, "eve", skills={"lang:en": 5})
    add_user(fast.db, "fay", skills={"lang:en": 5})
    eve = await agent(fast, "eve")
    sara = await visitor(fast, name="Sara", language="en")
    clients.append(sara)
    cid = (await sara.request("request_human"))["conversation_id"]
    await eve.expect("offer")
    await eve.request("accept", conversation_id=cid)
    await sara.expect("assigned")

    await eve.ws.close()  # a reload: back within the grace period, the chat is still hers
    eve = await agent(fast, "eve")
    clients.append(eve)
    assert [c["id"] for c in eve.welcome["conversations"]] == [cid]
    ok = await eve.request("message", conversation_id=cid, text="still with you")
    assert ok["type"] == "ack"

    fay = await agent(fast, "fay")
    clients.append(fay)
    await eve.ws.close()  # gone for good: after grace the chat goes to someone else
    offer = await fay.expect("offer", timeout=6)
    assert offer["conversation"]["id"] == cid
    assert ("queued", {"reason": "agent_left", "skills": [], "language": "en"}) in \
        events(fast, cid)


async def test_transfer_to_a_skill_keeps_the_transcript_and_the_note(fast: Server,
                                                                    clients: list) -> None:
    add_user(fast.db, "gus", skills={"lang:en": 5})
    add_user(fast.db, "hal", skills={"lang:en": 5, "billing": 5})
    gus = await agent(fast, "gus")
    clients.append(gus)
    sara = await visitor(fast, name="Sara", language="en")
    clients.append(sara)
    cid = (await sara.request("request_human"))["conversation_id"]
    await gus.expect("offer")
    await gus.request("accept", conversation_id=cid)
    await sara.request("message", text="I was charged twice")
    hal = await agent(fast, "hal")
    clients.append(hal)
    moved = await gus.request("transfer", conversation_id=cid, to_skill="billing",
                              note="double charge, card ending 42")
    assert moved["type"] == "ack"
    offer = await hal.expect("offer")
    texts = [m["text"] for m in offer["conversation"]["transcript"]]
    assert "I was charged twice" in texts
    assert offer["conversation"]["skills"] == ["billing"]
    await hal.request("accept", conversation_id=cid)
    await hal.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
    moved_event = await hal.expect("event", where=lambda f: f["event"] == "transferred")
    assert moved_event["payload"]["note"] == "double charge, card ending 42"
    assert (await sara.expect("assigned", where=lambda f: f["agent"] == "Hal"))


async def test_relaxation_lets_a_less_skilled_agent_answer_after_the_step(
        tmp_path: Path, clients: list) -> None:
    srv = Server(tmp_path, CHATSERVER_ROUTING_STEPS=(
        '[{"after_seconds": 0}, {"after_seconds": 1.0, "drop_topics": true}]'))
    srv.start()
    try:
        add_user(srv.db, "ian", skills={"lang:en": 5})  # no billing skill
        add_user(srv.db, "bea", skills={"billing": 5, "lang:en": 5}, capacity=1)
        bea = await agent(srv, "bea")  # online but busy: the first step is worth waiting for
        busy = await visitor(srv, name="Busy", language="en", topic="billing")
        clients += [bea, busy]
        held = (await busy.request("request_human"))["conversation_id"]
        await bea.expect("offer")
        await bea.request("accept", conversation_id=held)
        ian = await agent(srv, "ian")
        clients.append(ian)
        sara = await visitor(srv, name="Sara", language="en", topic="billing")
        clients.append(sara)
        cid = (await sara.request("request_human"))["conversation_id"]
        await ian.nothing("offer", seconds=0.6)  # needs billing for the first second
        offer = await ian.expect("offer", timeout=5)
        assert offer["conversation"]["id"] == cid
    finally:
        srv.stop()


async def test_a_topic_nobody_online_has_is_not_waited_for(fast: Server, clients: list) -> None:
    """Issue 16: topic `returns` with only an English agent online waited 90.5 s until
    relaxation dropped the topic. A step nobody online could serve is skipped at once, and
    someone leaving or coming online makes the queue look again."""
    add_user(fast.db, "ian", skills={"lang:en": 5})
    add_user(fast.db, "rita", skills={"returns": 4, "lang:en": 5}, capacity=1)
    ian = await agent(fast, "ian")
    clients.append(ian)
    tom = await visitor(fast, name="Tom", language="en", topic="returns")
    clients.append(tom)
    start = time.monotonic()
    tom_cid = (await tom.request("request_human"))["conversation_id"]
    offer = await ian.expect("offer", timeout=5)
    waited = time.monotonic() - start
    # Not waited for: the next step that could reach ian starts at 30 s (90 s for the topic);
    # 5 s leaves room for a loaded machine (it once took over 1 s in CI-like load).
    assert offer["conversation"]["id"] == tom_cid and waited < 5.0, waited
    await ian.request("decline", conversation_id=tom_cid)
    # The specialist online but busy: the topic is worth waiting for, with an ETA.
    rita = await agent(fast, "rita")
    clients.append(rita)
    rita_offer = await rita.expect("offer")
    await rita.request("accept", conversation_id=rita_offer["conversation"]["id"])
    sara = await visitor(fast, name="Sara", language="en", topic="returns")
    clients.append(sara)
    cid = (await sara.request("request_human"))["conversation_id"]
    queued = await sara.expect("queue", where=lambda f: f.get("state", "queued") == "queued")
    assert queued["position"] == 1 and queued["eta_seconds"] is not None
    await ian.nothing("offer", seconds=0.5)
    # She leaves: nobody online has the topic any more, so the English agent gets it now.
    await rita.send({"type": "status", "status": "away"})
    offer = await ian.expect("offer", timeout=3)
    assert offer["conversation"]["id"] == cid


async def test_nobody_able_to_answer_means_the_offline_form_not_a_queue(
        fast: Server, clients: list) -> None:
    add_user(fast.db, "jon", skills={"lang:en": 5})
    jon = await agent(fast, "jon")
    clients.append(jon)
    reza = await visitor(fast, name="Reza", language="fa")  # nobody speaks Persian
    clients.append(reza)
    ack = await reza.request("request_human")
    offline = await reza.expect("offline")
    assert offline["reason"] == "no_agents"
    line = await reza.expect("message", where=lambda f: f["from"] == "system")
    assert "پیام" in line["text"]  # told in Persian
    await jon.nothing("offer")
    left = await reza.request("offline_message", email="reza@example.com",
                              text="Please call me back")
    assert left["type"] == "ack"
    with sqlite3.connect(fast.db) as db:
        row = db.execute("SELECT email, text FROM offline_messages").fetchone()
    assert row == ("reza@example.com", "Please call me back")
    assert ack["type"] == "ack"


async def test_outside_opening_hours_visitors_are_told_so(tmp_path: Path,
                                                          clients: list) -> None:
    srv = Server(tmp_path, CHATSERVER_DESK_CLOSED_DATES="2000-01-01",
                 CHATSERVER_DESK_HOURS='{"mon": ["00:00-00:01"]}')
    srv.start()
    try:
        add_user(srv.db, "kim", skills={"lang:en": 5})
        kim = await agent(srv, "kim")
        clients.append(kim)
        sara = await visitor(srv, name="Sara", language="en")
        clients.append(sara)
        await sara.request("request_human")
        assert (await sara.expect("offline"))["reason"] == "closed"
    finally:
        srv.stop()


async def test_queue_positions_and_etas_are_sent_in_order(fast: Server, clients: list) -> None:
    add_user(fast.db, "lea", skills={"lang:en": 5}, capacity=1)
    lea = await agent(fast, "lea")
    clients.append(lea)
    visitors = []
    for name in ("V1", "V2", "V3"):
        v = await visitor(fast, name=name, language="en")
        clients.append(v)
        await v.request("request_human")
        visitors.append(v)
    offer = await lea.expect("offer")
    await lea.request("accept", conversation_id=offer["conversation"]["id"])
    second = await visitors[1].expect("queue", where=lambda f: f["position"] == 1)
    third = await visitors[2].expect("queue", where=lambda f: f["position"] == 2)
    assert second["state"] == third["state"] == "queued"
    # A reload while queued: place and ETA again, right after the welcome.
    back = await visitor(fast, visitor_token=visitors[2].welcome["visitor_token"], language="en")
    clients.append(back)
    assert (await back.expect("queue"))["position"] == 2
    assert second["eta_seconds"] is not None and third["eta_seconds"] > second["eta_seconds"]
    await lea.request("close", conversation_id=offer["conversation"]["id"], resolved=True)
    offer2 = await lea.expect("offer")
    assert offer2["conversation"]["visitor_name"] == "V2"  # FIFO
    assert ("eta", {"eta_seconds": second["eta_seconds"], "position": 1}) in events(
        fast, second["conversation_id"]) or any(
        t == "eta" for t, _ in events(fast, second["conversation_id"]))


async def test_a_returning_visitor_whose_last_chat_was_unresolved_goes_first(
        fast: Server, clients: list) -> None:
    add_user(fast.db, "max", skills={"lang:en": 5}, capacity=1)
    mx = await agent(fast, "max")
    clients.append(mx)
    back = await visitor(fast, name="Back", language="en")
    clients.append(back)
    cid = (await back.request("request_human"))["conversation_id"]
    await mx.expect("offer")
    await mx.request("accept", conversation_id=cid)
    await mx.request("close", conversation_id=cid, resolved=False)
    busy = await visitor(fast, name="Busy", language="en")  # takes the agent's only slot
    clients.append(busy)
    busy_cid = (await busy.request("request_human"))["conversation_id"]
    await mx.expect("offer", where=lambda f: f["conversation"]["id"] == busy_cid)
    await mx.request("accept", conversation_id=busy_cid)
    first = await visitor(fast, name="First", language="en")
    clients.append(first)
    await first.request("request_human")
    await back.request("request_human")  # later, but returning unresolved
    await mx.request("close", conversation_id=busy_cid, resolved=True)
    offer = await mx.expect("offer", where=lambda f: f["conversation"]["id"] != busy_cid)
    assert offer["conversation"]["visitor_name"] == "Back"


async def test_auto_accept_assigns_without_a_click(tmp_path: Path, clients: list) -> None:
    srv = Server(tmp_path, CHATSERVER_ROUTING_AUTO_ACCEPT="true")
    srv.start()
    try:
        add_user(srv.db, "ned", skills={"lang:en": 5})
        ned = await agent(srv, "ned")
        clients.append(ned)
        sara = await visitor(srv, name="Sara", language="en")
        clients.append(sara)
        await sara.request("request_human")
        assert (await sara.expect("assigned"))["agent"] == "Ned"
        await ned.expect("assigned")
    finally:
        srv.stop()


async def test_a_surge_of_hand_offs_is_offered_before_the_offers_expire(
        tmp_path: Path, clients: list) -> None:
    """120 visitors ask for a person at once. Each offer is a stored event; made one after
    the other at one commit each (20 ms here), the last ones would only go out after the 2 s
    offer timeout. Made side by side they share commits: every agent accepts in time."""
    srv = Server(tmp_path, CHATSERVER_STORAGE_COMMIT_INTERVAL_MS="20",
                 CHATSERVER_ROUTING_OFFER_TIMEOUT_SECONDS="2",
                 CHATSERVER_LIMITS_FRAMES_PER_SECOND="500",
                 CHATSERVER_LIMITS_FRAME_BURST="500")
    srv.start()
    try:
        for name in ("ann", "ben", "cy"):
            add_user(srv.db, name, skills={"lang:en": 5}, capacity=40)
        agents = [await agent(srv, name) for name in ("ann", "ben", "cy")]
        clients += agents
        people = await asyncio.gather(*[visitor(srv, language="en") for _ in range(120)])
        clients += people
        await asyncio.gather(*[p.send({"type": "request_human", "id": f"r{i}"})
                               for i, p in enumerate(people)])

        async def accept_all(a, count: int) -> list[dict]:
            acks = []
            while len(acks) < count:
                offer = await a.expect("offer", timeout=20)
                acks.append(await a.request("accept",
                                            conversation_id=offer["conversation"]["id"]))
            return acks

        answers = await asyncio.gather(*[accept_all(a, 40) for a in agents])
        refused = [ack for acks in answers for ack in acks if ack["type"] != "ack"]
        assert refused == []  # no "offer ... expired": every offer reached its agent in time
        for p in people:
            await p.expect("assigned", timeout=20)
    finally:
        srv.stop()


async def test_a_close_stored_though_its_answer_was_lost_frees_the_agent(
        fast: Server, clients: list) -> None:
    """The close is committed but its answer lost (the database dropped the connection after
    COMMIT: here the row goes straight into the log), so the agent is told to retry. The
    retry finds the close stored: the chat must still leave routing, or Kim's one slot stays
    taken by a closed chat until a restart and the next visitor is never offered to her."""
    add_user(fast.db, "kim", skills={"lang:en": 5}, capacity=1)
    kim = await agent(fast, "kim")
    clients.append(kim)
    _, cid = await assigned(fast, kim, clients, name="First", language="en")
    frame_id = str(uuid.uuid4())
    with sqlite3.connect(fast.db) as db:
        ((kim_id,),) = db.execute("SELECT agent_id FROM conversations WHERE id = ?",
                                  (cid,)).fetchall()
    seq = stored_unanswered(fast, cid, "closed", f"agent:{kim_id}",
                            {"by": "agent", "resolved": True}, frame_id, "closed")
    await kim.send({"type": "close", "id": frame_id, "conversation_id": cid, "resolved": True})
    ack = await kim.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
    assert (ack["type"], ack.get("seq")) == ("ack", seq), ack
    second = await visitor(fast, name="Second", language="en")
    clients.append(second)
    cid2 = (await second.request("request_human"))["conversation_id"]
    offer = await kim.expect("offer", timeout=5)
    assert offer["conversation"]["id"] == cid2


@pytest.mark.parametrize("found_by", ["next line", "retried line"])
async def test_a_bot_hand_off_stored_though_its_answer_was_lost_is_offered(
        fast: Server, clients: list, found_by: str) -> None:
    """The bot hands off; its `queued` (no client id, never retried) is committed but its
    answer lost, so the router is never told. The visitor's next line, or the retry of the
    line the bot answered, finds it in the log and the chat reads queued: it must reach the
    router too, or it is offered to nobody until a restart and the visitor waits forever."""
    add_user(fast.db, "kim", skills={"lang:en": 5})
    kim = await agent(fast, "kim")
    clients.append(kim)
    sara = await visitor(fast, name="Sara", language="en")
    clients.append(sara)
    hello = {"type": "message", "id": str(uuid.uuid4()), "text": "hello"}
    await sara.send(hello)
    cid = (await sara.expect("ack", where=lambda f: f["id"] == hello["id"]))["conversation_id"]
    await sara.expect("message", where=lambda f: f["from"] == "bot")
    seq = stored_unanswered(fast, cid, "queued", "system", {
        "reason": "asked_for_human", "skills": [], "language": "en"}, None, "queued")
    if found_by == "next line":
        assert (await sara.request("message", text="anyone there?"))["seq"] == seq + 1
    else:
        await sara.send(hello)
        again = await sara.expect(("ack", "error"), where=lambda f: f["id"] == hello["id"])
        assert again["type"] == "ack", again
    offer = await kim.expect("offer", timeout=5)
    assert offer["conversation"]["id"] == cid
    assert (await kim.request("accept", conversation_id=cid))["type"] == "ack"
    await sara.expect("assigned")


async def test_a_retried_request_for_a_person_stored_though_its_answer_was_lost_is_offered(
        fast: Server, clients: list) -> None:
    """The visitor's request for a person is committed but its answer lost; its retry with
    the same id finds it stored (and applies it here), gets its ack, and the chat is routed:
    once, the retry's own enqueue finding it routed already is no error."""
    add_user(fast.db, "kim", skills={"lang:en": 5})
    kim = await agent(fast, "kim")
    clients.append(kim)
    sara = await visitor(fast, name="Sara", language="en")
    clients.append(sara)
    cid = (await sara.request("message", text="hello"))["conversation_id"]
    await sara.expect("message", where=lambda f: f["from"] == "bot")
    frame_id = str(uuid.uuid4())
    seq = stored_unanswered(fast, cid, "queued", "system", {
        "reason": "asked", "skills": [], "language": "en"}, frame_id, "queued")
    await sara.send({"type": "request_human", "id": frame_id})
    ack = await sara.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
    assert (ack["type"], ack.get("seq")) == ("ack", seq), ack
    offer = await kim.expect("offer", timeout=5)
    assert offer["conversation"]["id"] == cid
    assert "Traceback" not in fast.log.read_text()
