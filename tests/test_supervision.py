"""Supervisor whisper and take-over (issue 20 part 6) on the real server, on SQLite and
PostgreSQL, over real sockets: a supervisor, the agent holding the chat, another agent and the
visitor. A whisper reaches the agent and supervisors, never the visitor (live, on resume), is in
the log after a restart and stored once for a retried frame id; a take-over moves the chat to
the supervisor, the agent hears who took it, the visitor only that a person joined. Both are in
the audit log without the whisper's words; every refusal is a clear error frame."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from .databases import db_location
from .harness import Client, Server, add_user, agent, sql, visitor
from .test_labels import _chat as handed_to  # a visitor asks for a person; Ana accepts
from .test_labels import session

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]

SECRET_WORDS = "offer the refund: long-time customer"


def desk(tmp_path, database: str | None = None) -> Server:
    server = Server(tmp_path, database=database)
    add_user(server.db, "root", role="admin", display_name="Root")
    add_user(server.db, "sue", role="supervisor", display_name="Sue")
    add_user(server.db, "ana", display_name="Ana", capacity=1)
    add_user(server.db, "bob", display_name="Bob")
    return server.start()


def rows(server: Server, statement: str, *params: Any) -> list[Any]:
    return sql(server.db, statement, params)


def audit_rows(server: Server, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r[0], r[1], json.loads(r[2])) for r in rows(
        server, "SELECT username, target, detail FROM audit_log WHERE action = ? ORDER BY id",
        action)]


def transcript(server: Server, username: str, cid: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/conversations/{cid}/transcript",
                         cookies=server.login(username))
    assert response.status_code == 200, response.text
    return response.json()["events"]


async def test_a_whisper_reaches_the_agent_and_supervisors_never_the_visitor(
        tmp_path, db_location: str, clients: list[Client]) -> None:
    server = desk(tmp_path, db_location)
    try:
        ana = await agent(server, "ana")
        sue = await agent(server, "sue", online=False)
        root = await agent(server, "root", online=False)
        bob = await agent(server, "bob")
        clients += [ana, sue, root, bob]
        ana_id = ana.welcome["agent"]["id"]  # type: ignore[attr-defined]
        sue_id = sue.welcome["agent"]["id"]  # type: ignore[attr-defined]
        sara, cid = await handed_to(server, clients, ana, "Sara")
        await sara.request("message", text="my order never came")

        frame_id = str(uuid.uuid4())
        whisper = {"type": "whisper", "id": frame_id, "conversation_id": cid,
                   "text": SECRET_WORDS}
        await sue.send(whisper)
        ack = await sue.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert ack["type"] == "ack" and ack["conversation_id"] == cid and ack["seq"] > 0, ack

        # Ana, holding the chat, sees it live, marked as Sue's whisper; so does the admin.
        heard = await ana.expect("whisper", where=lambda f: f["conversation_id"] == cid)
        assert (heard["seq"], heard["id"], heard["author"], heard["author_id"],
                heard["to_agent"], heard["text"]) == (ack["seq"], frame_id, "Sue", sue_id,
                                                      ana_id, SECRET_WORDS)
        assert (await root.expect("whisper"))["seq"] == ack["seq"]
        # The ack is Sue's copy of her own words (as for a line or a note).
        await sue.nothing("whisper")
        await bob.nothing("whisper")  # not his chat

        # A retry of the same frame is acked the same and stored once, audited once.
        await sue.send(whisper)
        again = await sue.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert (again["type"], again["seq"]) == ("ack", ack["seq"])
        await ana.nothing("whisper")
        stored = rows(server, "SELECT seq, author, payload FROM events WHERE "
                              "conversation_id = ? AND type = 'whisper'", cid)
        assert [(s, a, json.loads(p)["text"]) for s, a, p in stored] == [
            (ack["seq"], f"agent:{sue_id}", SECRET_WORDS)]
        entries = audit_rows(server, "supervisor.whisper")
        assert entries == [("sue", f"conversation:{cid}",
                            {"conversation_id": cid, "to_agent": ana_id})]
        assert SECRET_WORDS not in repr([tuple(r) for r in rows(server, "SELECT * FROM audit_log")])

        # The visitor never hears of it: not live, not on resume, not after a later line.
        sent = await ana.request("message", conversation_id=cid, text="Let me check that for you")
        assert sent["type"] == "ack", sent
        await sara.expect("message", where=lambda f: f.get("from") == "agent")
        await sara.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
        await sara.expect("message", where=lambda f: f.get("text") == "Let me check that for you")
        await sara.nothing(("whisper", "note", "event"), seconds=0.5)
        assert SECRET_WORDS not in json.dumps(sara.seen)
        assert not [f for f in sara.seen if f.get("seq") == ack["seq"]]

        # Staff transcripts (the history dialog and search open this API) show it as a whisper.
        for who in ("ana", "sue"):
            shown = [f for f in transcript(server, who, cid) if f["type"] == "whisper"]
            assert [(f["author"], f["text"]) for f in shown] == [("Sue", SECRET_WORDS)], who

        # It is in the log: after a restart Ana's console catches up and finds it again.
        for client in clients:
            await client.ws.close()
        server.stop()
        server.start()
        ana = await agent(server, "ana")
        clients.append(ana)
        assert [c["id"] for c in ana.welcome["conversations"]] == [cid]  # type: ignore[attr-defined]
        await ana.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
        back = await ana.expect("whisper")
        assert (back["seq"], back["text"], back["author"]) == (ack["seq"], SECRET_WORDS, "Sue")
        # The retried frame after the restart is still the one stored.
        sue = await agent(server, "sue", online=False)
        clients.append(sue)
        await sue.send(whisper)
        late = await sue.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert (late["type"], late["seq"]) == ("ack", ack["seq"])
        assert len(rows(server, "SELECT 1 FROM events WHERE type = 'whisper'")) == 1
        assert len(audit_rows(server, "supervisor.whisper")) == 1

        # An access request exports it with the chat (staff notes are data about the visitor,
        # docs/privacy.md); an erasure replaces its words like every other text.
        ((vid,),) = rows(server, "SELECT visitor_id FROM conversations WHERE id = ?", cid)
        with session(server, "root") as http:
            exported = http.get(f"/api/privacy/visitors/{vid}/export")
            assert exported.status_code == 200 and SECRET_WORDS in exported.text
            assert http.post(f"/api/privacy/visitors/{vid}/erase").status_code == 200
        ((payload,),) = rows(server, "SELECT payload FROM events WHERE type = 'whisper'")
        assert json.loads(payload)["text"] == "[erased]"
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


async def test_a_take_over_moves_the_chat_to_the_supervisor(
        tmp_path, db_location: str, clients: list[Client]) -> None:
    server = desk(tmp_path, db_location)
    try:
        ana = await agent(server, "ana")  # capacity 1: she takes one chat at a time
        sue = await agent(server, "sue", online=False)  # the supervisor view's socket
        sue_console = await agent(server, "sue", online=False)  # her /console, another tab
        clients += [ana, sue, sue_console]
        ana_id = ana.welcome["agent"]["id"]  # type: ignore[attr-defined]
        sue_id = sue.welcome["agent"]["id"]  # type: ignore[attr-defined]
        sara, cid = await handed_to(server, clients, ana, "Sara")
        await sara.request("message", text="this is taking ages")

        frame_id = str(uuid.uuid4())
        take = {"type": "take_over", "id": frame_id, "conversation_id": cid}
        await sue.send(take)
        ack = await sue.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert ack["type"] == "ack" and ack["seq"] > 0, ack

        # Ana hears who took it; the chat is no longer hers to write in.
        moved = await ana.expect("event", where=lambda f: f["event"] == "transferred")
        assert moved["seq"] == ack["seq"]
        assert {k: moved["payload"][k] for k in ("from_agent", "to_agent", "take_over", "by")} == {
            "from_agent": ana_id, "to_agent": sue_id, "take_over": True, "by": "Sue"}
        refused = await ana.request("message", conversation_id=cid, text="still mine?")
        assert (refused["type"], refused["code"]) == ("error", "not_found"), refused

        # The visitor sees a person join, nothing of how.
        joined = await sara.expect("assigned", where=lambda f: f["seq"] > ack["seq"])
        assert joined["agent"] == "Sue" and "agent_id" not in joined
        await sara.nothing(("event", "whisper"), seconds=0.3)
        assert "take_over" not in json.dumps(sara.seen)

        # Both of Sue's sockets hear it is hers (her console shows it at once, no offer).
        for socket in (sue, sue_console):
            mine = await socket.expect("assigned", where=lambda f: f["conversation_id"] == cid
                                       and f["seq"] > ack["seq"])
            assert mine["agent_id"] == sue_id
        await sue_console.nothing("offer")
        sent = await sue_console.request("message", conversation_id=cid, text="Sue here, sorry!")
        assert sent["type"] == "ack", sent
        assert (await sara.expect("message", where=lambda f: f.get("from") == "agent"))[
            "text"] == "Sue here, sorry!"

        # A retry stores nothing more; the audit names who took it from whom.
        await sue.send(take)
        again = await sue.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
        assert (again["type"], again["seq"]) == ("ack", ack["seq"])
        kinds = [r[0] for r in rows(server, "SELECT type FROM events WHERE conversation_id = ? "
                                            "ORDER BY seq", cid)]
        assert kinds.count("transferred") == 1 and kinds.count("assigned") == 2
        assert audit_rows(server, "supervisor.take_over") == [
            ("sue", f"conversation:{cid}", {"conversation_id": cid, "from_agent": ana_id})]
        # Taking over what she holds already is a conflict, not a second move.
        twice = await sue.request("take_over", conversation_id=cid)
        assert (twice["type"], twice["code"]) == ("error", "conflict")

        # Ana's slot is free: the next visitor is offered to her at once.
        omid = await visitor(server, name="Omid")
        clients.append(omid)
        other = (await omid.request("request_human"))["conversation_id"]
        offer = await ana.expect("offer")
        assert offer["conversation"]["id"] == other

        # The admins see both rows on /admin/audit.
        page = httpx.get(server.url + "/admin/audit?action=supervisor.",
                         cookies=server.login("root"))
        assert page.status_code == 200 and "supervisor.take_over" in page.text

        # After a restart the chat is still Sue's: her console gets it back in welcome.
        for client in clients:
            await client.ws.close()
        server.stop()
        server.start()
        sue = await agent(server, "sue", online=False)
        clients.append(sue)
        held = {c["id"]: c["state"] for c in sue.welcome["conversations"]}  # type: ignore[attr-defined]
        assert held == {cid: "assigned"}
        ana = await agent(server, "ana")
        clients.append(ana)
        assert cid not in [c["id"] for c in ana.welcome["conversations"]]  # type: ignore[attr-defined]
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


async def test_refusals_are_clear_error_frames_and_the_socket_stays_usable(
        tmp_path, clients: list[Client]) -> None:
    server = desk(tmp_path)
    try:
        ana = await agent(server, "ana")
        sue = await agent(server, "sue", online=False)
        clients += [ana, sue]
        _sara, cid = await handed_to(server, clients, ana, "Sara")

        # An agent may neither whisper nor take over, even in a chat she holds.
        for kind, fields in (("whisper", {"text": "psst"}), ("take_over", {})):
            error = await ana.request(kind, conversation_id=cid, **fields)
            assert (error["type"], error["code"]) == ("error", "forbidden"), error
            assert "supervisors and admins" in error["message"]
        assert (await ana.request("message", conversation_id=cid, text="hello"))["type"] == "ack"

        too_long = "x" * 4001  # limits.max_text_chars is 4000
        for fields, code, words in [
            ({"conversation_id": "no-such-chat", "text": "hi"}, "not_found", "no such"),
            ({"conversation_id": cid, "text": ""}, "bad_frame", "empty"),
            ({"conversation_id": cid, "text": " \n\t "}, "bad_frame", "empty"),
            ({"conversation_id": cid, "text": too_long}, "too_large", "longer than"),
            ({"conversation_id": cid, "text": "bell\u0007"}, "bad_frame", "control character"),
            ({"conversation_id": cid, "text": "half \ud83d"}, "bad_frame", "surrogate"),
            ({"conversation_id": cid}, "bad_frame", "'text' is required"),
            ({"text": "hi"}, "bad_frame", "'conversation_id' is required"),
            ({"conversation_id": cid, "text": 5}, "bad_frame", "must be a string"),
        ]:
            error = await sue.request("whisper", **fields)
            assert (error["type"], error["code"]) == ("error", code), (fields, error)
            assert words in error["message"], (fields, error)
        error = await sue.request("take_over", conversation_id="no-such-chat")
        assert (error["type"], error["code"]) == ("error", "not_found")

        # A chat nobody holds yet (the bot has it) has nobody to whisper to or take from.
        omid = await visitor(server, name="Omid")
        clients.append(omid)
        waiting = (await omid.request("message", text="hello?"))["conversation_id"]
        for kind, fields in (("whisper", {"text": "psst"}), ("take_over", {})):
            error = await sue.request(kind, conversation_id=waiting, **fields)
            assert (error["type"], error["code"]) == ("error", "conflict"), error
            assert "no agent holds this chat" in error["message"]

        # A closed chat: a conflict for both.
        await ana.request("close", conversation_id=cid, resolved=True)
        for kind, fields in (("whisper", {"text": "psst"}), ("take_over", {})):
            error = await sue.request(kind, conversation_id=cid, **fields)
            assert (error["type"], error["code"]) == ("error", "conflict"), error
            assert "closed" in error["message"]

        # Still usable: Sue's socket answers a good frame after all those refusals.
        await sue.send({"type": "status", "status": "online"})
        assert (await sue.expect("status"))["status"] == "online"
        assert rows(server, "SELECT count(*) FROM events WHERE type IN ('whisper', "
                            "'transferred')") == [(0,)]
        assert rows(server, "SELECT count(*) FROM audit_log WHERE action LIKE "
                            "'supervisor.%'") == [(0,)]
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()
