"""Files in chats against the real server, on SQLite and on PostgreSQL: the widget's upload
(visitor token) and the console's (session + CSRF), the line each side receives with URLs it
can use as they are, who may read a file, retries, refusals that store nothing, CORS, the
download's headers, the rate limit, and export, erase and the retention purge."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image
from websockets.asyncio.client import connect

from .databases import BACKENDS, db_location, location
from .harness import Client, Server, add_user, agent, sql, visitor
from .test_attachments import GPS_IFD, SIMPLE_PDF, image_bytes, phone_photo, zip_bytes
from .test_cluster import Redis, database, pair, redis

pytestmark = pytest.mark.anyio
__all__ = ["database", "db_location", "redis"]


def count(server: Server, table: str = "attachments") -> int:
    return int(sql(server.db, f"SELECT count(*) FROM {table}")[0][0])


@pytest.fixture
async def fresh_desk(db_location: str, tmp_path: Path) -> AsyncIterator[Server]:
    """A server of the test's own, for tests that read the whole database or the process."""
    server = Server(tmp_path, database=db_location)
    add_user(server.db, "carol")
    server.start()
    yield server
    server.stop()
    assert "Traceback" not in server.log.read_text()


@pytest.fixture(scope="module", params=BACKENDS)
def desk(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per backend for a module's tests that each bring their own agent
    (`new_agent`) and count only what they add: a start is 2-9 s on a loaded machine."""
    folder = tmp_path_factory.mktemp("desk")
    with location(request.param, folder) as where:
        server = Server(folder, database=where)
        server.start()
        yield server
        server.stop()
    assert "Traceback" not in server.log.read_text()


def new_agent(desk: Server) -> str:
    """An agent (shown as Carol) of this test's own on a shared desk: earlier tests' chats
    stay assigned to theirs, and room for 10 leaves this one's chat an offer whatever else
    waits."""
    name = f"carol{uuid.uuid4().hex[:8]}"
    add_user(desk.db, name, capacity=10, display_name="Carol")
    return name


@contextlib.asynccontextmanager
async def staff(server: Server, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in as `username`, sending the CSRF header staff POSTs need."""
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        login = await client.post("/login", data={"username": username,
                                                  "password": "correct horse battery"},
                                  headers={"accept": "application/json"})
        assert login.status_code == 200, login.text
        client.headers["x-csrf-token"] = login.json()["csrf_token"]
        yield client


async def upload(server: Server, token: str | None, data: bytes, name: str = "file.bin",
                 client_id: str | None = None, **headers: str) -> httpx.Response:
    sent = {"x-client-id": client_id or str(uuid.uuid4()), "x-file-name": quote(name),
            **{k.replace("_", "-"): v for k, v in headers.items()}}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        return await client.post("/api/visitor/attachments", content=data, headers=sent)


async def chatting(server: Server, clients: list,
                   agent_name: str = "carol") -> tuple[Any, Any, str]:
    """Carol (an agent; or `agent_name`) and Sara (a visitor) in one chat."""
    carol = await agent(server, agent_name)
    sara = await visitor(server, name="Sara")
    clients += [carol, sara]
    cid = (await sara.request("request_human"))["conversation_id"]
    await carol.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    await carol.request("accept", conversation_id=cid)
    return carol, sara, cid


def token_of(client: Any) -> str:
    return str(client.welcome["visitor_token"])


# --- both ways ---------------------------------------------------------------------------------

async def test_a_visitors_photo_reaches_the_agent_without_its_gps(desk: Server,
                                                                  clients: list) -> None:
    name = new_agent(desk)
    carol, sara, cid = await chatting(desk, clients, name)
    sent = await upload(desk, token_of(sara), phone_photo(), "IMG_0042.JPG")
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["conversation_id"] == cid
    attachment = body["attachment"]
    assert {k: attachment[k] for k in ("name", "media_type", "width", "height")} == {
        "name": "IMG_0042.jpg", "media_type": "image/jpeg", "width": 60, "height": 20}

    line = await carol.expect("message", where=lambda f: f["seq"] == body["seq"])
    assert line["from"] == "visitor" and line["text"] == ""
    staff_copy = line["attachment"]
    assert staff_copy["id"] == attachment["id"]
    assert staff_copy["url"] == f"/api/attachments/{attachment['id']}"
    async with staff(desk, name) as console:
        got = await console.get(staff_copy["url"])
        assert got.status_code == 200
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]
        assert "default-src 'none'" in got.headers["content-security-policy"]
        assert got.headers["content-disposition"] == "inline; filename*=UTF-8''IMG_0042.jpg"
        assert got.headers["cache-control"].startswith("private")
        photo = Image.open(io.BytesIO(got.content))
        assert photo.size == (60, 20) and not photo.getexif().get_ifd(GPS_IFD)
        assert b"PhoneMaker" not in got.content
        thumb = await console.get(staff_copy["thumbnail_url"])
        assert thumb.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"

    # The visitor's own socket gets the line too, with URLs signed for her: no header needed.
    mine = await sara.expect("message", where=lambda f: f["seq"] == body["seq"])
    assert mine["id"] == sent.request.headers["x-client-id"]
    assert "?sig=" in mine["attachment"]["url"]
    async with httpx.AsyncClient(base_url=desk.url) as anyone:
        assert (await anyone.get(mine["attachment"]["url"])).status_code == 200
        assert (await anyone.get(mine["attachment"]["thumbnail_url"])).status_code == 200
        # Nobody else: no credentials, a wrong signature, another visitor's token.
        assert (await anyone.get(staff_copy["url"])).status_code == 401
        forged = staff_copy["url"] + "?sig=" + "A" * 32
        assert (await anyone.get(forged)).status_code == 403
        other = await visitor(desk, name="Olga")
        clients.append(other)
        refused = await anyone.get(staff_copy["url"],
                                   headers={"authorization": f"Bearer {token_of(other)}"})
        assert refused.status_code == 403
        unknown = await anyone.get("/api/attachments/nope?sig=" + "A" * 32)
        assert (unknown.status_code, unknown.json()) == (refused.status_code, refused.json())

    # Reconnected and resumed, she gets the same line with a working URL again.
    again = await visitor(desk, visitor_token=token_of(sara))
    clients.append(again)
    await again.send({"type": "resume", "conversation_id": cid, "after_seq": 0})
    replayed = await again.expect("message", where=lambda f: f["seq"] == body["seq"])
    assert replayed["attachment"]["url"] == mine["attachment"]["url"]


