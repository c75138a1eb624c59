"""The bot learns from the agents, against the real server over real sockets and HTTP: a chat
the bot handed off is answered with an entry, the visitor's question waits in the admin's inbox,
approving it teaches the bot at once (kept in the entry's history and the audit log), rejecting
keeps it out; the questions no entry answers come back grouped. The proposals' own reads and
writes also run below the server, on both backends."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest

from bot import Bot
from chatserver.core.conversation import Event
from chatserver.core.errors import Conflict
from chatserver.service.learning import Learning, question_before_handoff
from chatserver.store.kb_store import KnowledgeBase
from chatserver.store.store import NewEvent, Store

from .databases import db_location
from .harness import Client, Server, add_user, agent, visitor
from .test_kb_api import Session

__all__ = ["db_location"]

QUESTION = "the courier threw my box over the fence and it broke"
DAMAGED = "Wrong or damaged item"


def entry_id(admin: Session, title: str) -> int:
    entries = admin.get("/api/kb", params={"language": "en", "q": title}).json()["entries"]
    return next(e["id"] for e in entries if e["title"] == title)


async def hand_off(server: Server, text: str, **hello: Any) -> Client:
    """A visitor asks; whatever the bot tries (suggestions, say), they end up with a person."""
    guest = await visitor(server, name="Kim", language="en", **hello)
    await guest.request("message", text=text)
    reply = await guest.expect("message", where=lambda f: f["from"] == "bot")
    assert "suggestions" in reply or "person" in reply["text"].lower(), reply  # not answered
    if "suggestions" in reply:
        await guest.request("request_human")
    return guest


async def take_offer(person: Client) -> str:
    offer = await person.expect("offer")
    cid = offer["conversation"]["id"]
    assert (await person.request("accept", conversation_id=cid))["type"] == "ack"
    return str(cid)


async def inbox(admin: Session, count: int) -> list[dict[str, Any]]:
    """The pending proposals once there are `count` (made just after the agent's ack)."""
    for _ in range(100):
        proposals = admin.get("/api/kb/proposals").json()["proposals"]
        if len(proposals) >= count:
            return list(proposals)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the inbox holds {proposals}")


@pytest.mark.anyio
async def test_an_answer_with_an_entry_teaches_the_bot_once_an_admin_approves(
        server: Server, clients: list) -> None:
    add_user(server.db, "root", role="admin")
    add_user(server.db, "alice", skills={"lang:en": 5})
    admin = Session(server, "root")
    damaged = entry_id(admin, DAMAGED)
    person = await agent(server, "alice")
    clients.append(person)

    # Asked, handed off, answered by the agent with the entry (the console's Insert).
    guest = await hand_off(server, QUESTION)
    clients.append(guest)
    cid = await take_offer(person)
    await guest.request("message", text="hello? anyone there?")  # after the hand-off: not it
    ack = await person.request("message", conversation_id=cid, entry_id=damaged,
                               text="Sorry about that! Send us a photo and we replace it.")
    assert ack["type"] == "ack"
    line = await guest.expect("message", where=lambda f: f["from"] == "agent")
    assert "entry_id" not in line  # internals stay with the staff
    with sqlite3.connect(server.db) as db:
        stored = json.loads(db.execute("SELECT payload FROM events WHERE conversation_id = ? "
                                       "AND seq = ?", (cid, ack["seq"])).fetchone()[0])
    assert stored["entry_id"] == damaged

    [proposal] = await inbox(admin, 1)
    assert (proposal["text"], proposal["entry_id"], proposal["entry_title"]) == (
        QUESTION, damaged, DAMAGED)
    assert (proposal["source"], proposal["agent_name"], proposal["status"]) == (
        "message", "Alice", "pending")
    # Another line from the same entry in the same chat proposes nothing new.
    await person.request("message", conversation_id=cid, entry_id=damaged, text="Photo?")
    await asyncio.sleep(0.3)
    assert admin.get("/api/kb/proposals").json()["pending"] == 1

    # Only admins, and only with the session's CSRF token.
    staff = Session(server, "alice")
    assert staff.get("/api/kb/proposals").status_code == 403
    staff.close()
    refused = admin.send("POST", f"/api/kb/proposals/{proposal['id']}/approve", json={},
                         csrf=False)
    assert refused.status_code == 403

    version = admin.get(f"/api/kb/{damaged}").json()["version"]
    approved = admin.send("POST", f"/api/kb/proposals/{proposal['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    entry = approved.json()["entry"]
    assert entry["version"] == version + 1 and entry["questions"][-1] == QUESTION
    assert approved.json()["proposal"]["status"] == "approved"
    assert approved.json()["proposal"]["decided_by_name"] == "root"
    history = admin.get(f"/api/kb/{damaged}/history").json()["versions"]
    assert (history[0]["action"], history[0]["changed_by"]) == ("learn", "root")
    again = admin.send("POST", f"/api/kb/proposals/{proposal['id']}/approve", json={})
    assert again.status_code == 409  # decided once
    audit = admin.get("/api/audit", params={"action": "kb.learn."}).json()["entries"]
    assert [(a["action"], a["target"], a["detail"]["proposal"]) for a in audit] == [
        ("kb.learn.approve", f"kb:{damaged}", proposal["id"])]
    assert QUESTION not in json.dumps(audit)  # the log keeps ids, never visitors' words

    # The next visitor who asks it that way gets the answer from the bot at once.
    await person.request("close", conversation_id=cid, resolved=True)
    next_guest = await visitor(server, name="Lee", language="en")
    clients.append(next_guest)
    await next_guest.request("message", text=QUESTION)
    reply = await next_guest.expect("message", where=lambda f: f["from"] == "bot")
    with sqlite3.connect(server.db) as db:
        answered = json.loads(db.execute("SELECT payload FROM events WHERE conversation_id = ? "
                                         "AND seq = ?", (reply["conversation_id"],
                                                         reply["seq"])).fetchone()[0])
    assert (answered["decision"], answered["entry_id"]) == ("answer", damaged)
    admin.close()


@pytest.mark.anyio
async def test_the_entry_named_at_close_is_proposed_and_a_rejection_is_kept(
        server: Server, clients: list) -> None:
    add_user(server.db, "root", role="admin")
    add_user(server.db, "alice", skills={"lang:en": 5})
    admin = Session(server, "root")
    damaged = entry_id(admin, DAMAGED)
    person = await agent(server, "alice")
    guest = await hand_off(server, "my vase came in pieces, what can you do")
    clients += [person, guest]
    cid = await take_offer(person)
    closed = await person.request("close", conversation_id=cid, resolved=True,
                                  entry_id=damaged)
    assert closed["type"] == "ack"
    [proposal] = await inbox(admin, 1)
    assert (proposal["source"], proposal["text"]) == (
        "close", "my vase came in pieces, what can you do")

    edited = admin.send("POST", f"/api/kb/proposals/{proposal['id']}/approve",
                        json={"text": "   "})
    assert edited.status_code == 422 and edited.json()["field"] == "text"
    rejected = admin.send("POST", f"/api/kb/proposals/{proposal['id']}/reject")
    assert rejected.status_code == 200
    kept = rejected.json()["proposal"]
    assert (kept["status"], kept["decided_by_name"]) == ("rejected", "root")
    assert kept["decided_ms"] > 0
    assert admin.get("/api/kb/proposals").json() == {"proposals": [], "pending": 0}
    assert [p["id"] for p in admin.get("/api/kb/proposals",
                                       params={"status": "rejected"}).json()["proposals"]] == [
        proposal["id"]]
    assert "my vase" not in json.dumps(admin.get(f"/api/kb/{damaged}").json())
    assert admin.send("POST", f"/api/kb/proposals/{proposal['id']}/reject").status_code == 409
    assert admin.send("POST", "/api/kb/proposals/999/reject").status_code == 404
    admin.close()


@pytest.mark.anyio
async def test_what_no_entry_answers_comes_back_grouped(server: Server, clients: list) -> None:
    add_user(server.db, "root", role="admin")
    admin = Session(server, "root")
    asked = ["do you sell llama saddles", "llama saddles for sale?", "any saddles for a llama",
             "is your warehouse haunted by ghosts"]
    for text in asked:  # nobody is online: each is handed off and told so
        guest = await visitor(server, language="en")
        clients.append(guest)
        await guest.request("message", text=text)
        await guest.expect("message", where=lambda f: f["from"] == "bot")
    groups = admin.get("/api/kb/unanswered").json()["groups"]
    llama = groups[0]
    assert llama["count"] == 3 and llama["language"] == "en"
    assert set(llama["examples"]) == set(asked[:3])
    assert [g["examples"] for g in groups[1:]] == [["is your warehouse haunted by ghosts"]]
    assert admin.get("/api/kb/unanswered", params={"days": "0"}).status_code == 400
    # Once an entry answers them they leave the list.
    created = admin.send("POST", "/api/kb", json={
        "title": "Llama saddles", "language": "en", "status": "published",
        "questions": ["do you sell llama saddles", "llama saddle for sale"],
        "answer": "We do not sell saddles."})
    assert created.status_code == 201
    left = admin.get("/api/kb/unanswered").json()["groups"]
    assert [g["examples"] for g in left] == [["is your warehouse haunted by ghosts"]]
    admin.close()


def event(seq: int, kind: str, payload: dict[str, Any]) -> Event:
    return Event("c", seq, kind, "x", payload, None, seq)


def said(text: str) -> dict[str, Any]:
    return {"from": "visitor", "author": "Kim", "text": text}


def bot(decision: str, reason: str = "") -> dict[str, Any]:
    return {"from": "bot", "author": "Bot", "text": "…", "decision": decision,
            "reason": reason}


def test_the_question_is_the_last_real_one_before_the_hand_off() -> None:
    started = event(1, "started", {"language": "en"})
    queued = {"reason": "asked_for_human", "skills": [], "language": "en"}
    log = [started, event(2, "message", said("hi")), event(3, "message", bot("smalltalk")),
           event(4, "message", said("my  box\ncame broken")),
           event(5, "message", bot("suggest", "unsure")),
           event(6, "message", said("I want to talk to a person")),
           event(7, "message", bot("handoff", "asked_for_human")),
           event(8, "queued", queued), event(9, "message", said("hello??"))]
    assert question_before_handoff(log) == "my box came broken"
    # The button ("asked") after a wrong answer: the question the bot got wrong.
    button = [started, event(2, "message", said("where is my refund")),
              event(3, "message", bot("answer", "confident")),
              event(4, "queued", {**queued, "reason": "asked"})]
    assert question_before_handoff(button) == "where is my refund"
    assert question_before_handoff(log[:7]) is None  # never handed off
    erased = [started, event(2, "message", said("[erased]")), event(3, "queued", queued)]
    assert question_before_handoff(erased) is None
    assert question_before_handoff(
        [started, event(2, "message", said("x" * 501)), event(3, "queued", queued)]) is None


@pytest.mark.anyio
async def test_only_the_agent_holding_the_chat_closes_it_and_only_a_holder_proposes(
        server: Server, clients: list) -> None:
    """An agent only offered the chat declines it (its close is refused, nothing proposed); a
    supervisor may close anyone's chat, but proposes nothing from words they never answered."""
    add_user(server.db, "root", role="admin")
    add_user(server.db, "alice", skills={"lang:en": 5})
    admin = Session(server, "root")
    damaged = entry_id(admin, DAMAGED)
    person = await agent(server, "alice")
    guest = await hand_off(server, QUESTION)
    clients += [person, guest]
    cid = (await person.expect("offer"))["conversation"]["id"]
    refused = await person.request("close", conversation_id=cid, resolved=True,
                                   entry_id=damaged)
    assert (refused["type"], refused["code"]) == ("error", "conflict"), refused
    with sqlite3.connect(server.db) as db:
        assert db.execute("SELECT state FROM conversations WHERE id = ?",
                          (cid,)).fetchone()[0] == "offered"
    assert (await person.request("accept", conversation_id=cid))["type"] == "ack"

    add_user(server.db, "boss", role="supervisor")
    boss = await agent(server, "boss")
    clients.append(boss)
    closed = await boss.request("close", conversation_id=cid, resolved=True, entry_id=damaged)
    assert closed["type"] == "ack", closed
    await asyncio.sleep(0.2)  # a proposal is made just after the ack
    assert admin.get("/api/kb/proposals").json()["pending"] == 0
    admin.close()


@pytest.mark.anyio
async def test_an_entry_of_another_language_or_a_small_talk_reply_is_never_proposed(
        server: Server, clients: list) -> None:
    """A Persian question is no phrasing of an English entry, and a question added to a
    small-talk reply would be greeted ever after: such an entry_id is dropped from the line
    (which still goes through) and proposes nothing; nor may a visitor choose a reply."""
    add_user(server.db, "root", role="admin")
    add_user(server.db, "alice", skills={"lang:en": 5, "lang:fa": 5})
    admin = Session(server, "root")
    damaged = entry_id(admin, DAMAGED)
    greeting = next(e["id"] for e in admin.get("/api/kb", params={"language": "en"}).json()[
        "entries"] if e["title"] == "Small talk: greeting")
    person = await agent(server, "alice")
    clients.append(person)

    fa = await visitor(server, name="Sara", language="fa")
    clients.append(fa)
    await fa.request("message", text="گلدانم شکسته رسید، چکار باید بکنم")
    await fa.expect("message", where=lambda f: f["from"] == "bot")
    await fa.request("request_human")
    cid = await take_offer(person)
    sent = await person.request("message", conversation_id=cid, entry_id=damaged,
                                text="Send us a photo please")
    assert sent["type"] == "ack", sent
    line = await fa.expect("message", where=lambda f: f["from"] == "agent")
    assert line["text"] == "Send us a photo please"
    closed = await person.request("close", conversation_id=cid, resolved=True,
                                  entry_id=damaged)
    assert closed["type"] == "ack", closed

    guest = await hand_off(server, "my parcel arrived smashed")
    clients.append(guest)
    cid2 = await take_offer(person)
    hello = await person.request("message", conversation_id=cid2, entry_id=greeting,
                                 text="Hi!")
    assert hello["type"] == "ack", hello
    refused = await guest.request("choose", entry_id=greeting)
    assert (refused["type"], refused["code"]) == ("error", "not_found"), refused

    await asyncio.sleep(0.2)  # a proposal is made just after the ack
    assert admin.get("/api/kb/proposals").json()["pending"] == 0
    with sqlite3.connect(server.db) as db:
        named = db.execute(
            "SELECT count(*) FROM events WHERE conversation_id IN (?, ?) "
            "AND json_extract(payload, '$.entry_id') IS NOT NULL AND author != 'bot'",
            (cid, cid2)).fetchone()[0]
    assert named == 0  # dropped at the edge, never stored
    admin.close()


async def handed_off(store: Store, cid: str, text: str, now_ms: int) -> None:
    """A chat whose visitor asked `text` and the bot found no entry for."""
    await store.create_conversation(cid, "v", {"language": "en"}, now_ms)
    await store.append(cid, [NewEvent("message", "visitor", said(text)),
                             NewEvent("message", "bot", bot("handoff", "low_confidence")),
                             NewEvent("queued", "system", {"reason": "low_confidence",
                                                           "skills": [], "language": "en"})],
                       now_ms=now_ms + 1)


@pytest.mark.anyio
async def test_proposals_and_unanswered_questions_in_the_store(db_location: str) -> None:
    ghosts, now = "is your warehouse haunted by ghosts", 1_700_000_000_000
    store = Store(db_location)
    await store.open()
    try:
        matcher = Bot()
        kb = KnowledgeBase(store, matcher)
        await kb.load(now)
        learning = Learning(store, kb, matcher)
        root = await store.user(await store.add_user(
            "root", role="admin", password_hash="x", display_name="Root", skills={},
            capacity=3, now_ms=now))
        alice = await store.add_user("alice", role="agent", password_hash="x",
                                     display_name="Alice", skills={}, capacity=3, now_ms=now)
        damaged = next(e.id for e in await kb.entries(language="en", query="damaged")
                       if e.title == DAMAGED)
        assert damaged is not None
        await store.upsert_visitor("v", {}, now)
        await handed_off(store, "c1", QUESTION, now)
        await handed_off(store, "c2", ghosts, now)

        async def unanswered() -> set[str]:
            return {text for g in await learning.unanswered(now + 10) for text in g["examples"]}

        assert await unanswered() == {QUESTION, ghosts}
        first = await learning.agent_used("c1", damaged, "message", alice, now + 2)
        assert first is not None
        assert await learning.agent_used("c1", damaged, "close", alice, now + 3) is None
        [proposal] = await learning.proposals()
        assert (proposal["text"], proposal["entry_title"], proposal["agent_name"]) == (
            QUESTION, DAMAGED, "Alice")
        assert await learning.pending_count() == 1 and await unanswered() == {ghosts}

        decided, entry = await learning.approve(first, root, now + 4)
        assert entry.questions[-1] == QUESTION
        assert (decided["status"], decided["decided_by_name"], decided["added_text"],
                decided["entry_version"]) == ("approved", "root", QUESTION, entry.version)
        with pytest.raises(Conflict):
            await learning.approve(first, root, now + 5)
        history = await kb.history(damaged)
        assert (history[0]["action"], history[0]["changed_by"]) == ("learn", "root")

        second = await learning.agent_used("c2", damaged, "message", alice, now + 6)
        assert second is not None and await unanswered() == set()
        assert (await learning.reject(second, root, now + 7))["status"] == "rejected"
        assert [p["id"] for p in await learning.proposals("rejected")] == [second]
        assert await unanswered() == {ghosts}  # a rejected proposal answers nothing
    finally:
        await store.close()
