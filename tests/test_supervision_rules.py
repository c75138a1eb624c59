"""Supervision's rules a desk relies on (issue 20's review): of two supervisors taking over one
chat at once exactly one wins, and a whisper is read only by the agent it was for and by
supervisors and admins — not by an agent who later holds or reads the chat."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from .harness import Client, Server, add_user, agent
from .test_labels import _chat as handed_to

pytestmark = pytest.mark.anyio

COACHING = "Ana, stop promising refunds you cannot give"


def desk(tmp_path) -> Server:
    server = Server(tmp_path)
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    add_user(server.db, "tom", role="supervisor", display_name="Tom")
    add_user(server.db, "ana", display_name="Ana", capacity=1)
    add_user(server.db, "bob", display_name="Bob")
    return server.start()


def whispers_in_transcript(server: Server, username: str, cid: str) -> list[dict]:
    shown = httpx.get(f"{server.url}/api/conversations/{cid}/transcript",
                      cookies=server.login(username))
    assert shown.status_code == 200, shown.text
    return [f for f in shown.json()["events"] if f["type"] == "whisper"]


@pytest.mark.parametrize("saw_ana", [True, False])
async def test_two_supervisors_taking_over_one_chat_at_once_exactly_one_wins(
        tmp_path, clients: list[Client], saw_ana: bool) -> None:
    """Sue and Tom press Take over on Ana's chat at the same moment. Before, both got an ack:
    Tom's took the chat from Sue milliseconds after hers (Sue's console showed the chat and
    lost it, the visitor saw two people join, the audit had two take-overs). One wins, the
    other gets a conflict, whether the frames name the agent they saw holding the chat
    (`from_agent`, as the supervisor view sends) or not (an older client)."""
    server = desk(tmp_path)
    try:
        ana = await agent(server, "ana")
        sue = await agent(server, "sue", online=False)
        tom = await agent(server, "tom", online=False)
        clients += [ana, sue, tom]
        ana_id = ana.welcome["agent"]["id"]  # type: ignore[attr-defined]
        _sara, cid = await handed_to(server, clients, ana, "Sara")
        ids = {who: str(uuid.uuid4()) for who in ("sue", "tom")}
        seen = {"from_agent": ana_id} if saw_ana else {}
        await asyncio.gather(*(
            socket.send({"type": "take_over", "id": ids[who], "conversation_id": cid, **seen})
            for who, socket in (("sue", sue), ("tom", tom))))
        replies = [await sue.expect(("ack", "error"), where=lambda f: f.get("id") == ids["sue"]),
                   await tom.expect(("ack", "error"), where=lambda f: f.get("id") == ids["tom"])]
        assert sorted(r["type"] for r in replies) == ["ack", "error"], replies
        refused = next(r for r in replies if r["type"] == "error")
        assert refused["code"] == "conflict", refused
        winner = sue if replies[0]["type"] == "ack" else tom
        loser = tom if winner is sue else sue
        # The loser may still take it from the winner, knowingly: naming who holds it now.
        winner_id = winner.welcome["agent"]["id"]  # type: ignore[attr-defined]
        again = await loser.request("take_over", conversation_id=cid, from_agent=winner_id)
        assert again["type"] == "ack", again
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


async def test_a_take_over_of_a_chat_that_moved_on_is_a_conflict(
        tmp_path, clients: list[Client]) -> None:
    """Sue's supervisor view showed the chat with Ana; Ana transferred it to Bob meanwhile. Sue's
    Take over (naming Ana) is refused rather than taking it from Bob, whom she never saw."""
    server = desk(tmp_path)
    try:
        ana = await agent(server, "ana")
        bob = await agent(server, "bob")
        sue = await agent(server, "sue", online=False)
        clients += [ana, bob, sue]
        ana_id = ana.welcome["agent"]["id"]  # type: ignore[attr-defined]
        bob_id = bob.welcome["agent"]["id"]  # type: ignore[attr-defined]
        _sara, cid = await handed_to(server, clients, ana, "Sara")
        moved = await ana.request("transfer", conversation_id=cid, to_agent=bob_id)
        assert moved["type"] == "ack", moved
        await bob.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
        assert (await bob.request("accept", conversation_id=cid))["type"] == "ack"
        taken = await sue.request("take_over", conversation_id=cid, from_agent=ana_id)
        assert (taken["type"], taken["code"]) == ("error", "conflict"), taken
    finally:
        server.stop()


async def test_a_whisper_to_one_agent_is_not_read_by_another_agent(
        tmp_path, clients: list[Client]) -> None:
    """Sue whispers coaching to Ana in her chat with Sara. Bob, another agent, reads Sara's
    earlier chat from the visitor history dialog (the transcript API); and Ana transfers a chat
    with a whisper to Bob, whose console resumes it. Before, both carried Sue's words to Ana
    word for word. A whisper is for the agent it was sent to and for supervisors: Bob gets
    neither its text nor the frame; Ana and Sue still see it."""
    server = desk(tmp_path)
    try:
        ana = await agent(server, "ana")
        sue = await agent(server, "sue", online=False)
        clients += [ana, sue]
        sara, first = await handed_to(server, clients, ana, "Sara")
        assert (await sue.request("whisper", conversation_id=first, text=COACHING))[
            "type"] == "ack"
        assert (await ana.request("close", conversation_id=first, resolved=True))[
            "type"] == "ack"
        await ana.send({"type": "status", "status": "away"})
        await ana.expect("status")
        bob = await agent(server, "bob")
        clients.append(bob)
        bob_id = bob.welcome["agent"]["id"]  # type: ignore[attr-defined]
        second = (await sara.request("request_human"))["conversation_id"]
        assert second != first
        await bob.expect("offer", where=lambda f: f["conversation"]["id"] == second)
        assert (await bob.request("accept", conversation_id=second))["type"] == "ack"

        # The history dialog: Bob may read Sara's earlier chat, not Sue's words to Ana.
        assert whispers_in_transcript(server, "bob", first) == []
        for reader in ("ana", "sue"):
            assert [w["text"] for w in whispers_in_transcript(server, reader, first)] == [
                COACHING], reader

        # A transfer: Ana (back online) gets Omar's chat, Sue whispers, Ana hands it to Bob.
        await ana.send({"type": "status", "status": "online"})
        await ana.expect("status")
        await bob.send({"type": "status", "status": "away"})
        await bob.expect("status")
        omar, third = await handed_to(server, clients, ana, "Omar")
        whispered = await sue.request("whisper", conversation_id=third, text=COACHING)
        assert whispered["type"] == "ack"
        assert (await ana.expect("whisper", where=lambda f: f["conversation_id"] == third))[
            "text"] == COACHING
        await bob.send({"type": "status", "status": "online"})
        await bob.expect("status")
        moved = await ana.request("transfer", conversation_id=third, to_agent=bob_id)
        assert moved["type"] == "ack", moved
        await bob.expect("offer", where=lambda f: f["conversation"]["id"] == third)
        assert (await bob.request("accept", conversation_id=third))["type"] == "ack"
        await omar.request("message", text="still there?")
        await bob.send({"type": "resume", "conversation_id": third, "after_seq": 0})
        await bob.expect("message", where=lambda f: f.get("text") == "still there?")
        await bob.nothing("whisper", seconds=0.3)
        assert COACHING not in str(bob.seen)
        assert whispers_in_transcript(server, "bob", third) == []
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()
