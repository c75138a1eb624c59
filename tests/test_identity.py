"""Verified identity against the real server, on SQLite and on PostgreSQL: a user id the
site signed (HMAC-SHA256 with the identity secret) is one visitor on every device, with one
history; an unsigned or wrongly signed id never takes a verified visitor; bad identify frames
are refused with the socket still usable; the secret and the hashes never reach the log."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatserver.core.errors import BadFrame
from chatserver.core.frames import VISITOR_FRAMES, Limits, parse
from chatserver.service import identity

from .databases import BACKENDS
from .harness import Client, Server, agent, served, sql, visitor
from .test_kb_api import Session

pytestmark = pytest.mark.anyio

IDENTITY_SECRET = "site-identity-secret-4f1c9a7e2b"


def signed(user_id: str, secret: str = IDENTITY_SECRET) -> str:
    """What the site's server computes: docs/widget.md gives the same in Python, PHP, Node."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def test_a_hash_is_valid_only_for_its_id_under_the_configured_secret() -> None:
    good = signed("cust-1")
    assert identity.signature(IDENTITY_SECRET, "cust-1") == good
    assert identity.is_signed(IDENTITY_SECRET, "cust-1", good)
    assert identity.is_signed(IDENTITY_SECRET, "cust-1", good.upper())  # hex in either case
    assert identity.is_signed(IDENTITY_SECRET, "ورود-۴۲", signed("ورود-۴۲"))  # UTF-8 ids
    for wrong in [signed("cust-2"), signed("cust-1", "other"), good[:-1], "", None, "ü" * 64,
                  good + "0"]:
        assert not identity.is_signed(IDENTITY_SECRET, "cust-1", wrong), wrong
    assert not identity.is_signed("", "cust-1", signed("cust-1", ""))  # verification off


@pytest.mark.parametrize("kind", ["hello", "identify"])
@pytest.mark.parametrize("field", ["id", "name", "email", "hash"])
def test_every_identity_field_refuses_control_characters_and_lone_surrogates(
        kind: str, field: str) -> None:
    for bad in ("\x00", "\x1b", "\x7f", "\x85", "\n", "\ud83d", "\udfff"):
        fields = {"id": "cust-1", "name": "Ann", "email": "ann@example.com", "hash": "ab12"}
        fields[field] = fields[field][:2] + bad + fields[field][2:]
        frame = {"type": kind, "identity": fields, **({"id": "f1"} if kind == "identify" else {})}
        with pytest.raises(BadFrame, match=f"'identity.{field}'") as refused:
            parse(json.dumps(frame), VISITOR_FRAMES, Limits(max_text_chars=4000))
        assert refused.value.frame_id == frame.get("id")


@pytest.fixture(scope="module", params=BACKENDS)
def identity_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[Server]:
    """One server per backend for the module: each test claims site user ids of its own."""
    with served(request.param, tmp_path_factory.mktemp(request.param),
                {"carol": "agent", "sue": "supervisor"},
                CHATSERVER_IDENTITY_SECRET=IDENTITY_SECRET) as srv:
        yield srv
    assert IDENTITY_SECRET not in srv.log.read_text()


def visitor_of(server: Server, cid: str) -> str:
    return sql(server.db, "SELECT visitor_id FROM conversations WHERE id = ?", (cid,))[0][0]


async def served_and_rated(server: Server, device: Client, carol: Client, text: str) -> str:
    """A chat from `device` that Carol takes, answers and closes resolved; rated 4."""
    # A person first: the bot's hand-off could route by a topic nobody here holds.
    cid = (await device.request("request_human"))["conversation_id"]
    assert (await device.request("message", text=text))["type"] == "ack"
    await carol.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    await carol.request("accept", conversation_id=cid)
    await carol.request("message", conversation_id=cid, text="Sorted, it ships today.")
    await carol.request("close", conversation_id=cid, resolved=True)
    await device.expect("survey_request")
    assert (await device.request("survey", rating=4))["type"] == "ack"
    return cid


