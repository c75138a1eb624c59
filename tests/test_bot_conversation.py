"""The bot inside real conversations: answers, suggestions, choosing, hand-off in every language."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from .harness import Server, add_user, agent, stored_unanswered, visitor

pytestmark = pytest.mark.anyio


async def bot_reply(client) -> dict:
    return await client.expect("message", where=lambda f: f["from"] == "bot")


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "how can I track my order?"),
        ("fa", "چطور میتونم سفارشم رو پیگیری کنم؟"),
        ("ar", "كيف يمكنني تتبع طلبي؟"),
        ("zh", "我怎么查询我的订单物流？"),
    ],
)
async def test_the_bot_answers_what_the_default_knowledge_base_knows(
    shared_server: Server, clients: list, language: str, question: str
) -> None:
    sara = await visitor(shared_server, name="Sara", language=language)
    clients.append(sara)
    await sara.request("message", text=question)
    reply = await bot_reply(sara)
    assert reply["text"] and "suggestions" not in reply
    assert "**" not in reply["text"]  # plain text for display; the safe Markdown rides apart
    assert reply["markdown"]
    assert "decision" not in reply and "matches" not in reply  # internals stay with agents
    with sqlite3.connect(shared_server.db) as db:
        payload = json.loads(db.execute(
            "SELECT payload FROM events WHERE conversation_id = ? AND seq = ?",
            (reply["conversation_id"], reply["seq"])).fetchone()[0])
    assert payload["decision"] in ("answer", "suggest")
    entry = db_entry(shared_server, payload.get("entry_id") or
                     payload["matches"][0]["entry_id"])
    assert entry["language"] == language
    assert "track" in entry["title"].lower() or entry["skill"] in ("orders", "shipping")


def db_entry(server: Server, entry_id: int) -> dict:
    with sqlite3.connect(server.db) as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM kb_entries WHERE id = ?", (entry_id,)).fetchone())


@pytest.mark.parametrize(
    ("language", "phrase"),
    [
        ("en", "I want to talk to a real person"),
        ("fa", "میخوام با یک اپراتور صحبت کنم"),
        ("ar", "أريد التحدث مع موظف"),
        ("zh", "我要转人工客服"),
    ],
)
async def test_asking_for_a_person_in_any_language_hands_off(
    shared_server: Server, clients: list, language: str, phrase: str
) -> None:
    add_user(shared_server.db, f"agent_{language}", skills={f"lang:{language}": 5})
    person = await agent(shared_server, f"agent_{language}")
    clients.append(person)
    visitor_ = await visitor(shared_server, name="V", language=language)
    clients.append(visitor_)
    await visitor_.request("message", text=phrase)
    await bot_reply(visitor_)
    offer = await person.expect("offer")
    bot_lines = [m for m in offer["conversation"]["transcript"] if m["from"] == "bot"]
    assert bot_lines[-1]["decision"] == "handoff"
    assert bot_lines[-1]["reason"] == "asked_for_human"
    await person.request("decline", conversation_id=offer["conversation"]["id"])


async def test_a_chosen_suggestion_is_answered_and_unclear_questions_get_choices(
        shared_server: Server, clients: list) -> None:
    sara = await visitor(shared_server, name="Sara", language="en")
    clients.append(sara)
    await sara.request("message", text="help with shipping costs and returns")
    reply = await bot_reply(sara)
    assert 2 <= len(reply["suggestions"]) <= 3
    pick = reply["suggestions"][0]
    ack = await sara.request("choose", entry_id=pick["entry_id"])
    assert ack["type"] == "ack"
    answer = await sara.expect("message", where=lambda f: f["seq"] == ack["seq"])
    assert answer["from"] == "bot" and answer["text"]
    unknown = await sara.request("choose", entry_id=999999)
    assert unknown["type"] == "error" and unknown["code"] == "not_found"


async def test_a_question_the_bot_cannot_answer_hands_off(shared_server: Server,
                                                          clients: list) -> None:
    add_user(shared_server.db, "fallback", skills={
        "lang:en": 5, "orders": 3, "shipping": 3, "returns": 3, "billing": 3, "accounts": 3,
        "general": 3})
    person = await agent(shared_server, "fallback")
    clients.append(person)
    sara = await visitor(shared_server, name="Sara", language="en")
    clients.append(sara)
    ack = await sara.request("message", text="what is the airspeed of an unladen swallow")
    await bot_reply(sara)
    offer = await person.expect("offer", timeout=5, where=lambda f: f["conversation"]["id"]
                                == ack["conversation_id"])
    bot_lines = [m for m in offer["conversation"]["transcript"] if m["from"] == "bot"]
    assert bot_lines[-1]["decision"] == "handoff"
    assert bot_lines[-1]["reason"] == "low_confidence"
    assert bot_lines[-1]["matches"]  # the agent sees which entries the bot tried
    await person.request("decline", conversation_id=offer["conversation"]["id"])


def stored_types(server: Server, conversation_id: str) -> list[str]:
    with sqlite3.connect(server.db) as db:
        return [r[0] for r in db.execute(
            "SELECT type FROM events WHERE conversation_id = ? ORDER BY seq", (conversation_id,))]


async def test_hi_first_is_greeted_by_name_and_thanks_after_an_answer_offers_to_end(
        shared_server: Server, clients: list) -> None:
    sara = await visitor(shared_server, name="Sara", language="en")
    clients.append(sara)
    ack = await sara.request("message", text="hi")
    hello = await bot_reply(sara)
    assert hello["text"].startswith("Hi Sara!") and "actions" not in hello
    assert "queued" not in stored_types(shared_server, ack["conversation_id"])
    await sara.request("message", text="I want to track my order, how do I do that?")
    answer = await bot_reply(sara)
    assert answer["markdown"]
    await sara.request("message", text="thanks!")
    thanks = await bot_reply(sara)
    assert thanks["actions"] == ["close"] and "Sara" in thanks["text"]
    closed = await sara.request("close")
    assert closed["type"] == "ack"
    assert "queued" not in stored_types(shared_server, ack["conversation_id"])
    with sqlite3.connect(shared_server.db) as db:
        intents = [json.loads(r[0]).get("intent") for r in db.execute(
            "SELECT payload FROM events WHERE conversation_id = ? AND author = 'bot'",
            (ack["conversation_id"],))]
    assert intents == ["greeting", None, "thanks"]


@pytest.mark.parametrize(("language", "text"), [("fa", "این به درد نمی‌خوره"),
                                                ("zh", "没用")])
async def test_frustration_gets_an_apology_and_a_person_only_when_asked(
        shared_server: Server, clients: list, language: str, text: str) -> None:
    add_user(shared_server.db, f"calm_{language}", skills={f"lang:{language}": 5})
    person = await agent(shared_server, f"calm_{language}")
    clients.append(person)
    v = await visitor(shared_server, name="V", language=language)
    clients.append(v)
    ack = await v.request("message", text=text)
    offer_line = await bot_reply(v)
    assert offer_line["actions"] == ["human"]
    assert "queued" not in stored_types(shared_server, ack["conversation_id"])
    with pytest.raises((AssertionError, TimeoutError)):  # not a silent queue
        await person.expect("offer", timeout=0.3, where=lambda f: f["conversation"]["id"]
                            == ack["conversation_id"])
    asked = await v.request("request_human")
    assert asked["type"] == "ack"
    offer = await person.expect("offer", where=lambda f: f["conversation"]["id"]
                                == ack["conversation_id"])
    bot_lines = [m for m in offer["conversation"]["transcript"] if m["from"] == "bot"]
    assert (bot_lines[-1]["decision"], bot_lines[-1]["reason"]) == ("offer_human", "frustrated")
    await person.request("decline", conversation_id=ack["conversation_id"])


async def test_the_same_question_again_offers_a_person(shared_server: Server,
                                                       clients: list) -> None:
    sara = await visitor(shared_server, name="Sara", language="en")
    clients.append(sara)
    await sara.request("message", text="how much does shipping cost?")
    first = await bot_reply(sara)
    assert "actions" not in first
    await sara.request("message", text="how much does shipping cost??")
    again = await bot_reply(sara)
    assert again["actions"] == ["human"] and "help" in again["text"]


async def test_a_line_stored_though_its_answer_was_lost_is_answered_once(
        shared_server: Server, clients: list) -> None:
    """A visitor's line is committed but its answer lost (PostgreSQL dropped the connection
    after COMMIT: here the row goes straight into the log), so the bot never read it; the
    retry with the same id finds it stored and gets its ack, and the bot answers it then.
    Where the bot's answer was stored too (only the ack was lost), the retry gets no second
    answer."""
    sara = await visitor(shared_server, name="Sara", language="en")
    clients.append(sara)
    cid = (await sara.request("message", text="hello"))["conversation_id"]
    await bot_reply(sara)
    question = "how can I track my order?"
    line = {"from": "visitor", "author": "Sara", "text": question}
    frame_id = str(uuid.uuid4())
    seq = stored_unanswered(shared_server, cid, "message", "visitor", line, frame_id, "bot")
    await sara.send({"type": "message", "id": frame_id, "text": question})
    ack = await sara.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
    assert (ack["type"], ack.get("seq")) == ("ack", seq), ack
    assert (await bot_reply(sara))["seq"] == seq + 1

    frame_id = str(uuid.uuid4())
    line["text"] = question = "what are your opening hours?"
    seq = stored_unanswered(shared_server, cid, "message", "visitor", line, frame_id, "bot")
    stored_unanswered(shared_server, cid, "message", "bot", {
        "from": "bot", "author": "Bot", "text": "We are open 9-17.", "decision": "answer"},
        None, "bot")
    await sara.send({"type": "message", "id": frame_id, "text": question})
    ack = await sara.expect(("ack", "error"), where=lambda f: f.get("id") == frame_id)
    assert (ack["type"], ack.get("seq")) == ("ack", seq), ack
    after = await sara.request("message", text="thanks")
    assert after["seq"] == seq + 2, "the retry answered its line again"
    # the answer to "thanks", not the stored answer the retry's recovery published to Sara
    await sara.expect("message", where=lambda f: f["from"] == "bot" and f["seq"] > seq + 2)
    with sqlite3.connect(shared_server.db) as db:
        kinds = [a for (a,) in db.execute("SELECT author FROM events WHERE conversation_id = ? "
                                          "AND seq > ? ORDER BY seq", (cid, seq))]
    assert kinds == ["bot", "visitor", "bot"], kinds
