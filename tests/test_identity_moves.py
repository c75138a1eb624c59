"""Verified identity when a chat moves between visitors (issue 19 items 2 and 3): every
process agrees (the move is a `rehomed` event in the chat's log), the serving agent is told,
the visitor's files keep opening, and nothing leaks across accounts or revives an erased
visitor. From a review of the first version; each test failed before its fix."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .databases import BACKENDS, location
from .harness import Client, Server, add_user, agent, served, sql, visitor
from .test_cluster import REDIS, Redis, pair
from .test_kb_api import Session

pytestmark = pytest.mark.anyio

SECRET = "site-identity-secret-4f1c9a7e2b"


def signed(user_id: str) -> str:
    return hmac.new(SECRET.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module", params=BACKENDS)
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Server]:
    """One server per backend for the module: each test has its own site user ids, and an
    agent of its own where it needs one (`staff`)."""
    with served(request.param, tmp_path_factory.mktemp(request.param), {"root": "admin"},
                CHATSERVER_IDENTITY_SECRET=SECRET, CHATSERVER_LIMITS_FRAMES_PER_SECOND="200",
                CHATSERVER_LIMITS_FRAME_BURST="200") as server:
        yield server


def staff(server: Server) -> str:
    """A new agent of this test's own, so no chat of an earlier test is offered to it."""
    name = f"carol-{uuid.uuid4().hex[:8]}"
    add_user(server.db, name, display_name="Carol")
    return name


def visitor_of(server: Server, cid: str) -> str:
    return sql(server.db, "SELECT visitor_id FROM conversations WHERE id = ?", (cid,))[0][0]


async def moved_while_served(a: Server, b: Server, clients: list) -> tuple[Client, str, str]:
    """Una (on process B) serves an anonymous visitor of process A; the visitor logs in
    (identify frame on A) as a customer id verified earlier on another device, so the open chat
    moves to that verified visitor. Returns Una, the chat and the verified token."""
    una = await agent(b, staff(a))
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    desk = await visitor(a, identity={"id": customer, "hash": signed(customer)})
    clients += [una, desk]
    token = desk.welcome["visitor_token"]
    await desk.ws.close()
    tablet = await visitor(a)
    clients.append(tablet)
    cid = (await tablet.request("request_human"))["conversation_id"]
    assert (await tablet.request("message", text="parcel is damaged"))["type"] == "ack"
    await una.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    assert (await una.request("accept", conversation_id=cid))["type"] == "ack"
    moved = await tablet.request("identify", identity={"id": customer,
                                                       "hash": signed(customer)})
    assert moved["verified"] is True and moved["conversation"]["id"] == cid
    assert moved["visitor_token"] == token
    await tablet.ws.close()  # the page reloads (the widget reconnects after identify anyway)
    return una, cid, token


@pytest.fixture(scope="module", params=BACKENDS)
def two(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[Server, Server]]:
    """Two processes on one database and a Redis of their own, for the module's two tests
    (each moves a chat of its own customer, served by its own agent)."""
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed (make test installs it as root)")
    folder = tmp_path_factory.mktemp(f"pair-{request.param}")
    redis = Redis(folder)
    redis.start()
    try:
        with contextlib.ExitStack() as stack:
            database = None
            if request.param == "postgres":
                database = stack.enter_context(location("postgres", folder))
            yield stack.enter_context(pair(folder, redis, database,
                                           CHATSERVER_IDENTITY_SECRET=SECRET))
    finally:
        redis.stop()


@pytest.mark.redis
async def test_after_a_move_the_agents_replies_reach_the_reconnected_visitor(
        two: tuple[Server, Server], clients: list) -> None:
    """Process B (the agent's) learns of the move from the `rehomed` event (the bus carries
    it, as every event): it publishes Una's lines to the verified visitor's id, so the
    visitor, back on process A with the verified token, sees the reply."""
    a, b = two
    una, cid, token = await moved_while_served(a, b, clients)
    again = await visitor(a, visitor_token=token)
    clients.append(again)
    assert again.welcome["conversation"]["id"] == cid
    await again.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
    await una.request("message", conversation_id=cid, text="A new one ships today")
    line = await again.expect("message", where=lambda f: f.get("text") ==
                              "A new one ships today", timeout=5)
    assert line["conversation_id"] == cid