async def test_a_verified_id_is_one_visitor_on_every_device_with_one_history(
        identity_server: Server, clients: list) -> None:
    carol = await agent(identity_server, "carol")
    phone = await visitor(identity_server, identity={
        "id": "cust-42", "name": "Ann Lee", "email": "ann@example.com",
        "hash": signed("cust-42")})
    clients += [carol, phone]
    assert phone.welcome["verified"] is True
    first = await served_and_rated(identity_server, phone, carol, "Where is order 4711?")

    # A laptop that never saw the phone's token: the same signed id, the same visitor.
    laptop = await visitor(identity_server, identity={"id": "cust-42",
                                                      "hash": signed("cust-42")})
    clients.append(laptop)
    assert laptop.welcome["verified"] is True
    assert laptop.welcome["visitor_token"] == phone.welcome["visitor_token"]
    second = (await laptop.request("request_human"))["conversation_id"]
    assert (await laptop.request("message", text="It did not arrive"))["type"] == "ack"
    assert visitor_of(identity_server, second) == visitor_of(identity_server, first)
    offer = await carol.expect("offer", where=lambda f: f["conversation"]["id"] == second)
    card = offer["conversation"]["visitor"]
    assert card["verified"] is True and card["external_id"] == "cust-42"
    assert card["email"] == "ann@example.com" and card["name"] == "Ann Lee"
    assert (card["returning"], card["conversations"], card["last_rating"]) == (True, 1, 4)

    # The history follows: the laptop's chat shows the phone's earlier one.
    await carol.request("accept", conversation_id=second)
    vid = card["id"]
    with_carol = Session(identity_server, "carol")
    try:
        history = with_carol.get(f"/api/visitors/{vid}/history").json()
    finally:
        with_carol.close()
    assert [c["id"] for c in history["conversations"]] == [first]
    assert history["conversations"][0]["first_line"] == "Where is order 4711?"
    rows = sql(identity_server.db, "SELECT count(*) FROM visitors WHERE external_id = ? "
                                   "AND verified = 1", ("cust-42",))
    assert rows[0][0] == 1


async def test_an_unsigned_or_wrongly_signed_id_never_takes_a_verified_visitor(
        identity_server: Server, clients: list) -> None:
    owner = await visitor(identity_server, identity={"id": "cust-7", "name": "Owner",
                                                     "hash": signed("cust-7")})
    clients.append(owner)
    owned = (await owner.request("message", text="my private question"))["conversation_id"]
    owner_id = visitor_of(identity_server, owned)

    attempts = [{"id": "cust-7", "name": "Mallory"},  # no hash
                {"id": "cust-7", "name": "Mallory", "hash": signed("cust-7", "guess")},
                {"id": "cust-7", "name": "Mallory", "hash": signed("cust-8")},  # another id's
                {"id": "cust-7", "name": "Mallory", "hash": "not even hex ü"}]
    for claimed in attempts:
        mallory = await visitor(identity_server, identity=claimed)
        clients.append(mallory)
        assert mallory.welcome["verified"] is False
        assert mallory.welcome["conversation"] is None  # not the owner's open chat
        assert mallory.welcome["visitor_token"] != owner.welcome["visitor_token"]
        # The identify frame after hello: the same answer, the same visitor as before.
        answer = await mallory.request("identify", identity=claimed)
        assert answer["type"] == "ack" and answer["verified"] is False
        assert answer["visitor_token"] == mallory.welcome["visitor_token"]
        assert answer["conversation"] is None  # their own (none open), never the owner's
        mine = (await mallory.request("message", text="hello"))["conversation_id"]
        assert visitor_of(identity_server, mine) != owner_id
    # The verified visitor is untouched, and the unverified names stayed on their visitors.
    assert sql(identity_server.db, "SELECT name, external_id, verified FROM visitors "
                                   "WHERE id = ?", (owner_id,)) == [("Owner", "cust-7", 1)]
    assert sql(identity_server.db, "SELECT count(*) FROM visitors WHERE name = 'Mallory' "
                                   "AND verified = 0 AND external_id IS NULL")[0][0] == 4
    log = identity_server.log.read_text()
    assert signed("cust-7") not in log and signed("cust-7", "guess") not in log


async def test_identify_after_hello_proves_the_id_and_brings_the_open_chat(
        identity_server: Server, clients: list) -> None:
    # First device: logs in after the widget connected; nobody held the id, so this
    # visitor becomes it (same token).
    desk = await visitor(identity_server, name="Bo")
    clients.append(desk)
    answer = await desk.request("identify", identity={"id": "cust-9", "email": "bo@example.com",
                                                      "hash": signed("cust-9")})
    assert answer["verified"] is True
    assert answer["visitor_token"] == desk.welcome["visitor_token"]
    assert answer["conversation"] is None
    desk_id = sql(identity_server.db, "SELECT id FROM visitors WHERE external_id = 'cust-9'")

    # Second device: chats anonymously, then logs in: it becomes the verified visitor and its
    # open chat comes along, still usable under the new token.
    tablet = await visitor(identity_server)
    clients.append(tablet)
    cid = (await tablet.request("message", text="question before logging in"))[
        "conversation_id"]
    anonymous = visitor_of(identity_server, cid)
    moved = await tablet.request("identify", identity={"id": "cust-9",
                                                       "hash": signed("cust-9")})
    assert moved["verified"] is True
    assert moved["visitor_token"] == desk.welcome["visitor_token"]
    assert moved["conversation"]["id"] == cid
    assert [visitor_of(identity_server, cid)] == [row[0] for row in desk_id]
    assert visitor_of(identity_server, cid) != anonymous
    again = await tablet.request("message", text="and after")
    assert again["type"] == "ack" and again["conversation_id"] == cid
    # The same identify again (a retry with its id) answers the same.
    frame_id = "retry-identify-1"
    for _ in range(2):
        await tablet.send({"type": "identify", "id": frame_id,
                           "identity": {"id": "cust-9", "hash": signed("cust-9")}})
        same = await tablet.expect("ack", where=lambda f: f.get("id") == frame_id)
        assert same["verified"] is True
        assert same["visitor_token"] == desk.welcome["visitor_token"]