async def test_an_agents_pdf_reaches_the_visitor_as_a_download(desk: Server,
                                                               clients: list) -> None:
    stored = count(desk)
    name = new_agent(desk)
    _carol, sara, cid = await chatting(desk, clients, name)
    async with staff(desk, name) as console:
        sent = await console.post(f"/api/conversations/{cid}/attachments", content=SIMPLE_PDF,
                                  headers={"x-client-id": "pdf-1",
                                           "x-file-name": quote("فاکتور.pdf")})
        assert sent.status_code == 200, sent.text
        assert sent.json()["attachment"]["url"].startswith("/api/attachments/")
        no_csrf = await console.post(f"/api/conversations/{cid}/attachments",
                                     content=SIMPLE_PDF,
                                     headers={"x-client-id": "pdf-2", "x-file-name": "a.pdf",
                                              "x-csrf-token": "wrong"})
        assert no_csrf.status_code == 403
    line = await sara.expect("message", where=lambda f: f.get("attachment"))
    assert line["from"] == "agent" and line["author"] == "Carol"
    assert line["attachment"]["name"] == "فاکتور.pdf"
    assert "thumbnail_url" not in line["attachment"]
    async with httpx.AsyncClient(base_url=desk.url) as browser:
        got = await browser.get(line["attachment"]["url"])
    assert got.status_code == 200 and got.content == SIMPLE_PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''" + quote("فاکتور.pdf"))

    # Only the agent holding the chat may post there: another agent is told it does not
    # exist, a supervisor that only the agent in it may. Reading is the transcript's rule:
    # a supervisor reads any file, another agent none of a chat not theirs (404).
    add_user(desk.db, "bob")
    add_user(desk.db, "sue", role="supervisor")
    for who, status, read in (("bob", 404, 404), ("sue", 403, 200)):
        async with staff(desk, who) as other:
            refused = await other.post(f"/api/conversations/{cid}/attachments",
                                       content=SIMPLE_PDF,
                                       headers={"x-client-id": "x1", "x-file-name": "a.pdf"})
            assert refused.status_code == status, (who, refused.text)
            url = line["attachment"]["url"].split("?")[0]
            assert (await other.get(url)).status_code == read, who
    assert count(desk) == stored + 1