@pytest.mark.redis
async def test_after_a_move_the_visitor_may_close_their_chat_on_the_other_process(
        two: tuple[Server, Server], clients: list) -> None:
    """On process B the moved chat belongs to the verified visitor too: they may close it
    there (it was 'no such conversation' while B's projection kept the anonymous id)."""
    a, b = two
    _, cid, token = await moved_while_served(a, b, clients)
    again = await visitor(b, visitor_token=token)
    clients.append(again)
    assert again.welcome["conversation"]["id"] == cid
    closed = await again.request("close")
    assert closed["type"] == "ack", closed


async def test_an_account_switch_by_identify_frame_stops_the_former_customers_lines(
        srv: Server, clients: list) -> None:
    """Ann is chatting with Carol; on the same socket the app logs Bo in (identify frame,
    docs/protocol.md). The socket now speaks for Bo: Carol's replies to Ann must not arrive
    on it (the socket stayed registered for Ann, and Bo read Ann's private chat)."""
    carol = await agent(srv, staff(srv))
    ann = await visitor(srv, identity={"id": "ann", "hash": signed("ann")})
    clients += [carol, ann]
    cid = (await ann.request("request_human"))["conversation_id"]
    assert (await ann.request("message", text="my card number ends 4242"))["type"] == "ack"
    await carol.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    await carol.request("accept", conversation_id=cid)
    switched = await ann.request("identify", identity={"id": "bo", "hash": signed("bo")})
    assert switched["verified"] is True and switched["conversation"] is None
    await carol.request("message", conversation_id=cid, text="Ann, your refund of 300 EUR")
    with pytest.raises((AssertionError, TimeoutError, asyncio.TimeoutError)):
        leaked = await ann.expect("message", where=lambda f: "refund" in f.get("text", ""),
                                  timeout=1.5)
        pytest.fail(f"Bo's socket received Ann's chat: {leaked}")


async def test_identify_on_a_socket_of_an_erased_visitor_does_not_revive_it(
        srv: Server, clients: list) -> None:
    """A visitor erased while their tab is open: an identify frame on that socket must not
    write the name and email back into the erased row, nor may a valid hash make the erased
    row THE verified visitor of the id (every later device would be switched onto an erased
    visitor): the verified identify starts a new visitor."""
    v = await visitor(srv, identity={"id": "cust-77", "name": "Erin",
                                     "hash": signed("cust-77")})
    clients.append(v)
    cid = (await v.request("message", text="delete me later"))["conversation_id"]
    assert (await v.request("close"))["type"] == "ack"
    vid = visitor_of(srv, cid)
    root = Session(srv, "root")
    try:
        assert root.send("POST", f"/api/privacy/visitors/{vid}/erase").status_code == 200
        # The same open tab: an unverified identify, then a verified one.
        await v.request("identify", identity={"id": "x", "name": "Erin Again",
                                              "email": "erin@example.com"})
        await v.request("identify", identity={"id": "cust-77", "hash": signed("cust-77")})
        assert sql(srv.db, "SELECT name, email, external_id, verified FROM visitors "
                           "WHERE id = ?", (vid,)) == [("", "", None, 0)]
        laptop = await visitor(srv, identity={"id": "cust-77", "hash": signed("cust-77")})
        clients.append(laptop)
        assert laptop.welcome["visitor_token"] != v.welcome["visitor_token"]
    finally:
        root.close()


