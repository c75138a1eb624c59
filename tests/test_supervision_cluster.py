"""Whisper and take-over across two server processes sharing Redis (issue 20 part 6): the
supervisor on one process, the agent holding the chat on the other, the visitor on the first.
The whisper crosses the bus to the agent and never to the visitor; the take-over moves the
chat in the shared router too, so the agent's slot frees on the other process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import Client, Server, add_user, agent, visitor
from .test_cluster import Redis, pair, redis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
__all__ = ["redis"]


async def una_with_sara(una_at: Server, sue_at: Server, clients: list[Client]
                        ) -> tuple[Client, Client, Client, str, int]:
    """Una (one chat at a time, on `una_at`) holds Sara's chat; Sue's supervisor view is on
    `sue_at`. (una, sara, sue, chat, Sue's user id)."""
    add_user(una_at.db, "una", skills={"lang:en": 5}, capacity=1)
    sue_id = add_user(una_at.db, "sue", role="supervisor", display_name="Sue")
    una = await agent(una_at, "una")
    sara = await visitor(una_at, name="Sara", language="en")
    clients += [una, sara]
    cid = (await sara.request("request_human"))["conversation_id"]
    await una.expect("offer")
    assert (await una.request("accept", conversation_id=cid))["type"] == "ack"
    await sara.expect("assigned")
    sue = await agent(sue_at, "sue", online=False)
    clients.append(sue)
    return una, sara, sue, cid, sue_id


async def test_a_whisper_and_a_take_over_cross_processes(tmp_path: Path, redis: Redis,
                                                         clients: list) -> None:
    with pair(tmp_path, redis) as (a, b):
        una, sara, sue, cid, _ = await una_with_sara(b, a, clients)

        said = await sue.request("whisper", conversation_id=cid, text="ask for the order number")
        assert said["type"] == "ack", said
        heard = await una.expect("whisper")
        assert (heard["seq"], heard["author"], heard["text"]) == (
            said["seq"], "Sue", "ask for the order number")

        taken = await sue.request("take_over", conversation_id=cid)
        assert taken["type"] == "ack", taken
        moved = await una.expect("event", where=lambda f: f["event"] == "transferred")
        assert moved["payload"]["take_over"] is True and moved["payload"]["by"] == "Sue"
        assert (await sara.expect("assigned", where=lambda f: f["seq"] > taken["seq"]))[
            "agent"] == "Sue"
        # B knows at once that the chat is no longer Una's; A lets Sue answer.
        refused = await una.request("message", conversation_id=cid, text="still mine?")
        assert refused["type"] == "error"
        assert (await sue.request("message", conversation_id=cid, text="Sue here"))[
            "type"] == "ack"
        assert (await sara.expect("message", where=lambda f: f.get("from") == "agent"))[
            "text"] == "Sue here"
        assert "ask for the order number" not in json.dumps(sara.seen)

        # The shared router freed Una's only slot: a new visitor on A is offered to her on B.
        omid = await visitor(a, name="Omid", language="en")
        clients.append(omid)
        other = (await omid.request("request_human"))["conversation_id"]
        assert (await una.expect("offer"))["conversation"]["id"] == other
    for server in (a, b):
        assert "Traceback" not in server.log.read_text()