async def test_a_retried_upload_is_one_line(desk: Server, clients: list) -> None:
    stored = count(desk)
    carol, sara, _cid = await chatting(desk, clients, new_agent(desk))
    assert sara.welcome["attachments"] == {"max_bytes": 10 * 1024 * 1024, "types": [
        "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"]}
    first = await upload(desk, token_of(sara), b"order 4711 receipt\n", "r.txt", "same-id")
    second = await upload(desk, token_of(sara), b"order 4711 receipt\n", "r.txt", "same-id")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert count(desk) == stored + 1
    lines = sql(desk.db, "SELECT count(*) FROM events WHERE client_id = ?", ("same-id",))
    assert lines[0][0] == 1
    await carol.expect("message", where=lambda f: f.get("attachment"))
    await carol.nothing("message")


async def test_a_retry_after_the_chat_ended_is_still_one_file(desk: Server,
                                                             clients: list) -> None:
    """The widget retries an upload whose answer it never got (network cut, 5xx) with the same
    X-Client-Id, after 0.25 s to 30 s. If the chat ended meanwhile (the agent closed it, or the
    visitor pressed End chat), the retry must get the stored line back, not store the file
    again in a new conversation that it opens for it."""
    stored, chats = count(desk), count(desk, "conversations")
    carol, sara, cid = await chatting(desk, clients, new_agent(desk))
    token = token_of(sara)
    first = await upload(desk, token, b"order 4711 receipt\n", "r.txt", "retried-id")
    assert first.status_code == 200 and first.json()["conversation_id"] == cid
    # the answer was lost on the way to the widget; the chat ends before its retry
    await carol.request("close", conversation_id=cid, resolved=True)
    again = await upload(desk, token, b"order 4711 receipt\n", "r.txt", "retried-id")
    assert again.status_code == 200, again.text
    assert again.json()["conversation_id"] == cid, again.json()
    assert count(desk) == stored + 1
    assert count(desk, "conversations") == chats + 1
    assert sql(desk.db, "SELECT count(*) FROM events WHERE client_id = ?",
               ("retried-id",))[0][0] == 1


async def test_a_file_bound_to_its_chat_goes_there_or_nowhere(desk: Server,
                                                                clients: list) -> None:
    """X-Conversation-Id (the widget sends the chat a file was attached in): once that chat
    has ended, the file is refused (409), not put in a new chat nobody was offered."""
    stored, chats = count(desk), count(desk, "conversations")
    carol, sara, cid = await chatting(desk, clients, new_agent(desk))
    token = token_of(sara)
    sent = await upload(desk, token, b"first\n", "a.txt", x_conversation_id=cid)
    assert (sent.status_code, sent.json()["conversation_id"]) == (200, cid)
    other = await visitor(desk, name="Omar")
    clients.append(other)
    for bad, status in [(cid, 404), ("nope", 404), ("a b", 400)]:  # not Omar's, no such, bad
        refused = await upload(desk, token_of(other), b"x\n", "b.txt", x_conversation_id=bad)
        assert refused.status_code == status, (bad, refused.text)
    await carol.request("close", conversation_id=cid, resolved=True)
    late = await upload(desk, token, b"second\n", "c.txt", x_conversation_id=cid)
    assert (late.status_code, late.json()["error"]) == (409, "conflict")
    assert count(desk) == stored + 1
    assert count(desk, "conversations") == chats + 1


