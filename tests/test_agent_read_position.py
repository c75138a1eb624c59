"""The agent side's read position (issue 20 review, finding 10), on SQLite and PostgreSQL: a
`read` from the agent holding a chat is kept with the conversation (migration 18), passed to
the visitor and to that agent's other consoles, and a console that connects later (another
device, a reload, after a restart) is told it in the welcome; a mark never goes back, never
past the chat's last line, and nobody but the holder moves it."""

from __future__ import annotations

import pytest

from .databases import db_location
from .harness import Server, add_user, agent, sql
from .test_labels import _chat

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]


def read_seq(server: Server, cid: str) -> int:
    return sql(server.db, "SELECT agent_read_seq FROM conversations WHERE id = ?", (cid,))[0][0]


async def test_the_agents_read_position_is_kept_and_told_to_their_other_consoles(
        tmp_path, db_location: str, clients: list) -> None:
    server = Server(tmp_path, database=db_location)
    add_user(server.db, "ana", display_name="Ana")
    add_user(server.db, "bob", display_name="Bob")
    server.start()
    try:
        desk = await agent(server, "ana")
        phone = await agent(server, "ana", online=False)  # a second device, open already
        bob = await agent(server, "bob", online=False)
        clients += [desk, phone, bob]
        sara, cid = await _chat(server, clients, desk, "Sara")
        seq = (await sara.request("message", text="my order 1043 never came"))["seq"]
        await desk.expect("message", where=lambda f: f.get("seq") == seq)

        # Read at the desk: the visitor is told, and so is Ana's phone.
        await desk.send({"type": "read", "conversation_id": cid, "seq": seq})
        told = {"type": "read", "conversation_id": cid, "from": "agent", "seq": seq}
        assert await sara.expect("read") == told
        assert await phone.expect("read", where=lambda f: f["conversation_id"] == cid) == told
        assert await desk.expect("read") == told  # every console of Ana's, the desk's own too
        assert read_seq(server, cid) == seq

        # The phone says the same (it showed the line too): nobody is told twice. A lower mark
        # and one past the chat's last line move nothing; Bob, who does not hold it, cannot.
        for mark in (seq, seq - 1, seq + 100):
            await phone.send({"type": "read", "conversation_id": cid, "seq": mark})
        await bob.send({"type": "read", "conversation_id": cid, "seq": seq + 1})
        assert (await bob.expect("error"))["code"] == "not_found"
        await sara.nothing("read")
        await desk.nothing("read")
        await phone.nothing("read")
        assert read_seq(server, cid) == seq

        # A console that connects later counts from it, after a restart too.
        later = await agent(server, "ana", online=False)
        clients.append(later)
        assert [(c["id"], c["read_seq"]) for c in later.welcome["conversations"]] == [(cid, seq)]
        server.stop()
        server.start()
        again = await agent(server, "ana", online=False)
        clients.append(again)
        assert [(c["id"], c["read_seq"]) for c in again.welcome["conversations"]] == [(cid, seq)]
    finally:
        server.stop()