@pytest.mark.parametrize("cursor", ["²³.abc", "9" * 90 + ".abc"])
async def test_a_malformed_history_cursor_is_a_clear_400_not_a_500(
        srv: Server, clients: list, cursor: str) -> None:
    """parse_cursor took any str.isdigit() text: superscript digits passed it and int() raised
    (both backends); 90 digits passed it and SQLite could not bind the number. Each was a 500
    with a traceback in the log; now a 400."""
    v = await visitor(srv, identity={"id": "cust-3", "hash": signed("cust-3")})
    clients.append(v)
    cid = (await v.request("message", text="hello"))["conversation_id"]
    vid = visitor_of(srv, cid)
    root = Session(srv, "root")
    try:
        assert root.get(f"/api/visitors/{vid}/history").status_code == 200
        answer = root.get(f"/api/visitors/{vid}/history", params={"cursor": cursor})
        assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    finally:
        root.close()


async def test_an_email_the_visitor_typed_is_not_shown_as_the_verified_customers(
        srv: Server, clients: list) -> None:
    """The first device to prove an id becomes the verified visitor: the name and email it
    typed before (pre-chat form, unverified) must not be shown under "✓ Verified" as the
    site's. Only a verified identify's own name and email are the site's."""
    v = await visitor(srv, name="Mallory", email="ceo@bank.example")  # typed, unverified
    clients.append(v)
    cid = (await v.request("message", text="hi"))["conversation_id"]
    answer = await v.request("identify", identity={"id": "cust-12", "hash": signed("cust-12")})
    assert answer["verified"] is True
    root = Session(srv, "root")
    try:
        shown = root.get(f"/api/visitors/{visitor_of(srv, cid)}/history").json()["visitor"]
    finally:
        root.close()
    assert shown["verified"] is True
    assert shown["email"] != "ceo@bank.example", shown


async def test_the_serving_agent_learns_who_the_visitor_is_after_they_log_in_mid_chat(
        srv: Server, clients: list) -> None:
    """A known customer chats anonymously with Carol, then logs in: the chat moves to the
    verified visitor. Carol's console knew only the anonymous id from the offer (whose
    history is now empty and unreadable to her); the `rehomed` event reaches her with the
    verified visitor's id, whose history she may read: verified, with the earlier chat."""
    name = staff(srv)
    carol = await agent(srv, name)
    old = await visitor(srv, identity={"id": "cust-5", "hash": signed("cust-5")})
    clients += [carol, old]
    assert (await old.request("message", text="first chat"))["type"] == "ack"
    assert (await old.request("close"))["type"] == "ack"
    tablet = await visitor(srv)
    clients.append(tablet)
    cid = (await tablet.request("request_human"))["conversation_id"]
    assert (await tablet.request("message", text="where is my refund"))["type"] == "ack"
    offer = await carol.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    await carol.request("accept", conversation_id=cid)
    known = offer["conversation"]["visitor"]["id"]  # what console_chats.js keeps
    moved = await tablet.request("identify", identity={"id": "cust-5", "hash": signed("cust-5")})
    assert moved["conversation"]["id"] == cid
    told = await carol.expect("event", where=lambda f: f.get("event") == "rehomed")
    assert told["conversation_id"] == cid
    assert told["payload"] == {"visitor_id": visitor_of(srv, cid), "from_visitor_id": known}
    # The visitor is not shown it: their next frame is Carol's line.
    await carol.request("message", conversation_id=cid, text="Found it")
    await tablet.expect("message", where=lambda f: f.get("text") == "Found it")
    assert not [f for f in tablet.seen if f["type"] == "event"]
    with_carol = Session(srv, name)
    try:
        answer = with_carol.get(f"/api/visitors/{told['payload']['visitor_id']}/history")
        assert with_carol.get(f"/api/visitors/{known}/history").status_code == 404
    finally:
        with_carol.close()
    assert answer.status_code == 200, (answer.status_code, answer.text)
    assert answer.json()["visitor"]["verified"] is True
    assert [c["first_line"] for c in answer.json()["conversations"]] == ["first chat"]