async def test_an_upload_starts_the_chat_and_the_socket_carries_on_in_it(
        desk: Server, clients: list) -> None:
    chats = count(desk, "conversations")
    sara = await visitor(desk, name="Sara")
    clients.append(sara)
    sent = await upload(desk, token_of(sara), image_bytes("PNG"), "screenshot.png")
    assert sent.status_code == 200, sent.text
    cid = sent.json()["conversation_id"]
    await sara.expect("message", where=lambda f: f.get("attachment"))
    ack = await sara.request("message", text="that is the error I get")
    assert ack["conversation_id"] == cid
    assert count(desk, "conversations") == chats + 1
    # A card number in the name is masked as in a message ([privacy] redact_cards).
    carded = await upload(desk, token_of(sara), b"receipt\n", "card 4111 1111 1111 1111.txt")
    assert "4111 1111 1111 1111" not in carded.json()["attachment"]["name"]
    assert carded.json()["attachment"]["name"].endswith("1111.txt")


async def test_a_file_sent_to_the_bot_is_in_the_offer_and_the_transcript(
        desk: Server, clients: list) -> None:
    """The bot cannot read a file: it says so and offers a person; the person the chat goes
    to finds the file in the offer's transcript and in the read-only transcript, with URLs of
    their own."""
    name = new_agent(desk)
    carol = await agent(desk, name)
    sara = await visitor(desk, name="Sara")
    clients += [carol, sara]
    sent = await upload(desk, token_of(sara), image_bytes("PNG"), "error.png")
    cid = sent.json()["conversation_id"]
    await sara.expect("message", where=lambda f: f.get("attachment"))
    reply = await sara.expect("message", where=lambda f: f.get("from") == "bot")
    assert reply["actions"] == ["human"] and "files" in reply["text"]
    await sara.request("request_human")
    offer = await carol.expect("offer", where=lambda f: f["conversation"]["id"] == cid)
    (line,) = [f for f in offer["conversation"]["transcript"] if f.get("attachment")]
    assert line["attachment"]["thumbnail_url"] == (
        f"/api/attachments/{sent.json()['attachment']['id']}/thumbnail")
    await carol.request("accept", conversation_id=cid)
    async with staff(desk, name) as console:
        transcript = (await console.get(f"/api/conversations/{cid}/transcript")).json()
        (again,) = [f for f in transcript["events"] if f.get("attachment")]
        assert again["attachment"]["url"] == line["attachment"]["url"]
        assert (await console.get(again["attachment"]["url"])).status_code == 200


# --- refusals ----------------------------------------------------------------------------------

async def test_every_refusal_is_clear_and_stores_nothing(desk: Server, clients: list) -> None:
    stored = count(desk)
    _carol, sara, cid = await chatting(desk, clients, new_agent(desk))
    token = token_of(sara)
    seq_before = sql(desk.db, "SELECT last_seq FROM conversations WHERE id = ?", (cid,))[0][0]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    truncated = image_bytes("PNG", size=(300, 200))[:400]
    bomb = image_bytes("PNG", size=(8_000, 8_000), mode="L")
    cases = [
        (token, svg, {}, 415, "unsupported_type"),
        (token, image_bytes("PNG") + zip_bytes(), {}, 415, "polyglot"),
        (token, b"<html><body>x</body></html>\n" + SIMPLE_PDF, {}, 415, "unsupported_type"),
        (token, truncated, {}, 422, "damaged_file"),
        (token, bomb, {}, 422, "too_many_pixels"),
        (token, b"", {}, 422, "empty_file"),
        (token, b"x" * (10 * 1024 * 1024 + 1), {}, 413, "too_large"),
        (None, b"hello", {}, 401, "unauthorized"),
        ("forged.token", b"hello", {}, 401, "unauthorized"),
        (token, b"hello", {"x_client_id": "not valid!"}, 400, "bad_frame"),
        (token, b"hello", {"x_file_name": "%ff%fe"}, 400, "bad_frame"),
        (token, b"hello", {"x_file_name": "a%00b"}, 400, "bad_frame"),
    ]
    for sent_token, data, headers, status, code in cases:
        answer = await upload(desk, sent_token, data, "x.png", **headers)
        assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
        assert answer.json()["message"]
    assert count(desk) == stored
    assert sql(desk.db, "SELECT last_seq FROM conversations WHERE id = ?",
               (cid,))[0][0] == seq_before
    # The socket and the session carry on.
    ack = await sara.request("message", text="still here")
    assert ack["type"] == "ack"
    assert (await upload(desk, token, b"fine\n", "ok.txt")).status_code == 200


