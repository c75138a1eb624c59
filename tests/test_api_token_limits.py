"""What an API token may not do (issue 21 review): outlive its maker, replay another request
under a reused id, lose a line to another token's id, send an author name with control or
invisible characters, or reach more than the role its scope stands for."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .databases import BACKENDS
from .harness import Server, add_user, served, sql
from .test_api_tokens import _chat, call, callers, make_token, session

pytestmark = pytest.mark.anyio
__all__ = ["callers"]


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """One server per backend for the module: each test makes its own tokens, chat and users."""
    with served(request.param, tmp_path_factory.mktemp(request.param),
                {"root": "admin", "ana": "agent", "sup": "supervisor"}) as server:
        yield server


def _users(admin: httpx.Client) -> dict[str, int]:
    rows = admin.get("/api/users").json()
    rows = rows.get("users", rows) if isinstance(rows, dict) else rows
    return {u["username"]: u["id"] for u in rows}


@pytest.mark.parametrize("change", [{"disabled": True}, {"role": "agent"}],
                         ids=["disabled", "demoted"])
async def test_a_token_made_by_an_admin_who_is_later_disabled_stops_working(
        shared: Server, change: dict) -> None:
    """An admin leaves the company; another admin disables the account. The departed admin's
    sessions end at once, but an API token they made (perhaps with the admin scope, or a
    personal script token) keeps working, acting in their name as the author of record.
    A disabled (or deleted) creator's tokens should be refused (401) like their sessions; so
    should the tokens of one who is no longer an admin (only an admin may make one)."""
    server, name = shared, f"leaver-{uuid.uuid4().hex[:8]}"
    add_user(server.db, name, role="admin")
    with session(server, name) as leaver:
        token = make_token(leaver, "leaver's script", "read", "write", "admin")["token"]
    assert call(server, "GET", "/api/conversations", token).status_code == 200
    with session(server) as root:
        uid = _users(root)[name]
        done = root.patch(f"/api/users/{uid}", json=change)
        assert done.status_code == 200, done.text
    after = call(server, "GET", "/api/conversations", token)
    assert after.status_code == 401, (
        f"{change}: the creator's token still answered {after.status_code}")


async def test_close_with_an_id_used_earlier_for_a_line_really_closes(
        shared: Server, clients: list) -> None:
    """An integration numbers its requests per conversation ("1", "2", ...) but reuses a
    number across request kinds, or simply uses the ticket number as the id for both its
    note and its close. The close then answers 200 with the *message's* ack, yet the chat
    stays open: the visitor is never told, the integration believes it closed. The client id
    replay must only replay the same kind of request (or refuse the clash with 409/422)."""
    server = shared
    _, cid = await _chat(server, clients)
    with session(server) as admin:
        token = make_token(admin, "Helpdesk", "write", "read")["token"]
    line = call(server, "POST", f"/api/conversations/{cid}/messages", token,
                json={"id": "ticket-42", "text": "Ticket 42 opened for you."})
    assert line.status_code == 201, line.text
    closed = call(server, "POST", f"/api/conversations/{cid}/close", token,
                  json={"id": "ticket-42", "resolved": True})
    state = call(server, "GET", f"/api/conversations/{cid}", token).json()["state"]
    assert closed.status_code != 200 or state == "closed", (
        f"close answered {closed.status_code} {closed.json()} but the state is {state}")
    assert closed.status_code == 409 and "ticket-42" in closed.json()["message"]
    # with an id of its own the close goes through, and its retry is answered alike
    again = {"id": "ticket-42-close", "resolved": True}
    first = call(server, "POST", f"/api/conversations/{cid}/close", token, json=again)
    assert first.status_code == 200, first.text
    assert call(server, "POST", f"/api/conversations/{cid}/close", token,
                json=again).json() == first.json()
    assert call(server, "GET", f"/api/conversations/{cid}", token).json()[
        "state"] == "closed"


async def test_two_integrations_using_the_same_client_id_both_reach_the_visitor(
        shared: Server, clients: list) -> None:
    """Two independent integrations (a CRM and a shipping bot, each its own token) both use
    simple ids such as "1". The second one's line is answered 201 with the FIRST one's ack
    and never stored nor shown: a silently lost message. The idempotency key must be scoped
    to the token (or the clash refused), not shared by every caller of the conversation."""
    server = shared
    _, cid = await _chat(server, clients)
    with session(server) as admin:
        crm = make_token(admin, "CRM", "write")["token"]
        ship = make_token(admin, "Shipping", "write")["token"]
    a = call(server, "POST", f"/api/conversations/{cid}/messages", crm,
             json={"id": "1", "text": "Your account is verified."})
    b = call(server, "POST", f"/api/conversations/{cid}/messages", ship,
             json={"id": "1", "text": "Shipment ZX-99177 left the warehouse."})
    assert a.status_code == 201 and b.status_code in (201, 409, 422), b.text
    stored = sql(server.db, "SELECT count(*) FROM events WHERE conversation_id = ? AND "
                            "payload LIKE '%ZX-99177%'", (cid,))
    assert b.status_code != 201 or stored == [(1,)], (
        f"second integration got 201 {b.json()} (first's ack {a.json()}) but its line "
        "was never stored")


async def test_a_retry_with_a_different_text_is_not_silently_dropped(
        shared: Server, clients: list) -> None:
    """An integration reuses an id with a different text (a bug, or a new message under an
    old counter after a restart). It gets 201 and the ack of the old line; the new text is
    lost without any sign. A reused id with a different body should be refused (409/422)."""
    server = shared
    _, cid = await _chat(server, clients)
    with session(server) as admin:
        token = make_token(admin, "CRM", "write")["token"]
    first = call(server, "POST", f"/api/conversations/{cid}/messages", token,
                 json={"id": "n1", "text": "Refund approved."})
    assert first.status_code == 201
    other = call(server, "POST", f"/api/conversations/{cid}/messages", token,
                 json={"id": "n1", "text": "Sorry: refund REJECTED, see e-mail."})
    assert other.status_code in (409, 422), (
        f"different body under a used id answered {other.status_code} {other.json()}")


@pytest.mark.parametrize("author", ["Support\u202e nimdA", "Line\none", "\u200b"])
async def test_an_author_with_control_or_invisible_characters_is_refused(
        shared: Server, clients: list, author: str) -> None:
    """The `author` a token sends is shown to the visitor as the sender's name (widget
    view.js `.who`). NUL and other C0 controls are refused by json_body, but a newline, a
    bidi override (U+202E: the name renders reversed and its text after it flips, so an
    integration can spoof another sender's name) and an invisible-only name (U+200B, which
    strip() keeps) are accepted (201) and shown to the visitor. They should be a 400 naming
    `author`."""
    server = shared
    _, cid = await _chat(server, clients)
    with session(server) as admin:
        token = make_token(admin, "CRM", "write")["token"]
    answer = call(server, "POST", f"/api/conversations/{cid}/messages", token,
                  json={"id": "a1", "text": "hello", "author": author})
    assert answer.status_code == 400, (answer.status_code, answer.text[:200])
    assert "Traceback" not in server.log.read_text()


async def test_a_read_token_cannot_reach_what_only_an_admin_session_may_read(
        shared: Server) -> None:
    """A knowledge base entry's version history (every earlier draft and its editors) is
    admin-only for people: a supervisor's session gets 403. A `read` token - the kind given
    to a reporting vendor - gets it (200): bearer.authenticate returns before auth.require's
    role check, so a route's role limit is ignored for every token. A token should never
    reach more than the role its scope stands for (read/write: a supervisor's)."""
    server = shared
    with session(server) as admin:
        made = admin.post("/api/kb", json={"title": "Refunds", "language": "en",
                                           "questions": ["refund?"],
                                           "answer": "Internal draft: 30 days."})
        assert made.status_code == 201, made.text
        entry = made.json()["id"]
        token = make_token(admin, "Reporting vendor", "read")["token"]
    with session(server, "sup") as sup:
        assert sup.get(f"/api/kb/{entry}/history").status_code == 403
    by_token = call(server, "GET", f"/api/kb/{entry}/history", token)
    assert by_token.status_code == 403, (by_token.status_code, by_token.text[:200])


SCOPE_ROLE = {"read": "sup", "write": "sup", "admin": "root"}  # the session each scope matches
NOT_WALKED = ("/api/visitor/", "/api/attachments/")  # the widget's: a visitor token decides


def test_no_route_gives_a_token_more_than_a_session_of_its_scopes_role(tmp_path: Path) -> None:
    """Every route of the API, each called by a token of one scope and by a session of the
    role that scope stands for (read, write: a supervisor; admin: an admin), with ids that
    match nothing and an empty body: wherever the session is refused (401/403), so is the
    token (but on the routes made for tokens alone: an integration's line and close)."""
    server = Server(tmp_path)
    add_user(server.db, "root", role="admin")
    add_user(server.db, "sup", role="supervisor")
    server.start()
    try:
        with session(server) as admin:
            tokens = {s: make_token(admin, f"only {s}", s)["token"] for s in SCOPE_ROLE}
            paths = admin.get("/api/openapi.json").json()["paths"]
        walked, more = 0, []
        with session(server, "sup") as sup, session(server) as root:
            people = {"sup": sup, "root": root}
            for template, operations in sorted(paths.items()):
                if not template.startswith("/api/") or template.startswith(NOT_WALKED):
                    continue
                path = template
                for param in [p for p in template.split("/") if p.startswith("{")]:
                    path = path.replace(param, "999999" if "id" in param else "nope", 1)
                for method in operations:
                    if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                        continue
                    body = {} if method.upper() != "GET" else None
                    for scope, who in SCOPE_ROLE.items():
                        mine = people[who].request(method.upper(), path, json=body)
                        theirs = call(server, method.upper(), path, tokens[scope], json=body)
                        walked += 1
                        token_only = "takes an API token" in mine.text  # staff: the console
                        if mine.status_code in (401, 403) and not token_only and (
                                theirs.status_code not in (401, 403)):
                            more.append((method, template, scope, mine.status_code,
                                         theirs.status_code))
        assert walked > 30
        assert more == [], more
    finally:
        server.stop()


@pytest.mark.parametrize("name", ["Support\u202e nimdA", "\u200b", "\u200f\u200e", "\u202bName"])
def test_a_token_name_is_held_to_the_authors_rule(name: str) -> None:
    """A token's name is the author its lines show by default: the same rule applies."""
    from chatserver.core import api_tokens
    with pytest.raises(api_tokens.TokenFieldError) as refused:
        api_tokens.clean_name(name)
    assert refused.value.field == "name"
    assert api_tokens.clean_name("  Order\n system ") == "Order system"
    assert api_tokens.clean_name("سامانهٔ سفارش\u200cها") == "سامانهٔ سفارش\u200cها"