async def test_the_visitors_own_file_still_opens_after_they_log_in(srv: Server,
                                                                   clients: list) -> None:
    """A shopper sends a screenshot, then logs in as a customer known from another device:
    the chat and the file move to the verified visitor, and the file's URL in the widget's
    line (kept in localStorage, signed before the move) still opens: it is signed over the
    conversation, not the visitor (it was a 403, a broken image). Other visitors stay out:
    neither their token nor the signature of their own file opens it."""
    from .test_attachments import image_bytes
    from .test_attachments_server import upload

    old = await visitor(srv, identity={"id": "cust-8", "hash": signed("cust-8")})
    clients.append(old)
    await old.ws.close()
    shopper = await visitor(srv)
    clients.append(shopper)
    assert (await shopper.request("message", text="the checkout shows this"))["type"] == "ack"
    sent = await upload(srv, shopper.welcome["visitor_token"], image_bytes(), "error.png")
    assert sent.status_code == 200, sent.text
    url = sent.json()["attachment"]["url"]
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get(url)).status_code == 200
        moved = await shopper.request("identify", identity={"id": "cust-8",
                                                            "hash": signed("cust-8")})
        assert moved["conversation"] is not None  # the chat (and its file) moved
        again = await http.get(url)
        assert again.status_code == 200, (again.status_code, again.text)
        stranger = await visitor(srv)
        clients.append(stranger)
        assert (await stranger.request("message", text="mine"))["type"] == "ack"
        theirs = await upload(srv, stranger.welcome["visitor_token"], image_bytes(), "x.png")
        their_sig = theirs.json()["attachment"]["url"].partition("?sig=")[2]
        path = url.partition("?")[0]
        assert (await http.get(f"{path}?sig={their_sig}")).status_code == 403
        bearer = {"authorization": f"Bearer {stranger.welcome['visitor_token']}"}
        assert (await http.get(path, headers=bearer)).status_code == 403
        mine = {"authorization": f"Bearer {moved['visitor_token']}"}
        assert (await http.get(path, headers=mine)).status_code == 200


async def test_typed_details_never_replace_the_sites(srv: Server, clients: list) -> None:
    """A hello with a verified visitor's token and a typed name and email (no hash) leaves
    the site's name and email as they were; an unverified identify does too."""
    site = {"id": "cust-20", "name": "Dana Site", "email": "dana@site.example",
            "hash": signed("cust-20")}
    v = await visitor(srv, identity=site)
    clients.append(v)
    token = v.welcome["visitor_token"]
    cid = (await v.request("message", text="hi"))["conversation_id"]
    row = "SELECT name, email, verified FROM visitors WHERE id = ?"
    assert sql(srv.db, row, (visitor_of(srv, cid),)) == [("Dana Site", "dana@site.example", 1)]
    again = await visitor(srv, visitor_token=token, name="Mallory", email="ceo@bank.example")
    clients.append(again)
    await again.request("identify", identity={"id": "cust-20", "name": "M",
                                              "email": "m@bank.example"})
    assert sql(srv.db, row, (visitor_of(srv, cid),)) == [("Dana Site", "dana@site.example", 1)]
    # A verified identify's own name and email are the site's and are kept.
    await again.request("identify", identity={**site, "email": "dana@new.example"})
    assert sql(srv.db, row, (visitor_of(srv, cid),)) == [("Dana Site", "dana@new.example", 1)]


async def test_identify_sent_twice_is_answered_the_same(srv: Server, clients: list) -> None:
    """docs/protocol.md: identify may be sent again; the second answer names the open chat
    and the token as the first did (it lacked `conversation`)."""
    old = await visitor(srv, identity={"id": "cust-30", "hash": signed("cust-30")})
    clients.append(old)
    await old.ws.close()
    v = await visitor(srv)
    clients.append(v)
    cid = (await v.request("message", text="hello"))["conversation_id"]
    first = await v.request("identify", identity={"id": "cust-30", "hash": signed("cust-30")})
    second = await v.request("identify", identity={"id": "cust-30", "hash": signed("cust-30")})
    assert first["conversation"]["id"] == cid
    assert {k: v for k, v in first.items() if k != "id"} == {
        k: v for k, v in second.items() if k != "id"}
