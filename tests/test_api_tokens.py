"""API tokens and the REST API (issue 21 part 2) on the real server, on SQLite and PostgreSQL:
admins make tokens (shown once, stored hashed, audited) and revoke them (at once, in every
process); a token's scopes decide what it may do, a bad or revoked one is a 401 with its
challenge, each token has its own rate limit, and a line posted by an integration reaches the
visitor once however often it is retried."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chatserver.core import api_tokens as shape
from chatserver.privacy.redaction import RedactingFilter, Redactor

from .databases import BACKENDS, db_location
from .harness import PASSWORD, Server, add_user, served, sql, visitor

pytestmark = pytest.mark.anyio
__all__ = ["db_location"]


@contextmanager
def session(server: Server, username: str = "root") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url) as client:
        response = client.post("/login", data={"username": username, "password": PASSWORD},
                               headers={"accept": "application/json"})
        assert response.status_code == 200, response.text
        client.headers["x-csrf-token"] = response.json()["csrf_token"]
        yield client


def desk(tmp_path: Path, db_location: str, **env: str) -> Server:
    server = Server(tmp_path, database=db_location, **env)
    add_user(server.db, "root", role="admin")
    add_user(server.db, "ana", display_name="Ana")
    return server.start()


def make_token(admin: httpx.Client, name: str, *scopes: str) -> dict[str, Any]:
    response = admin.post("/api/tokens", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


_CALLERS: dict[tuple[str, int | None], httpx.Client] = {}


def call(server: Server, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    """A request as an integration sends it: the token, no cookie, no CSRF header. One client
    per server process (a new one per request built an SSL context: 45 ms of CPU each)."""
    key = (server.url, server.proc.pid if server.proc else None)
    client = _CALLERS.get(key) or _CALLERS.setdefault(key, httpx.Client())
    client.cookies.clear()
    return client.request(method, server.url + path, headers=bearer(token), **kwargs)


@pytest.fixture(scope="module", autouse=True)
def callers() -> Iterator[None]:
    """Closes the clients `call` kept, when the module is done."""
    yield
    while _CALLERS:
        _CALLERS.popitem()[1].close()


async def _chat(server: Server, clients: list) -> tuple[Any, str]:
    """A visitor who wrote a line: their conversation is with the bot."""
    guest = await visitor(server, name="Sara")
    clients.append(guest)
    ack = await guest.request("message", text="where is my order?")
    await guest.expect("message", where=lambda f: f["from"] == "bot")  # the bot's answer
    return guest, ack["conversation_id"]


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """One server per backend for the tests that assert only on their own chat and tokens."""
    with served(request.param, tmp_path_factory.mktemp(request.param),
                {"root": "admin", "ana": "agent"}) as server:
        yield server


async def test_each_scope_allows_its_own_routes_and_no_others(
        shared: Server, clients: list) -> None:
    server = shared
    _, cid = await _chat(server, clients)
    with session(server) as admin:
        reader = make_token(admin, "Reporting", "read")["token"]
        writer = make_token(admin, "CRM", "write")["token"]
        owner = make_token(admin, "KB sync", "admin")["token"]
        label = admin.post("/api/labels", json={"name": "VIP", "colour": "#aa0000"}).json()
    # read: lists and reads, cannot change a thing
    listed = call(server, "GET", "/api/conversations", reader)
    assert listed.status_code == 200, listed.text
    assert cid in [c["id"] for c in listed.json()["conversations"]]
    assert call(server, "GET", f"/api/conversations/{cid}/transcript",
                reader).status_code == 200
    assert call(server, "GET", "/api/kb", reader).status_code == 200
    csv = call(server, "GET", "/admin/reports/conversations.csv", reader)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    refused = call(server, "POST", f"/api/conversations/{cid}/labels", reader,
                   json={"label_id": label["id"], "on": True})
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert 'scope="write"' in refused.headers["www-authenticate"]
    # write: changes chats, reads nothing, manages no knowledge base
    put = call(server, "POST", f"/api/conversations/{cid}/labels", writer,
               json={"label_id": label["id"], "on": True})
    assert put.status_code == 200, put.text
    assert [x["name"] for x in put.json()["labels"]] == ["VIP"]
    assert call(server, "GET", "/api/conversations", writer).status_code == 403
    entry = {"title": "Opening hours", "language": "en", "questions": ["When are you open?"],
             "answer": "9 to 5."}
    assert call(server, "POST", "/api/kb", writer, json=entry).status_code == 403
    # admin: the knowledge base; never the tokens themselves, never the pages
    made = call(server, "POST", "/api/kb", owner, json=entry)
    assert made.status_code == 201, made.text
    assert call(server, "GET", "/api/tokens", owner).status_code == 403
    assert call(server, "POST", "/api/tokens", owner,
                json={"name": "heir", "scopes": ["admin"]}).status_code == 403
    page = httpx.get(server.url + "/admin", headers=bearer(owner))
    assert page.status_code in (303, 302) and "/login" in page.headers["location"]
    # a route that takes no token: the session's routes stay the session's
    assert call(server, "GET", "/api/users", owner).status_code == 403
    # and no socket
    socket = await connect(server.ws + "/ws/agent", additional_headers=bearer(owner))
    with pytest.raises(ConnectionClosed) as closed:
        await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.reason == "log in first"
    # the author of record: the token's name in the audit log, its maker's id
    rows = sql(server.db, "SELECT username, action FROM audit_log WHERE action = "
                          "'kb.create'")
    assert rows == [("token:KB sync", "kb.create")]


async def test_a_line_from_an_integration_reaches_the_visitor_once_however_retried(
        shared: Server, clients: list) -> None:
    server = shared
    guest, cid = await _chat(server, clients)
    with session(server) as admin:
        token = make_token(admin, "Order bot", "write", "read")["token"]
    frame_id = str(uuid.uuid4())
    line = {"id": frame_id, "text": "Your order 4711 shipped today."}
    first = call(server, "POST", f"/api/conversations/{cid}/messages", token, json=line)
    assert first.status_code == 201, first.text
    seen = await guest.expect("message", where=lambda f: f["from"] == "integration")
    assert (seen["author"], seen["text"]) == ("Order bot", line["text"])
    # the answer is lost on the way; the integration retries, twice
    for _ in range(2):
        again = call(server, "POST", f"/api/conversations/{cid}/messages", token, json=line)
        assert again.status_code == 201 and again.json() == first.json()
    await guest.nothing("message", seconds=0.5)
    stored = sql(server.db, "SELECT count(*) FROM events WHERE conversation_id = ? AND "
                            "client_id = ?", (cid, frame_id))
    assert stored == [(1,)]
    # in the transcript, under the integration's name
    events = call(server, "GET", f"/api/conversations/{cid}/transcript", token).json()
    assert [e["author"] for e in events["events"] if e.get("from") == "integration"] == [
        "Order bot"]
    # a card number is masked as in an agent's line
    card = call(server, "POST", f"/api/conversations/{cid}/messages", token,
                json={"id": "card", "text": "charged to 4111 1111 1111 1111"})
    assert card.status_code == 201
    masked = await guest.expect("message", where=lambda f: f.get("id") == "card")
    assert "4111 1111 1111 1111" not in masked["text"] and masked["text"].endswith("1111")
    # close: the visitor hears it, a retry changes nothing, a new close is a conflict
    close = {"id": str(uuid.uuid4()), "resolved": True}
    closed = call(server, "POST", f"/api/conversations/{cid}/close", token, json=close)
    assert closed.status_code == 200, closed.text
    assert (await guest.expect("closed"))["by"] == "integration"
    assert call(server, "POST", f"/api/conversations/{cid}/close", token,
                json=close).json() == closed.json()
    assert call(server, "POST", f"/api/conversations/{cid}/close", token,
                json={"id": "another"}).status_code == 409
    late = call(server, "POST", f"/api/conversations/{cid}/messages", token,
                json={"id": "late", "text": "still there?"})
    assert late.status_code == 409
    got = call(server, "GET", f"/api/conversations/{cid}", token).json()
    assert (got["state"], got["resolved"]) == ("closed", True)
    assert cid not in [c["id"] for c in call(
        server, "GET", "/api/conversations?state=open", token).json()["conversations"]]


def test_revoking_takes_effect_at_once_in_every_process(tmp_path: Path, shared: Server) -> None:
    first = shared
    second = Server(tmp_path, database=str(first.db)).start()
    try:
        with session(first) as admin:
            made = make_token(admin, "Leaky", "read")
            token = made["token"]
            for server in (first, second):
                assert call(server, "GET", "/api/conversations", token).status_code == 200
            revoked = admin.delete(f"/api/tokens/{made['id']}")
            assert revoked.status_code == 200 and revoked.json()["revoked"] is True
            for server in (first, second):
                answer = call(server, "GET", "/api/conversations", token)
                assert answer.status_code == 401, answer.text
                assert answer.headers["www-authenticate"].startswith('Bearer realm="chatserver"')
            listed = [t for t in admin.get("/api/tokens").json()["tokens"]
                      if t["id"] == made["id"]]
            assert [(t["name"], t["revoked"]) for t in listed] == [("Leaky", True)]
            assert listed[0]["last_used_ms"] is not None
        actions = sql(first.db, "SELECT action, detail FROM audit_log WHERE action LIKE "
                                "'token.%' AND detail LIKE ? ORDER BY id",
                      (f"%{made['prefix']}%",))
        assert [a for a, _ in actions] == ["token.create", "token.revoke"]
        assert all(token not in detail and made["prefix"] in detail for _, detail in actions)
    finally:
        second.stop()


def test_each_token_has_its_own_rate_limit(tmp_path: Path, db_location: str) -> None:
    server = desk(tmp_path, db_location, CHATSERVER_LIMITS_API_REQUESTS_PER_MINUTE="6",
                  CHATSERVER_LIMITS_API_BURST="3")
    try:
        with session(server) as admin:
            busy = make_token(admin, "Busy", "read")["token"]
            calm = make_token(admin, "Calm", "read")["token"]
        answers = [call(server, "GET", "/api/conversations", busy) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[-1].json()["error"] == "rate_limited"
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 10
        assert call(server, "GET", "/api/conversations", calm).status_code == 200
        # the people's session is not the token's budget
        with session(server) as admin:
            assert admin.get("/api/conversations").status_code == 200
    finally:
        server.stop()


def test_the_clear_token_is_nowhere_in_the_database_or_the_log(shared: Server) -> None:
    server = shared
    with session(server) as admin:
        made = make_token(admin, "Secret keeper", "read", "write")
        token = made["token"]
        assert shape.TOKEN.fullmatch(token)
        listed = admin.get("/api/tokens").json()["tokens"]
        assert made["id"] in [t["id"] for t in listed]
        assert not [t for t in listed if "token" in t]
        assert call(server, "GET", "/api/conversations", token).status_code == 200
        # a wrong secret under the right id, sent where a log line might take it
        wrong = token[:-4] + "AAAA"
        assert call(server, "GET", "/api/conversations?x=" + token, wrong).status_code in (
            400, 401)
    token_id, secret = shape.TOKEN.fullmatch(token).groups()  # type: ignore[union-attr]
    rows = sql(server.db, "SELECT * FROM api_tokens") + sql(server.db,
                                                             "SELECT * FROM audit_log")
    assert rows and secret not in json.dumps([list(map(str, r)) for r in rows])
    stored = sql(server.db, "SELECT digest FROM api_tokens WHERE token_id = ?",
                 (token_id,))[0][0]
    assert stored == shape.digest(secret) and len(stored) == 64
    if isinstance(server.db, Path):  # every byte of the file, free pages and WAL included
        for path in server.db.parent.glob(server.db.name + "*"):
            assert secret.encode() not in path.read_bytes()
    assert secret not in server.log.read_text(errors="replace")


def test_a_token_in_a_log_line_is_masked_whatever_the_settings() -> None:
    token = shape.compose("A" * 12, "s3cr3t-" + "x" * 36)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "sent %s by mistake",
                               (token,), None)
    RedactingFilter(Redactor(cards=False, emails=False, phones=False)).filter(record)
    assert record.getMessage() == "sent cst_AAAAAAAAAAAA_[redacted] by mistake"


BAD_HEADERS = [
    ("Bearer  {token}", "two spaces"),
    ("Bearer {token} extra", "trailing words"),
    ("Bearer {token}x", "one character too many"),
    ("bearer", "the scheme alone"),
    ("Bearer cst_{pad}", "ours in shape but unknown"),
    ("Bearer " + "A" * 8000, "huge"),
]


@pytest.mark.parametrize(("template", "why"), BAD_HEADERS, ids=[w for _, w in BAD_HEADERS])
def test_bad_authorization_headers_are_a_401_with_the_challenge(
        shared_api: tuple[Server, str], template: str, why: str) -> None:
    server, token = shared_api
    header = template.format(token=token, pad="B" * 12 + "_" + "C" * 43)
    answer = httpx.get(server.url + "/api/conversations", headers={"authorization": header})
    assert answer.status_code == 401, (why, answer.text)
    assert answer.headers["www-authenticate"].startswith('Bearer realm="chatserver"')
    assert answer.json()["error"] == "unauthorized"
    assert token not in answer.text


def test_a_token_with_bytes_beyond_ascii_is_a_401(shared_api: tuple[Server, str]) -> None:
    server, token = shared_api
    for raw in (f"Bearer {token[:-1]}é".encode(), f"Bearer {token[:-1]}€".encode(),
                "Bearer ٠١٢".encode()):
        answer = httpx.get(server.url + "/api/conversations",
                           headers=[(b"authorization", raw)])
        assert answer.status_code == 401, answer.text


def test_another_scheme_leaves_the_session_to_decide(shared_api: tuple[Server, str]) -> None:
    server, _ = shared_api
    answer = httpx.get(server.url + "/api/conversations",
                       headers={"authorization": "Basic cm9vdDpwYXNz"})
    assert answer.status_code == 401 and "www-authenticate" not in answer.headers


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    server = Server(tmp_path_factory.mktemp("api"))
    add_user(server.db, "root", role="admin")
    server.start()
    with session(server) as admin:
        token = make_token(admin, "Probe", "read")["token"]
    yield server, token
    server.stop()


@pytest.mark.parametrize("query", ["agent=\u00b2", "agent=" + "9" * 25, "since=-1",
                                   "limit=\u0667", "limit=0"])
def test_a_listing_filter_that_is_not_a_number_is_a_400_naming_it(
        shared_api: tuple[Server, str], query: str) -> None:
    """`?agent=²` passed isdigit() and then failed int(): a 500 and a traceback."""
    server, token = shared_api
    answer = call(server, "GET", "/api/conversations?" + query, token)
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"].startswith(query.split("=")[0] + ":")
    assert "Traceback" not in server.log.read_text()
