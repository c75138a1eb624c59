"""A visitor's history over HTTP against the real server, on SQLite and on PostgreSQL: the
shape agents rely on, who may read it (least privilege), paging, and erased visitors (no
history, no transcript, no external id left)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from chatserver.service import visitor_history

from . import harness
from .databases import BACKENDS
from .harness import Client, Server, agent, sql, visitor
from .test_identity import IDENTITY_SECRET, signed
from .test_kb_api import Session

pytestmark = pytest.mark.anyio


def test_first_line_is_one_line_cut_with_an_ellipsis() -> None:
    assert visitor_history.first_line("  Where is\n my   order?\t") == "Where is my order?"
    assert visitor_history.first_line(None) == ""
    long = visitor_history.first_line("سلام " * 100)
    assert len(long) == visitor_history.FIRST_LINE_CHARS and long.endswith("…")


def test_a_cursor_is_read_back_or_refused() -> None:
    assert visitor_history.parse_cursor("1733480000000.abc_DEF-1") == (1733480000000, "abc_DEF-1")
    for bad in ["", "yesterday", ".abc", "123.", "-5.abc", "1e3.abc", "1." + "x" * 120,
                "9" * 20 + ".abc", "\u00b2.abc", "\u0663.abc"]:  # past 64 bits; not ASCII
        assert visitor_history.parse_cursor(bad) is None, bad


@pytest.fixture(scope="module", params=BACKENDS)
def history_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Server]:
    """One server per backend for the module: each test has visitors of its own; only the
    first serves chats (Carol's), and Dave never does."""
    with harness.served(request.param, tmp_path_factory.mktemp(request.param),
                        {"carol": "agent", "dave": "agent", "sue": "supervisor",
                         "root": "admin"}, CHATSERVER_IDENTITY_SECRET=IDENTITY_SECRET,
                        CHATSERVER_LIMITS_FRAMES_PER_SECOND="200",
                        CHATSERVER_LIMITS_FRAME_BURST="200") as srv:
        yield srv


async def offered_to(v: Client, carol: Client, text: str) -> str:
    # A person first: the bot's hand-off could route by a topic nobody here holds.
    cid = (await v.request("request_human"))["conversation_id"]
    assert (await v.request("message", text=text))["type"] == "ack"
    await carol.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    return cid


async def served(v: Client, carol: Client, text: str, rating: int | None) -> str:
    cid = await offered_to(v, carol, text)
    await carol.request("accept", conversation_id=cid)
    await carol.request("close", conversation_id=cid, resolved=True)
    if rating is not None:
        await v.expect("survey_request")
        assert (await v.request("survey", rating=rating))["type"] == "ack"
    return cid


def staff(server: Server, username: str) -> Session:
    return Session(server, username)


async def test_history_shape_and_who_may_read_it(history_server: Server, clients: list) -> None:
    srv = history_server
    carol = await agent(srv, "carol")
    zed = await visitor(srv, name="Zed")
    clients += [carol, zed]
    first = await served(zed, carol, "Where is my parcel 4711?\n  it was due   Monday", 5)
    bot_only = (await zed.request("message", text="what are your opening hours"))[
        "conversation_id"]
    assert (await zed.request("close"))["type"] == "ack"
    now = await offered_to(zed, carol, "I want a refund")
    vid = sql(srv.db, "SELECT visitor_id FROM conversations WHERE id = ?", (now,))[0][0]

    as_carol, as_dave, as_sue = staff(srv, "carol"), staff(srv, "dave"), staff(srv, "sue")
    try:
        got = as_carol.get(f"/api/visitors/{vid}/history")
        assert got.status_code == 200, got.text
        assert got.headers["cache-control"] == "no-store"
        body = got.json()
        assert body["visitor"] == {"id": vid, "name": "Zed", "verified": False}
        assert body["summary"] == {"returning": True, "conversations": 2, "last_rating": 5}
        assert body["next"] is None
        newest, older = body["conversations"]
        assert (newest["id"], older["id"]) == (bot_only, first)  # newest first
        assert older["agent"] == "Carol" and older["rating"] == 5 and older["resolved"] is True
        assert older["first_line"] == "Where is my parcel 4711? it was due Monday"
        assert older["language"] == "" and older["topic"] == ""
        assert older["closed_ms"] >= older["started_ms"] > 0
        assert newest["agent"] == "" and newest["rating"] is None
        assert newest["resolved"] is None
        assert newest["first_line"] == "what are your opening hours"
        assert set(newest) == {"id", "started_ms", "closed_ms", "topic", "language", "agent",
                               "rating", "resolved", "first_line"}

        transcript = as_carol.get(f"/api/conversations/{first}/transcript")
        assert transcript.status_code == 200
        texts = [f.get("text") for f in transcript.json()["events"] if f["type"] == "message"]
        assert texts[0] == "Where is my parcel 4711?\n  it was due   Monday"
        assert transcript.json()["conversation"]["agent"] == "Carol"
        assert as_carol.send("POST", f"/api/conversations/{first}/transcript"
                             ).status_code == 405  # read-only

        # Dave has no chat with Zed: nothing, and no hint whether Zed exists.
        for url in (f"/api/visitors/{vid}/history", f"/api/conversations/{first}/transcript",
                    "/api/visitors/nobody/history", "/api/conversations/nothing/transcript"):
            assert as_dave.get(url).status_code == 404, url
        assert as_sue.get(f"/api/visitors/{vid}/history").status_code == 200
        assert httpx.get(srv.url + f"/api/visitors/{vid}/history").status_code == 401
        assert as_sue.get(f"/api/visitors/{vid}/history",
                          params={"cursor": "yesterday"}).status_code == 400

        # Once Carol's chat with Zed is over, his history is closed to her again; the
        # transcripts of chats she served are still hers to read.
        await carol.request("accept", conversation_id=now)
        await carol.request("close", conversation_id=now, resolved=False)
        assert as_carol.get(f"/api/visitors/{vid}/history").status_code == 404
        assert as_carol.get(f"/api/conversations/{first}/transcript").status_code == 200
        assert as_carol.get(f"/api/conversations/{bot_only}/transcript").status_code == 404
    finally:
        for session in (as_carol, as_dave, as_sue):
            session.close()


async def test_history_pages_newest_first_with_a_cursor(history_server: Server,
                                                        clients: list) -> None:
    v = await visitor(history_server, name="Regular")
    clients.append(v)
    made = []
    for i in range(21):
        made.append((await v.request("message", text=f"question {i}"))["conversation_id"])
        assert (await v.request("close"))["type"] == "ack"
    vid = sql(history_server.db, "SELECT visitor_id FROM conversations WHERE id = ?",
              (made[0],))[0][0]
    with_sue = staff(history_server, "sue")
    try:
        first = with_sue.get(f"/api/visitors/{vid}/history").json()
        assert len(first["conversations"]) == 20 and first["next"]
        second = with_sue.get(f"/api/visitors/{vid}/history",
                              params={"cursor": first["next"]}).json()
    finally:
        with_sue.close()
    assert second["next"] is None
    listed = [c["id"] for c in first["conversations"] + second["conversations"]]
    assert listed == made[::-1]
    assert first["summary"]["conversations"] == 21


async def test_an_erased_visitor_has_no_history_and_no_external_id(history_server: Server,
                                                                    clients: list) -> None:
    srv = history_server
    v = await visitor(srv, identity={"id": "cust-77", "name": "Erin", "email": "erin@example.com",
                                     "hash": signed("cust-77")})
    clients.append(v)
    cid = (await v.request("message", text="delete me later"))["conversation_id"]
    assert (await v.request("close"))["type"] == "ack"
    vid = sql(srv.db, "SELECT visitor_id FROM conversations WHERE id = ?", (cid,))[0][0]
    root = staff(srv, "root")
    try:
        found = root.get("/api/privacy/visitors", params={"q": "cust-77"}).json()["visitors"]
        assert [(f["id"], f["external_id"], f["verified"]) for f in found] == [
            (vid, "cust-77", True)]
        exported = root.get(f"/api/privacy/visitors/{vid}/export").json()
        assert exported["visitor"]["external_id"] == "cust-77"
        assert root.get(f"/api/visitors/{vid}/history").json()["visitor"] == {
            "id": vid, "name": "Erin", "verified": True, "external_id": "cust-77",
            "email": "erin@example.com"}
        assert root.send("POST", f"/api/privacy/visitors/{vid}/erase").status_code == 200
        assert sql(srv.db, "SELECT external_id, verified, name, email FROM visitors "
                           "WHERE id = ?", (vid,)) == [(None, 0, "", "")]
        assert root.get(f"/api/visitors/{vid}/history").status_code == 404
        assert root.get(f"/api/conversations/{cid}/transcript").status_code == 404
        assert root.get("/api/privacy/visitors", params={"q": "cust-77"}).json()[
            "visitors"] == []
    finally:
        root.close()
    # The id is free again: the customer's next identify starts a fresh verified visitor.
    again = await visitor(srv, identity={"id": "cust-77", "hash": signed("cust-77")})
    clients.append(again)
    assert again.welcome["verified"] is True
    assert again.welcome["visitor_token"] != v.welcome["visitor_token"]


async def test_ids_no_row_can_have_are_refused_before_the_store(history_server: Server,
                                                                clients: list) -> None:
    """A cursor past 64 bits cannot bind on SQLite, and PostgreSQL's text cannot hold a NUL:
    each is a clear 400 or 404, not a 500 and a traceback (the fixture checks the log)."""
    srv = history_server
    v = await visitor(srv, name="Nul")
    clients.append(v)
    cid = (await v.request("message", text="hi"))["conversation_id"]
    vid = sql(srv.db, "SELECT visitor_id FROM conversations WHERE id = ?", (cid,))[0][0]
    as_sue = staff(srv, "sue")
    try:
        for cursor in ("9" * 20 + ".abc", "\u00b2.abc"):
            assert as_sue.get(f"/api/visitors/{vid}/history",
                              params={"cursor": cursor}).status_code == 400, cursor
        for url in ("/api/visitors/%00/history", "/api/visitors/a%00b/history",
                    "/api/conversations/%00/transcript", "/api/conversations/a%00b/transcript",
                    f"/api/conversations/{cid}%C3%A9/transcript"):
            assert as_sue.get(url).status_code == 404, url
        assert as_sue.get(f"/api/conversations/{cid}/transcript").status_code == 200
    finally:
        as_sue.close()