async def test_a_file_is_refused_from_a_closed_chat_and_to_an_erased_visitor(
        desk: Server, clients: list) -> None:
    async with staff(desk, new_agent(desk)) as console:
        for cid in ("nope", "a%00b"):  # a NUL: no lookup (PostgreSQL's text cannot hold it)
            missing = await console.post(f"/api/conversations/{cid}/attachments",
                                         content=b"hi",
                                         headers={"x-client-id": "a", "x-file-name": "a.txt"})
            assert missing.status_code == 404, cid
    async with httpx.AsyncClient(base_url=desk.url) as anonymous:
        refused = await anonymous.post("/api/conversations/nope/attachments", content=b"hi",
                                       headers={"x-client-id": "a", "x-file-name": "a.txt"})
        assert refused.status_code == 401


# --- the widget's origin -------------------------------------------------------------------------

async def test_cors_for_the_widgets_origins_only(tmp_path: Path, clients: list) -> None:
    server = Server(tmp_path, CHATSERVER_SERVER_ALLOWED_ORIGINS="https://shop.example")
    server.start()
    try:
        ws = await connect(server.ws + "/ws/visitor", origin="https://shop.example")
        sara = Client(ws)
        clients.append(sara)
        await sara.send({"type": "hello", "name": "Sara"})
        sara.welcome = await sara.expect("welcome")  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=server.url) as browser:
            asked = await browser.options("/api/visitor/attachments", headers={
                "origin": "https://shop.example", "access-control-request-method": "POST",
                "access-control-request-headers": "authorization,x-client-id,x-file-name"})
            assert asked.status_code == 204
            assert asked.headers["access-control-allow-origin"] == "https://shop.example"
            allowed = asked.headers["access-control-allow-headers"].lower()
            assert {"authorization", "x-client-id", "x-file-name", "x-conversation-id"} <= {
                h.strip() for h in allowed.split(",")}
            assert "POST" in asked.headers["access-control-allow-methods"]
            evil = await browser.options("/api/visitor/attachments", headers={
                "origin": "https://evil.example", "access-control-request-method": "POST"})
            assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
        sent = await upload(server, token_of(sara), image_bytes("PNG"), "a.png",
                            origin="https://shop.example")
        assert sent.status_code == 200
        assert sent.headers["access-control-allow-origin"] == "https://shop.example"
        refusal = await upload(server, token_of(sara), b"", "a.txt",
                               origin="https://shop.example")
        assert refusal.status_code == 422  # the widget can read why
        assert refusal.headers["access-control-allow-origin"] == "https://shop.example"
        foreign = await upload(server, token_of(sara), b"hi", "a.txt",
                               origin="https://evil.example")
        assert foreign.status_code == 403
        async with httpx.AsyncClient(base_url=server.url) as page:
            image = await page.get(sent.json()["attachment"]["url"],
                                   headers={"origin": "https://shop.example"})
        assert image.status_code == 200
        assert image.headers["access-control-allow-origin"] == "https://shop.example"
        assert count(server) == 1
    finally:
        server.stop()


