"""Privacy against the real server: find, export and erase over HTTP with the audit log, the
per-address limits tripping and recovering, `chatserver purge` from the command line.

These need the lead's wiring (routes in app.py, limits in /ws/visitor and /login, audit calls in
the KB and user APIs, the purge command in cli.py). Until a piece is wired its tests are skipped
with a reason that says which, so the gap shows in every run's summary (-ra).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import chatserver
from chatserver.core.metrics_report import summarize
from chatserver.reports.reports_facts import FactsCache
from chatserver.store.sqlite import SqliteBackend

from .harness import PASSWORD, Client, Server, add_user, visitor
from .test_kb_api import NEW, Session
from .test_privacy import ADA_STRINGS, CARD_LINE, SENTENCE, ZED_EMAIL, ZED_NAME, found

pytestmark = pytest.mark.anyio

SOURCE = Path(chatserver.__file__).parent


def wired(module: str, marker: str) -> bool:
    return marker in (SOURCE / module).read_text()


needs_routes = pytest.mark.skipif(
    not wired("web/app.py", "privacy_api.routes"),
    reason="NOT WIRED: privacy_api.routes is not mounted in chatserver/web/app.py yet")
needs_limits = pytest.mark.skipif(
    not (wired("web/visitor_socket.py", "hub.abuse") and wired("web/auth.py", "hub.abuse")),
    reason="NOT WIRED: hub.abuse is not called from /ws/visitor and /login yet")
needs_audit_calls = pytest.mark.skipif(
    not (wired("web/kb_api.py", "audit.record") and wired("web/pages_api.py", "audit.record")),
    reason="NOT WIRED: kb_api.py / pages_api.py do not call audit.record yet")
needs_cli = pytest.mark.skipif(
    not wired("cli.py", "retention.command"),
    reason="NOT WIRED: `chatserver purge` is not mounted in chatserver/cli.py yet")

# What the server stores from the widget: the card is masked on the way in, so it is not here.
STORED_ZED = [ZED_NAME, ZED_EMAIL, SENTENCE, "purple giraffe", "zed-account-page",
              "123456789012", "giraffe service was fine", "call Zed back"]


@pytest.fixture
def privacy_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, CHATSERVER_SURVEY_AFTER_BOT_ONLY="true")
    add_user(srv.db, "root", role="admin")
    add_user(srv.db, "alice", role="agent")
    yield srv.start()
    srv.stop()


async def chat_as(server: Server, name: str, email: str, page: str, lines: list[str],
                  comment: str, offline: str) -> Client:
    """A visitor who chats with the bot, closes, rates with a comment, leaves a message."""
    v = await visitor(server, name=name, email=email, language="en",
                      page_url=f"https://shop.example/{page}")
    for text in lines:
        assert (await v.request("message", text=text))["type"] == "ack"
    assert (await v.request("close"))["type"] == "ack"
    assert (await v.request("survey", rating=4, nps=9, comment=comment))["type"] == "ack"
    assert (await v.request("offline_message", email=email, text=offline))["type"] == "ack"
    return v


def report_numbers(server: Server, admin: Session) -> tuple[object, ...]:
    conn = SqliteBackend(str(server.db)).read_only()
    try:
        facts = FactsCache().facts(conn, 0, 2**62)
    finally:
        conn.close()
    return (summarize(facts), admin.get("/api/reports").json(),
            admin.get("/admin/reports/conversations.csv").text)


@needs_routes
async def test_find_export_erase_over_http_with_the_audit_log(privacy_server: Server) -> None:
    server = privacy_server
    zed = await chat_as(server, ZED_NAME, ZED_EMAIL, "zed-account-page",
                        [CARD_LINE, SENTENCE], "the purple giraffe service was fine",
                        "Please call Zed back about the purple giraffe")
    ada = await chat_as(server, "Ada Lovelace", "ada@example.com", "ada-page",
                        ["Analytical engine"], "Bernoulli numbers are lovely",
                        "Analytical engine, part two")
    token = zed.welcome["visitor_token"]
    await zed.ws.close()
    await ada.ws.close()
    if wired("web/visitor_socket.py", "hub.redactor"):  # the card never reached the database
        assert found(str(server.db), ["4111 1111 1111 1111"]) == []
    assert {n for *_, n in found(str(server.db), STORED_ZED)} == {s.lower() for s in STORED_ZED}

    admin, agent = Session(server, "root"), Session(server, "alice")
    try:
        assert agent.get("/api/privacy/visitors", params={"q": ZED_EMAIL}).status_code == 403
        assert admin.get("/api/privacy/visitors", params={"q": "z"}).status_code == 400
        hits = admin.get("/api/privacy/visitors", params={"q": ZED_EMAIL.upper()}).json()
        [hit] = hits["visitors"]
        assert (hit["name"], hit["conversations"], hit["offline_messages"]) == (ZED_NAME, 1, 1)
        vid = hit["id"]
        by_token = admin.get("/api/privacy/visitors", params={"q": token}).json()["visitors"]
        assert [v["id"] for v in by_token] == [vid]
        assert [v["id"] for v in admin.get("/api/privacy/visitors",
                                           params={"q": "quimby"}).json()["visitors"]] == [vid]

        export = admin.get(f"/api/privacy/visitors/{vid}/export")
        assert export.status_code == 200
        assert "attachment" in export.headers["content-disposition"]
        text = export.text
        for needle in STORED_ZED:
            assert needle in text, needle
        for needle in ADA_STRINGS:
            assert needle not in text, needle
        assert admin.get("/api/privacy/visitors/nobody/export").status_code == 404

        before = report_numbers(server, admin)
        assert admin.send("POST", f"/api/privacy/visitors/{vid}/erase",
                          csrf=False).status_code == 403
        assert agent.send("POST", f"/api/privacy/visitors/{vid}/erase").status_code == 403
        erased = admin.send("POST", f"/api/privacy/visitors/{vid}/erase")
        assert erased.status_code == 200, erased.text
        assert erased.json()["conversations"] == 1 and erased.json()["offline_messages"] == 1

        assert found(str(server.db), STORED_ZED) == []  # every table, every column, JSON too
        assert {n for *_, n in found(str(server.db), ADA_STRINGS)} == {
            s.lower() for s in ADA_STRINGS}
        assert report_numbers(server, admin) == before

        log = admin.get("/api/audit", params={"action": "privacy."}).json()["entries"]
        assert [(e["action"], e["username"], e["target"]) for e in log] == [
            ("privacy.erase", "root", vid), ("privacy.export", "root", vid)]
        assert log[1]["detail"]["conversations"] == 1 and log[0]["address"] == "127.0.0.1"
        assert agent.get("/api/audit").status_code == 403
        assert admin.get("/api/audit", params={"since": "soon"}).status_code == 400
    finally:
        admin.close()
        agent.close()

    if wired("web/visitor_socket.py", "erased_ms"):  # the old token no longer leads to the record
        again = await visitor(server, visitor_token=token)
        assert again.welcome["visitor_token"] != token
        await again.ws.close()


@needs_routes
@needs_audit_calls
def test_kb_edits_and_user_changes_are_in_the_audit_log(privacy_server: Server) -> None:
    admin = Session(privacy_server, "root")
    try:
        entry = admin.send("POST", "/api/kb", json={**NEW, "status": "draft"}).json()
        admin.send("PUT", f"/api/kb/{entry['id']}", json={"answer": "Gate 4.", "version": 1})
        admin.send("POST", f"/api/kb/{entry['id']}/publish")
        admin.send("DELETE", f"/api/kb/{entry['id']}")
        created = admin.send("POST", "/api/users", json={
            "username": "bea", "display_name": "Bea", "role": "agent",
            "password": "a long enough password", "skills": {}, "capacity": 2})
        assert created.status_code == 201, created.text
        admin.send("PATCH", f"/api/users/{created.json()['id']}", json={"capacity": 4})
        log = admin.get("/api/audit").json()["entries"]
        assert [e["action"] for e in log] == ["user.update", "user.create", "kb.delete",
                                              "kb.publish", "kb.update", "kb.create"]
        assert {e["username"] for e in log} == {"root"}
        assert log[-1]["target"] == f"kb:{entry['id']}"
        assert [e["action"] for e in admin.get(
            "/api/audit", params={"action": "kb.", "limit": "2"}).json()["entries"]] == [
            "kb.delete", "kb.publish"]
    finally:
        admin.close()


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, CHATSERVER_ABUSE_EXEMPT_ADDRESSES="",
                 CHATSERVER_ABUSE_NEW_VISITORS_PER_IP="3",
                 CHATSERVER_ABUSE_NEW_VISITORS_PERIOD_SECONDS="3",
                 CHATSERVER_ABUSE_NEW_CONVERSATIONS_PER_IP="2",
                 CHATSERVER_ABUSE_NEW_CONVERSATIONS_PERIOD_SECONDS="2",
                 CHATSERVER_ABUSE_FAILED_LOGINS_PER_ACCOUNT="2",
                 CHATSERVER_ABUSE_FAILED_LOGINS_PER_ACCOUNT_PERIOD_SECONDS="2")
    add_user(srv.db, "root", role="admin")
    yield srv.start()
    srv.stop()


async def hello(server: Server, **fields: str) -> tuple[Client, dict[str, object]]:
    from websockets.asyncio.client import connect as ws_connect

    client = Client(await ws_connect(server.ws + "/ws/visitor"))
    await client.send({"type": "hello", **fields})
    return client, await client.expect(("welcome", "error"))


@needs_limits
async def test_new_visitors_and_conversations_per_address_trip_and_recover(
        limited_server: Server) -> None:
    server = limited_server
    opened = []
    for _ in range(3):
        client, frame = await hello(server)
        opened.append(client)
        assert frame["type"] == "welcome"
    client, refused = await hello(server)
    opened.append(client)
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    # A returning visitor (known token) is not a new session: never limited.
    client, back = await hello(server, visitor_token=str(opened[0].seen[0]["visitor_token"]))
    opened.append(client)
    assert back["type"] == "welcome"
    await asyncio.sleep(1.1)  # 3 per 3 s: one new session back each second
    client, frame = await hello(server)
    opened.append(client)
    assert frame["type"] == "welcome"

    chat = opened[-1]
    for _ in range(2):
        assert (await chat.request("message", text="hello"))["type"] == "ack"
        assert (await chat.request("close"))["type"] == "ack"
    refused = await chat.request("message", text="third chat")
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    assert "try again in" in refused["message"]
    await asyncio.sleep(1.1)  # 2 per 2 s: one back each second
    assert (await chat.request("message", text="recovered"))["type"] == "ack"
    for c in opened:
        await c.ws.close()


@needs_limits
def test_failed_logins_per_account_trip_and_recover(limited_server: Server) -> None:
    import httpx

    def login(password: str) -> httpx.Response:
        return httpx.post(limited_server.url + "/login", data={
            "username": "root", "password": password}, headers={"accept": "application/json"})

    assert login("wrong one").status_code == 401
    assert login("wrong two").status_code == 401
    throttled = login(PASSWORD)  # even the right password waits: the guesser learns nothing
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    time.sleep(1.1)
    assert login(PASSWORD).status_code == 200


@needs_cli
def test_chatserver_purge_runs_from_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "CHATSERVER_STORAGE_PATH": str(tmp_path / "chat.db"),
           "CHATSERVER_RETENTION_MESSAGE_TEXT_DAYS": "1"}
    done = subprocess.run([sys.executable, "-m", "chatserver", "purge", "--json"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message_texts"] == 0


@pytest.mark.anyio
async def test_consent_is_required_before_the_first_message_and_stored(tmp_path) -> None:
    from .harness import Server, visitor

    srv = Server(tmp_path, CHATSERVER_PRIVACY_REQUIRE_CONSENT="true",
                 CHATSERVER_PRIVACY_NOTICE_URL="https://shop.example/privacy")
    srv.start()
    try:
        sara = await visitor(srv, name="Sara", language="en")
        assert sara.welcome["consent"] == {"required": True, "given": False,
                                           "notice_url": "https://shop.example/privacy"}
        refused = await sara.request("message", text="hello")
        assert refused["type"] == "error" and refused["code"] == "forbidden"
        agreed = await sara.request("consent")
        assert agreed["type"] == "ack"
        sent = await sara.request("message", text="hello")
        assert sent["type"] == "ack" and sent["conversation_id"] == agreed["conversation_id"]
        await sara.ws.close()
        back = await visitor(srv, visitor_token=sara.welcome["visitor_token"])
        assert back.welcome["consent"]["given"] is True  # asked once, not every visit
        await back.ws.close()
        with sqlite3.connect(srv.db) as db:
            stored = db.execute("SELECT payload FROM events WHERE type = 'consent'").fetchall()
        assert [json.loads(p) for (p,) in stored] == [
            {"notice_url": "https://shop.example/privacy"}]
        with sqlite3.connect(srv.db) as db:
            texts = db.execute("SELECT count(*) FROM events WHERE type = 'message' AND "
                               "json_extract(payload, '$.from') = 'visitor'").fetchone()
        assert texts[0] == 1  # the refused "hello" was never stored: only the accepted one
    finally:
        srv.stop()
