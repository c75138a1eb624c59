"""A visitor and an agent hold a whole conversation over real sockets on a real server."""

from __future__ import annotations

import pytest

from .harness import Server, add_user, agent, visitor

pytestmark = pytest.mark.anyio


async def test_visitor_and_agent_hold_a_conversation(server: Server, clients: list) -> None:
    add_user(server.db, "alice", skills={"lang:en": 5}, display_name="Alice")
    alice = await agent(server, "alice")
    clients.append(alice)
    sara = await visitor(server, name="Sara", language="en")
    clients.append(sara)
    assert sara.welcome["visitor_token"]
    assert sara.welcome["agents_online"] is True
    assert sara.welcome["conversation"] is None

    ack = await sara.request("request_human")
    assert ack["type"] == "ack" and ack["seq"] >= 2
    cid = ack["conversation_id"]

    offer = await alice.expect("offer")
    assert offer["conversation"]["id"] == cid
    assert offer["conversation"]["visitor_name"] == "Sara"
    assert 0 < offer["expires_in"] <= 20
    accepted = await alice.request("accept", conversation_id=cid)
    assert accepted["type"] == "ack"
    assigned = await sara.expect("assigned")
    assert assigned["agent"] == "Alice" and "agent_id" not in assigned

    sent = await sara.request("message", text="Where is my order <b>#123</b>?")
    got = await alice.expect("message", where=lambda f: f["from"] == "visitor")
    assert got["text"] == "Where is my order <b>#123</b>?"  # text stays text, never markup
    assert got["seq"] == sent["seq"] and got["author"] == "Sara"
    assert got["ts"].endswith("Z") and len(got["ts"]) == 24

    reply = await alice.request("message", conversation_id=cid, text="Hi Sara, let me look.")
    line = await sara.expect("message", where=lambda f: f["from"] == "agent")
    assert line["text"] == "Hi Sara, let me look." and line["author"] == "Alice"
    assert line["seq"] == reply["seq"] > sent["seq"]

    note = await alice.request("note", conversation_id=cid, text="VIP customer")
    assert note["type"] == "ack"
    await sara.nothing("note")

    closed_ack = await alice.request("close", conversation_id=cid, resolved=True)
    assert closed_ack["type"] == "ack"
    closed = await sara.expect("closed")
    assert closed["by"] == "agent" and "resolved" not in closed
    request = await sara.expect("survey_request")
    assert request["conversation_id"] == cid
    answer = await sara.request("survey", rating=5, nps=9, comment="quick!")
    assert answer["type"] == "ack"
    again = await sara.request("survey", rating=1)
    assert again["type"] == "error" and again["code"] == "conflict"


async def test_visitor_token_brings_back_the_open_conversation(server: Server,
                                                               clients: list) -> None:
    add_user(server.db, "nima", skills={"lang:fa": 5})
    nima = await agent(server, "nima")
    clients.append(nima)
    first = await visitor(server, name="Reza", language="fa")
    ack = await first.request("request_human")
    await nima.expect("offer")
    await first.ws.close()
    again = await visitor(server, visitor_token=first.welcome["visitor_token"])
    clients.append(again)
    assert again.welcome["conversation"]["id"] == ack["conversation_id"]
    assert again.welcome["conversation"]["state"] == "offered"
    assert again.welcome["visitor_token"] == first.welcome["visitor_token"]


async def test_forged_token_is_refused_and_reveals_nothing(server: Server,
                                                           clients: list) -> None:
    owner = await visitor(server, name="Owner")
    clients.append(owner)
    ack = await owner.request("request_human")
    token = owner.welcome["visitor_token"]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    stranger = await visitor(server, visitor_token=forged)
    clients.append(stranger)
    error = await stranger.expect("error")
    assert error["code"] == "unauthorized" and stranger.seen[0] is error
    assert stranger.welcome["conversation"] is None
    assert stranger.welcome["visitor_token"] != token
    await stranger.send({"type": "resume", "conversation_id": ack["conversation_id"],
                         "after_seq": 0})
    refused = await stranger.expect("error")
    assert refused["code"] == "not_found"
