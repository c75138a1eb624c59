"""Whisper and take-over across two server processes sharing Redis (issue 20 part 6): the
supervisor on one process, the agent holding the chat on the other, the visitor on the first.
The whisper crosses the bus to the agent and never to the visitor; the take-over moves the
chat in the shared router too, so the agent's slot frees on the other process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import add_user, agent, visitor
from .test_cluster import Redis, pair, redis

pytestmark = [pytest.mark.anyio, pytest.mark.redis]
__all__ = ["redis"]


async def test_a_whisper_and_a_take_over_cross_processes(tmp_path: Path, redis: Redis,
                                                         clients: list) -> None:
    with pair(tmp_path, redis) as (a, b):
        add_user(a.db, "una", skills={"lang:en": 5}, capacity=1)  # one chat at a time
        add_user(a.db, "sue", role="supervisor", display_name="Sue")
        una = await agent(b, "una")
        sara = await visitor(a, name="Sara", language="en")
        clients += [una, sara]
        cid = (await sara.request("request_human"))["conversation_id"]
        await una.expect("offer")
        assert (await una.request("accept", conversation_id=cid))["type"] == "ack"
        await sara.expect("assigned")
        sue = await agent(a, "sue", online=False)
        clients.append(sue)

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