async def test_bad_identities_are_refused_by_field_and_the_socket_stays_usable(
        identity_server: Server, clients: list) -> None:
    v = await visitor(identity_server)
    clients.append(v)
    bad = [({"identity": "cust-1"}, "'identity' must be an object"),
           ({"identity": {"name": "x"}}, "'identity.id' is required"),
           ({"identity": {"id": "   "}}, "'identity.id' must be"),
           ({"identity": {"id": "x" * 201}}, "'identity.id' is longer than 200"),
           ({"identity": {"id": "a\u0000b"}}, "'identity.id' contains a control character"),
           ({"identity": {"id": "a", "email": "nope"}}, "'identity.email' must be an email"),
           ({"identity": {"id": "a", "hash": "f" * 129}}, "'identity.hash' is longer than 128"),
           ({"identity": {"id": "a", "hash": 5}}, "'identity.hash' must be a string"),
           ({"identity": {"id": "a", "name": "n\u202e" + "x" * 100}}, "'identity.name' is longer"),
           ({}, "'identity' is required")]
    for fields, message in bad:
        error = await v.request("identify", **fields)
        assert error["type"] == "error" and error["code"] == "bad_frame", (fields, error)
        assert message in error["message"], (message, error["message"])
    await v.send({"type": "identify", "identity": {"id": "a"}})  # no frame id
    error = await v.expect("error")
    assert "'id' is required" in error["message"]
    assert (await v.request("message", text="still here"))["type"] == "ack"

    # A hello with a bad identity gets no welcome; the corrected hello does.
    fresh = await visitor(identity_server)
    clients.append(fresh)
    from websockets.asyncio.client import connect

    ws = await connect(identity_server.ws + "/ws/visitor")
    raw = Client(ws)
    clients.append(raw)
    await raw.send({"type": "hello", "identity": {"id": ""}})
    assert (await raw.expect("error"))["code"] == "bad_frame"
    await raw.send({"type": "hello", "identity": {"id": "cust-5", "hash": signed("cust-5")}})
    assert (await raw.expect("welcome"))["verified"] is True


async def test_without_a_secret_nothing_is_verified(tmp_path: Path, clients: list) -> None:
    srv = Server(tmp_path)
    srv.start()
    try:
        v = await visitor(srv, identity={"id": "cust-1", "name": "Kim",
                                         "hash": signed("cust-1", "")})
        clients.append(v)
        assert v.welcome["verified"] is False
        answer = await v.request("identify", identity={"id": "cust-1", "email": "k@example.com",
                                                       "hash": signed("cust-1")})
        assert answer["verified"] is False
        assert sql(srv.db, "SELECT name, email, verified FROM visitors WHERE external_id "
                           "IS NULL AND name = 'Kim'") == [("Kim", "k@example.com", 0)]
    finally:
        srv.stop()


async def test_an_account_switch_and_two_open_chats_keep_each_customer_apart(
        identity_server: Server, clients: list) -> None:
    # A shared computer: Ann was signed in; then Bo signs in on the same browser (same token).
    ann = await visitor(identity_server, identity={"id": "ann", "hash": signed("ann")})
    clients.append(ann)
    token = ann.welcome["visitor_token"]
    ann_chat = (await ann.request("message", text="Ann's question"))["conversation_id"]
    bo = await visitor(identity_server, visitor_token=token,
                       identity={"id": "bo", "hash": signed("bo")})
    clients.append(bo)
    assert bo.welcome["verified"] is True
    assert bo.welcome["visitor_token"] != token
    assert bo.welcome["conversation"] is None  # not Ann's open chat
    assert sql(identity_server.db, "SELECT external_id FROM visitors WHERE id = ?",
               (visitor_of(identity_server, ann_chat),)) == [("ann",)]
    # Ann signs in again: her own visitor and her open chat are back.
    back = await bo.request("identify", identity={"id": "ann", "hash": signed("ann")})
    assert back["visitor_token"] == token and back["conversation"]["id"] == ann_chat

    # Ann chats on a tablet anonymously while her chat above is open, then signs in there:
    # the tablet shows her open chat; its own open chat stays with the tablet's visitor.
    tablet = await visitor(identity_server)
    clients.append(tablet)
    tablet_chat = (await tablet.request("message", text="from the tablet"))["conversation_id"]
    tablet_visitor = visitor_of(identity_server, tablet_chat)
    joined = await tablet.request("identify", identity={"id": "ann", "hash": signed("ann")})
    assert joined["conversation"]["id"] == ann_chat
    assert visitor_of(identity_server, tablet_chat) == tablet_visitor
    assert (await tablet.request("message", text="now as Ann"))["conversation_id"] == ann_chat