async def test_uploads_are_rate_limited_per_visitor(tmp_path: Path, clients: list) -> None:
    server = Server(tmp_path, CHATSERVER_ATTACHMENTS_UPLOADS_PER_VISITOR="2")
    server.start()
    try:
        sara = await visitor(server, name="Sara")
        olga = await visitor(server, name="Olga")
        clients += [sara, olga]
        answers = [await upload(server, token_of(sara), b"one\n", "a.txt", f"line-{i}")
                   for i in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        limited = await upload(server, token_of(sara), b"three\n", "a.txt",
                               origin="https://shop.example")
        assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
        assert int(limited.headers["retry-after"]) > 0
        assert limited.headers["access-control-expose-headers"] == "Retry-After"
        # A retry of a stored file is answered from the log: never limited, nothing read.
        again = await upload(server, token_of(sara), b"", "a.txt", "line-1")
        assert again.status_code == 200 and again.json() == answers[1].json()
        assert (await upload(server, token_of(olga), b"hers\n", "a.txt")).status_code == 200
        assert count(server) == 3
    finally:
        server.stop()


async def test_files_can_be_turned_off(tmp_path: Path, clients: list) -> None:
    server = Server(tmp_path, CHATSERVER_ATTACHMENTS_ENABLED="false")
    server.start()
    try:
        sara = await visitor(server, name="Sara")
        clients.append(sara)
        assert sara.welcome["attachments"] is False  # the widget offers no paperclip
        refused = await upload(server, token_of(sara), b"hi\n", "a.txt")
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
        assert count(server) == 0
    finally:
        server.stop()




# --- privacy -------------------------------------------------------------------------------------

def visitor_id_of(server: Server, cid: str) -> str:
    return str(sql(server.db, "SELECT visitor_id FROM conversations WHERE id = ?", (cid,))[0][0])


async def files_both_ways(server: Server, clients: list) -> tuple[str, list[dict]]:
    """Sara sends a photo, Carol a PDF: (the chat, the two lines as Sara got them)."""
    _, sara, cid = await chatting(server, clients)
    assert (await upload(server, token_of(sara), phone_photo(), "me.jpg")).status_code == 200
    async with staff(server, "carol") as console:
        sent = await console.post(f"/api/conversations/{cid}/attachments", content=SIMPLE_PDF,
                                  headers={"x-client-id": "pdf", "x-file-name": "invoice.pdf"})
        assert sent.status_code == 200
    lines = [await sara.expect("message", where=lambda f: f.get("attachment")) for _ in (1, 2)]
    return cid, lines


async def test_export_holds_the_files_and_erase_deletes_them(fresh_desk: Server,
                                                            clients: list) -> None:
    add_user(fresh_desk.db, "root", role="admin")
    cid, lines = await files_both_ways(fresh_desk, clients)
    vid = visitor_id_of(fresh_desk, cid)
    async with staff(fresh_desk, "root") as admin:
        export = (await admin.get(f"/api/privacy/visitors/{vid}/export")).json()
        files = {f["name"]: f for f in export["attachments"]}
        assert set(files) == {"me.jpg", "invoice.pdf"}
        assert base64.b64decode(files["invoice.pdf"]["data_base64"]) == SIMPLE_PDF
        photo = Image.open(io.BytesIO(base64.b64decode(files["me.jpg"]["data_base64"])))
        assert photo.size == (60, 20)
        assert {f["author"] for f in export["attachments"]} == {"visitor", "agent"}

        erased = await admin.post(f"/api/privacy/visitors/{vid}/erase")
        assert erased.status_code == 200, erased.text
        assert erased.json()["attachments"] == 2
    assert count(fresh_desk) == 0
    names = sql(fresh_desk.db, "SELECT payload FROM events WHERE conversation_id = ? AND "
                         "payload LIKE ?", (cid, "%me.jpg%"))
    assert names == []  # the file's name went with the text
    async with httpx.AsyncClient(base_url=fresh_desk.url) as anyone:
        for line in lines:
            assert (await anyone.get(line["attachment"]["url"])).status_code == 403
    if isinstance(fresh_desk.db, str):  # PostgreSQL: no row version of the bytes is left either
        from .test_privacy import heap_holds

        in_rows, _ = heap_holds(fresh_desk.db, ("attachments",), ["PhoneMaker", "/Type /Catalog"])
        assert not in_rows


async def test_the_retention_purge_deletes_old_files(fresh_desk: Server, clients: list) -> None:
    _, lines = await files_both_ways(fresh_desk, clients)
    old = int(time.time() * 1000) - 3 * 86_400_000
    sql(fresh_desk.db, "UPDATE attachments SET created_ms = ? WHERE author = 'visitor'", (old,))
    env = {**fresh_desk.env, "CHATSERVER_RETENTION_MESSAGE_TEXT_DAYS": "2"}
    done = subprocess.run([sys.executable, "-m", "chatserver", "purge", "--json"], env=env,
                          cwd=fresh_desk.tmp, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["attachments"] == 1
    assert [row[0] for row in sql(fresh_desk.db, "SELECT author FROM attachments")] == ["agent"]
    async with staff(fresh_desk, "carol") as console:
        kept = await console.get(lines[1]["attachment"]["url"].split("?")[0])
        gone = await console.get(lines[0]["attachment"]["url"].split("?")[0])
    assert (gone.status_code, kept.status_code) == (404, 200)


async def test_a_body_past_the_limit_is_refused_without_a_content_length(
        tmp_path: Path, clients: list) -> None:
    """Sent chunked (no Content-Length), the body is read only up to max_bytes: 413, nothing
    kept, however much more the client sends."""
    server = Server(tmp_path, CHATSERVER_ATTACHMENTS_MAX_BYTES="1048576")
    server.start()
    try:
        sara = await visitor(server, name="Sara")
        clients.append(sara)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(80):  # 5 MB in 64 kB chunks
                yield b"a" * 65536

        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            refused = await client.post("/api/visitor/attachments", content=body(), headers={
                "authorization": f"Bearer {token_of(sara)}", "x-client-id": "big",
                "x-file-name": "big.txt"})
        assert refused.status_code == 413 and refused.json()["error"] == "too_large"
        assert count(server) == 0
        assert (await upload(server, token_of(sara), b"a" * 1_048_576, "ok.txt")).status_code == 200
    finally:
        server.stop()


async def test_a_file_waits_for_consent_like_a_message(tmp_path: Path, clients: list) -> None:
    server = Server(tmp_path, CHATSERVER_PRIVACY_REQUIRE_CONSENT="true")
    server.start()
    try:
        sara = await visitor(server, name="Sara")
        clients.append(sara)
        refused = await upload(server, token_of(sara), b"my order\n", "a.txt")
        # not "forbidden" (files turned off): the widget keeps the file until she accepts
        assert (refused.status_code, refused.json()["error"]) == (403, "consent_required")
        assert count(server) == 0
        assert (await sara.request("consent"))["type"] == "ack"
        assert (await upload(server, token_of(sara), b"my order\n", "a.txt")).status_code == 200
    finally:
        server.stop()


# --- several processes ---------------------------------------------------------------------------

@pytest.mark.redis
async def test_a_file_sent_to_one_process_reaches_sockets_on_the_other(
        tmp_path: Path, redis: Redis, database: str | None, clients: list) -> None:
    """The widget's socket on A, its upload landing on B (any process may take the POST): the
    line reaches her on A and the agent on B, each URL works on either process, and her next
    line on A follows it in seq."""
    with pair(tmp_path, redis, database) as (a, b):
        add_user(a.db, "carol")
        carol = await agent(b, "carol")
        sara = await visitor(a, name="Sara")
        clients += [carol, sara]
        cid = (await sara.request("request_human"))["conversation_id"]
        await carol.expect("offer")
        await carol.request("accept", conversation_id=cid)
        sent = await upload(b, token_of(sara), image_bytes("PNG"), "screen.png")
        assert sent.status_code == 200, sent.text
        mine = await sara.expect("message", where=lambda f: f.get("attachment"))
        theirs = await carol.expect("message", where=lambda f: f.get("attachment"))
        assert mine["seq"] == theirs["seq"] == sent.json()["seq"]
        async with httpx.AsyncClient() as anyone:
            assert (await anyone.get(a.url + mine["attachment"]["url"])).status_code == 200
        async with staff(a, "carol") as console:
            assert (await console.get(theirs["attachment"]["thumbnail_url"])).status_code == 200
        ack = await sara.request("message", text="see the screenshot")
        assert ack["seq"] == mine["seq"] + 1
